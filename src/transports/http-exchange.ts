/**
 * One POST's exchange with `fetch`, for the HTTP client (http.ts): what it asks
 * (no redirects, its headers), and what it reads back (an answer's body within a
 * byte limit, why a POST failed, in words).
 */
import { notUtf8 } from './transport.js';

/**
 * A redirect is not followed: it fails the call. Following one would send the call again elsewhere, with
 * the user's headers (a 307 or 308), or turn it into a GET that drops it (a 301, 302 or 303). No window and
 * `redirect: 'error'` also spare undici a copy of every request (its body stream teed), about a sixth of a
 * POST's client CPU in Node.
 */
export const NO_REDIRECTS = { redirect: 'error', window: null } as const;

/** The headers the transport sets itself, by lowercase name: the body is always JSON, and so is the answer it reads. */
const OWN_HEADERS = new Set(['content-type', 'accept']);

/**
 * The user's headers without those the transport sets: names are case-insensitive, and fetch joins two
 * spellings of one name into one value ("application/json-rpc, application/json"), which no server reads as JSON.
 */
export function withoutOwnHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !OWN_HEADERS.has(name.toLowerCase())));
}

/**
 * Headers `fetch` refuses on every request, drops (Host), or that no fixed value can hold (the length of each
 * POST's body), by lowercase name, with why. Given in `options.headers`, each made every call fail with `HttpError` as it was
 * sent (`POST … failed: invalid transfer-encoding header`), so they are refused by `connect()` instead.
 */
const REFUSED_HEADERS: Record<string, string> = {
  'content-length': "it is set from each POST's body",
  'transfer-encoding': 'fetch sets it itself and refuses it',
  'keep-alive': 'fetch refuses connection-level headers',
  upgrade: 'fetch refuses connection-level headers',
  expect: 'fetch does not support Expect',
  // Not refused by fetch: dropped, silently, for the URL's host (the same header goes with a ws:// upgrade request).
  host: 'fetch sets it from the URL and drops any other: put that host in the URL',
};

/** `Connection` values fetch takes; it refuses any other. */
const CONNECTION_VALUES = new Set(['close', 'keep-alive']);

/** Why a header of `headers` cannot go with a POST (see REFUSED_HEADERS), naming it, or undefined when all can. */
export function refusedHeader(headers: Record<string, string>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    const why = Object.hasOwn(REFUSED_HEADERS, lower)
      ? REFUSED_HEADERS[lower]
      : lower === 'connection' && !CONNECTION_VALUES.has(value.trim().toLowerCase())
        ? 'fetch takes only close or keep-alive'
        : undefined;
    if (why !== undefined) return `${JSON.stringify(name)} cannot be sent over HTTP (${why})`;
  }
  return undefined;
}

/** What undici's fetch names as the cause of a refused redirect (http.ts asks for `redirect: 'error'`). */
const UNEXPECTED_REDIRECT = 'unexpected redirect';

/**
 * The body as text, or undefined when it is longer than `limit` bytes as read (decoded: after fetch
 * inflated a gzip or deflate body), or as its Content-Length says (a body sent as is: then none of it is
 * read); `truncate` keeps the first `limit` characters instead (an error answer's, shown as it is). Rejects when
 * the body fails to arrive (the connection lost, the read aborted, a body its encoding does not decode), or, unless
 * `truncate`, when it is not UTF-8: read anyway, each byte that is not would be U+FFFD in the result the call gets.
 */
export async function readText(response: Response, limit: number, truncate: boolean): Promise<string | undefined> {
  // A byte order mark kept: decode() skips one, as over every transport (TextDecoder's own skip made two read).
  const decoder = new TextDecoder('utf-8', { fatal: !truncate, ignoreBOM: true });
  const decode = (bytes?: Uint8Array | ArrayBuffer, stream = false): string => {
    try {
      return decoder.decode(bytes, { stream });
    } catch {
      throw new Error(notUtf8('the body'));
    }
  };
  // Content-Length counts the bytes on the wire: the bytes read only when nothing decodes them.
  const declared = response.headers.get('content-length');
  const encoding = response.headers.get('content-encoding');
  const plain = encoding === null || encoding.trim().toLowerCase() === 'identity';
  if (plain && declared !== null) {
    if (Number(declared) <= limit) return decode(await response.arrayBuffer());
    // Longer than the limit, by its own account: none of it is read (an error answer's first KB still is).
    if (!truncate) {
      void response.body?.cancel().catch(() => {});
      return undefined;
    }
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  let text = '';
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decode();
    length += value.byteLength;
    if (length > limit) {
      void reader.cancel().catch(() => {});
      return truncate ? (text + decode(value)).slice(0, limit) : undefined;
    }
    try {
      text += decode(value, true);
    } catch (error) {
      // The rest is not read: the connection is let go, not left holding an answer nobody reads.
      void reader.cancel().catch(() => {});
      throw error;
    }
  }
}

/**
 * The codes of the TLS errors an https:// URL gets from a server that answers in plain HTTP (OpenSSL reads its
 * answer as a TLS record): OpenSSL's message ("…:SSL routines:ssl3_get_record:wrong version number:…") names neither.
 */
const NOT_TLS = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);

/** A fetch failure's reason: undici's `TypeError('fetch failed')` holds the real one as its cause. */
export function describeCause(cause: unknown): string {
  const inner = (cause as { cause?: unknown } | null)?.cause;
  const shown = inner instanceof Error ? inner : cause;
  const message = shown instanceof Error ? shown.message : String(shown);
  if (NOT_TLS.has((shown as { code?: unknown } | null)?.code as string)) {
    return `the server does not answer in TLS (an http:// server? then connect with an http:// URL): ${message.trim()}`;
  }
  return message === UNEXPECTED_REDIRECT
    ? 'the server answered with a redirect (HTTP 301, 302, 303, 307 or 308), which the client does not follow: connect to the final URL'
    : message;
}
