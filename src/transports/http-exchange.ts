/**
 * One POST's exchange with `fetch`, for the HTTP client (http.ts): what it asks
 * (no redirects, its headers), and what it reads back (an answer's body within a
 * byte limit, why a POST failed, in words).
 */

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

/** What undici's fetch names as the cause of a refused redirect (http.ts asks for `redirect: 'error'`). */
const UNEXPECTED_REDIRECT = 'unexpected redirect';

/**
 * The body as text, or undefined when it is longer than `limit` bytes as read (decoded: after fetch
 * inflated a gzip or deflate body), or as its Content-Length says (a body sent as is: then none of it is
 * read); `truncate` keeps the first `limit` characters instead. Rejects when
 * the body fails to arrive (the connection lost, the read aborted, a body its encoding does not decode).
 */
export async function readText(response: Response, limit: number, truncate: boolean): Promise<string | undefined> {
  // Content-Length counts the bytes on the wire: the bytes read only when nothing decodes them.
  const declared = response.headers.get('content-length');
  const encoding = response.headers.get('content-encoding');
  const plain = encoding === null || encoding.trim().toLowerCase() === 'identity';
  if (plain && declared !== null) {
    if (Number(declared) <= limit) return await response.text();
    // Longer than the limit, by its own account: none of it is read (an error answer's first KB still is).
    if (!truncate) {
      void response.body?.cancel().catch(() => {});
      return undefined;
    }
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    length += value.byteLength;
    if (length > limit) {
      void reader.cancel().catch(() => {});
      return truncate ? (text + decoder.decode(value)).slice(0, limit) : undefined;
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** A fetch failure's reason: undici's `TypeError('fetch failed')` holds the real one as its cause. */
export function describeCause(cause: unknown): string {
  const inner = (cause as { cause?: unknown } | null)?.cause;
  const shown = inner instanceof Error ? inner : cause;
  const message = shown instanceof Error ? shown.message : String(shown);
  return message === UNEXPECTED_REDIRECT
    ? 'the server answered with a redirect (HTTP 301, 302, 303, 307 or 308), which the client does not follow: connect to the final URL'
    : message;
}
