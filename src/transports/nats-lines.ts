/**
 * nats-server's limit on a protocol line: the arguments of a `PUB`, `HPUB` or `SUB` line (what follows the
 * operation, up to the CRLF) may be at most `max_control_line` bytes, 4,096 by default (measured with nats-server
 * 2.9: 4,096 pass, 4,097 are refused). Past it nats-server answers `-ERR 'maximum control line exceeded'` and
 * closes the connection, which nats.js reported only as `write ECONNRESET`, every call failing with it. The subjects
 * that go into those lines are options: too long ones are refused up front, with the limit named.
 *
 *   request:  HPUB <subject> <inboxPrefix>.<nuid>.<call id>~<ms> <header bytes> <total bytes>
 *   queue:    SUB <subject> <queue> <sid>
 *
 * nats-server's max_control_line can be raised; the INFO it sends does not say, so the default is what is checked.
 */

/** nats-server's default `max_control_line`, in bytes. */
export const MAX_CONTROL_LINE = 4_096;

/** nats.js's inbox prefix when `inboxPrefix` is not given. */
const DEFAULT_INBOX_PREFIX = '_INBOX';

/**
 * What a request's line holds besides its subject and the inbox prefix, at most: a space, '.', the 22 characters of
 * nats.js's unique inbox token (a NUID), '.', a 21-character call id, '~', the ms left (at most 2^31 - 1: 10 digits),
 * a space, and the header and total lengths with a space between (max_payload is at most 64 MiB: 8 digits each).
 */
const REQUEST_LINE_REST = 1 + 1 + 22 + 1 + 21 + 1 + 10 + 1 + 8 + 1 + 8;

/** The most bytes a client's `subject` and `inboxPrefix` may have together. */
export const MAX_CLIENT_SUBJECTS = MAX_CONTROL_LINE - REQUEST_LINE_REST;

/** The longest subject a responder may serve on: a callstate client with the default inbox prefix can call it. */
export const MAX_SERVED_SUBJECT = MAX_CLIENT_SUBJECTS - DEFAULT_INBOX_PREFIX.length;

/** What the queue subscription's line holds besides the subject and the queue: two spaces and a subscription id (10 digits at most). */
const SUB_LINE_REST = 1 + 1 + 10;

/** The most bytes a responder's `subject` and `queue` may have together. */
export const MAX_SUBJECT_AND_QUEUE = MAX_CONTROL_LINE - SUB_LINE_REST;

const LIMIT = `nats-server's max_control_line (${MAX_CONTROL_LINE} bytes by default), past which it closes the connection`;

/** Refuses (TypeError) a client's `subject` and `inboxPrefix` that would make its requests' lines too long. */
export function checkClientLines(subject: string, inboxPrefix: string | undefined): void {
  const bytes = Buffer.byteLength(subject) + Buffer.byteLength(inboxPrefix ?? DEFAULT_INBOX_PREFIX);
  if (bytes <= MAX_CLIENT_SUBJECTS) return;
  const prefix = inboxPrefix === undefined ? `options.inboxPrefix (default "${DEFAULT_INBOX_PREFIX}")` : 'options.inboxPrefix';
  throw new TypeError(
    `options.subject and ${prefix} are ${bytes} bytes long together, more than ${MAX_CLIENT_SUBJECTS}: with the rest of a ` +
      `request's reply subject (the inbox's unique token, the call id and its timeout) and its lengths, the request's ` +
      `control line would pass ${LIMIT}`,
  );
}

/** Refuses (TypeError) a responder's `subject` and `queue` that callers could not reach, or that its subscription's line could not carry. */
export function checkResponderLines(subject: string, queue: string): void {
  const bytes = Buffer.byteLength(subject);
  if (bytes > MAX_SERVED_SUBJECT)
    throw new TypeError(
      `options.subject is ${bytes} bytes long, more than ${MAX_SERVED_SUBJECT}: a request of callstate's client to it ` +
        `(its inbox prefix "${DEFAULT_INBOX_PREFIX}", the call id and its timeout in the reply subject) would pass ${LIMIT}`,
    );
  const both = bytes + Buffer.byteLength(queue);
  if (both > MAX_SUBJECT_AND_QUEUE)
    throw new TypeError(
      `options.subject and options.queue are ${both} bytes long together, more than ${MAX_SUBJECT_AND_QUEUE}: the queue ` +
        `subscription's control line (SUB <subject> <queue> <id>) would pass ${LIMIT}`,
    );
}
