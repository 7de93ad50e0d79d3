/**
 * The responder's link to nats-server (`serve({ nats, subject })`): a
 * queue-group subscription to the service subject, one to its cancel subject,
 * and replies to each caller's inbox. The NATS client is loaded as in nats.ts
 * (see its subjects diagram).
 */
import type { Msg, Subscription } from '@nats-io/transport-node';
import { isUtf8 } from 'node:buffer';
import { cancelSubject, loadNats, natsConnectTarget, payloadText } from './nats.js';
import { notUtf8 } from './transport.js';

/** Why a message cannot be taken as it came: which part of it, and in words. */
export interface Unreadable {
  part: 'headers' | 'text';
  detail: string;
}

export interface NatsResponderOptions {
  url: string;
  subject: string;
  queue: string;
  /** A request or notification published to the subject; `reply` is where its answer goes, `headers` what the caller sent (names in lower case). */
  onMessage: (text: string, reply: string | undefined, headers: Record<string, string>) => void;
  /** A `$/cancelRequest` published by any client of the subject. */
  /** `reply`: the cancel's reply subject, which names its caller as a request's does (nothing is sent to it). */
  onCancel: (text: string, reply: string | undefined, headers: Record<string, string>) => void;
  /**
   * A request, notification or cancel that cannot be taken as it came (`problem` says why): its NATS headers cannot
   * be read (who sent it is unknown: `headers`), or its bytes are not UTF-8 (`text`).
   */
  onUnreadable: (text: string, reply: string | undefined, problem: Unreadable) => void;
  /** The connection to nats-server closed, with the error that closed it if any. */
  onClosed: (error: Error | undefined) => void;
  /**
   * nats-server refused a message the responder published (`-ERR 'Permissions Violation for Publish to "…"'`: a user
   * without the right to publish to that caller's reply subject), which nats.js only reports: the answer is lost.
   */
  onRefusedPublish: (subject: string, error: Error) => void;
}

/** A responder's NATS connection: a queue-group subscription to the subject, and replies. */
export interface NatsResponderLink {
  /**
   * Publishes a reply (dropped once the connection is closed). Returns the error that kept it from being
   * published (larger than nats-server's max_payload), so that the caller can be answered something smaller.
   */
  reply(subject: string, text: string): Error | undefined;
  /**
   * Stops taking requests; messages already delivered are still handled. Gives up when `timeUp` resolves first:
   * resolves true once nats-server confirmed it, false when it gave up.
   */
  stopReceiving(timeUp: Promise<void>): Promise<boolean>;
  /** Flushes replies and closes the connection; once `timeUp` resolves (at once when it has), closes it without flushing. */
  close(timeUp: Promise<void>): Promise<void>;
}

/**
 * nats-server ended or refused one of the responder's subscriptions, keeping its connection (`-ERR 'Permissions
 * Violation for Subscription to …'`, a user without the right to subscribe there; `maximum subscriptions exceeded`).
 * listenNats rejects with it, or the connection is closed with it once running.
 */
export class NatsSubscriptionError extends Error {}

/** Connects a responder and subscribes it to `subject` in queue group `queue`. */
export async function listenNats(options: NatsResponderOptions): Promise<NatsResponderLink> {
  const nats = await loadNats();
  const nc = await nats.connect({ ...natsConnectTarget(options.url), reconnect: false, name: `callstate responder ${options.queue}` });
  const encoder = new TextEncoder();
  /**
   * nats.js closes a subscription nats-server refused and keeps the connection: a responder without its requests
   * would look up and answer nothing (its callers timing out, or told no one listens), one without its cancels would
   * run cancelled calls to the end. Its connection is closed instead, saying why.
   */
  let failure: NatsSubscriptionError | undefined;
  const unsubscribed = (what: string, error: Error) => {
    if (failure || nc.isClosed()) return;
    failure = new NatsSubscriptionError(`nats-server ended the responder's subscription to ${what}: ${error.message}`, { cause: error });
    void nc.close();
  };
  /**
   * What nats-server answered with `-ERR` while the subscriptions were made: one it refuses for a limit (`maximum
   * subscriptions exceeded`, the server's or the account's `max_subscriptions`) is only reported by nats.js, which
   * keeps the subscription as if made. The responder would run without its requests, or without its cancels (its
   * cancelled calls running to the end): serve() is refused instead.
   */
  const refusals: Error[] = [];
  let subscribing = true;
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type !== 'error') continue;
      const error = status.error as Error & { operation?: string; subject?: string };
      if (subscribing) refusals.push(error);
      else if (error.name === 'PermissionViolationError' && error.operation === 'publish')
        options.onRefusedPublish(error.subject ?? '', error);
    }
  })();
  const requests: Subscription = nc.subscribe(options.subject, {
    queue: options.queue,
    callback: (error, msg) => {
      if (error) return unsubscribed(`"${options.subject}" (queue group "${options.queue}")`, error);
      const read = readable(msg);
      if ('problem' in read) options.onUnreadable(payloadText(msg), msg.reply || undefined, read.problem);
      else options.onMessage(payloadText(msg), msg.reply || undefined, read.headers);
    },
  });
  const cancels = nc.subscribe(cancelSubject(options.subject), {
    callback: (error, msg) => {
      if (error) return unsubscribed(`"${cancelSubject(options.subject)}", where calls are cancelled`, error);
      const read = readable(msg);
      if ('problem' in read) options.onUnreadable(payloadText(msg), undefined, read.problem);
      else options.onCancel(payloadText(msg), msg.reply || undefined, read.headers);
    },
  });
  void nc.closed().then((error) => options.onClosed(error || failure));
  // The subscriptions are registered: requests sent from now on reach this responder. nats.js never settles a flush
  // whose connection closes first (a refused subscription closes it, or nats-server goes): that ends the wait too.
  const closedEarly = await Promise.race([
    nc.flush().then(() => undefined),
    nc.closed().then((error) => error ?? new Error('nats-server closed the connection while the responder subscribed')),
  ]);
  // nats-server answers a subscription it refuses before the flush's PONG; nats.js hands its status on in microtasks.
  await new Promise((resolve) => setImmediate(resolve));
  subscribing = false;
  if (!failure && refusals.length > 0) {
    failure = new NatsSubscriptionError(
      `nats-server refused the responder's subscriptions to "${options.subject}" (queue group "${options.queue}") and "${cancelSubject(options.subject)}": ${refusals.map((error) => error.message).join('; ')}`,
      { cause: refusals[0] },
    );
    void nc.close();
  }
  if (failure) {
    await nc.closed();
    throw failure;
  }
  if (closedEarly) throw closedEarly;
  return {
    reply: (subject, text) => {
      if (nc.isClosed()) return undefined;
      try {
        nc.publish(subject, encoder.encode(text));
        return undefined;
      } catch (error) {
        // Closing meanwhile: nothing can be published, and the caller's call times out, as with a lost reply.
        if (nc.isClosed()) return undefined;
        return error instanceof Error ? error : new Error(String(error));
      }
    },
    // A drain waits on nats-server; one that is gone (or a connection that has not noticed yet) must not hold close() forever.
    stopReceiving: async (timeUp) => {
      if (nc.isClosed() || requests.isClosed()) return true;
      return Promise.race([
        requests.drain().then(
          () => true,
          () => false,
        ),
        nc.closed().then(() => true),
        timeUp.then(() => false),
      ]);
    },
    close: async (timeUp) => {
      if (nc.isClosed()) return;
      cancels.unsubscribe();
      const drained = await Promise.race([
        nc.drain().then(
          () => true,
          () => false,
        ),
        nc.closed().then(() => true),
        timeUp.then(() => false),
      ]);
      if (!drained) await nc.close().catch(() => {});
    },
  };
}

/**
 * A message's headers (see headersOf), or why it cannot be taken as it came. Its text must be UTF-8 (JSON text is,
 * RFC 8259), as a WebSocket text frame must: read as it is, each byte that is not became U+FFFD in the params a
 * handler was given, the call answered as if the caller had sent that.
 */
function readable(msg: Msg): { headers: Record<string, string> } | { problem: Unreadable } {
  const headers = headersOf(msg);
  if (headers instanceof Error)
    return { problem: { part: 'headers', detail: `the NATS headers of the message could not be read: ${headers.message}` } };
  if (!isUtf8(msg.data)) return { problem: { part: 'text', detail: notUtf8('the message') } };
  return { headers };
}

/**
 * A message's NATS headers as a plain object, names in lower case (as Node gives HTTP headers), or why they cannot be
 * read. nats.js parses them when first asked and throws on a name it rejects (one with a space), which nats-server
 * carries from any publisher: thrown from a subscription's callback, it would end the connection's reader, and
 * nothing more would be received on a connection that still looks open.
 */
function headersOf(msg: Msg): Record<string, string> | Error {
  const headers: Record<string, string> = {};
  try {
    if (msg.headers) for (const name of msg.headers.keys()) headers[name.toLowerCase()] = msg.headers.get(name);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
  return headers;
}
