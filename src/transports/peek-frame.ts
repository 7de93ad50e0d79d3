/**
 * What kind of frame an outgoing text is, read from its first bytes: transports
 * that route frames by kind (NATS subjects, HTTP requests) use it instead of
 * parsing every frame again.
 */

const REQUEST_PREFIX = '{"jsonrpc":"2.0","id":"';
const CANCEL_PREFIX = '{"jsonrpc":"2.0","method":"$/cancelRequest"';
const NOTIFY_PREFIX = '{"jsonrpc":"2.0","method":';
const RESPONSE_PREFIX = '{"jsonrpc":"2.0","id":';
/** Characters a reply-subject token may hold (nanoid's alphabet). */
const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * What an outgoing frame is, read from its first bytes instead of parsing it:
 * the frames come from our own encoder, which writes `jsonrpc`, `id` (when
 * any), then `method`/`result`/`error`, in that order. Anything else goes to
 * the service subject as is.
 */
export function peekFrame(
  text: string,
): { kind: 'request'; token: string | undefined } | { kind: 'cancel' | 'notification' | 'response' | 'other' } {
  if (text.startsWith(REQUEST_PREFIX)) {
    const end = text.indexOf('"', REQUEST_PREFIX.length);
    if (end > 0 && text.startsWith('","method":', end)) {
      const id = text.slice(REQUEST_PREFIX.length, end);
      return { kind: 'request', token: TOKEN.test(id) ? id : undefined };
    }
  }
  // A lone notice, or a batch of them (the cancels of one tick): every responder hears the cancel subject.
  if (text.startsWith(CANCEL_PREFIX) || text.startsWith(`[${CANCEL_PREFIX}`)) return { kind: 'cancel' };
  if (text.startsWith(NOTIFY_PREFIX)) return { kind: 'notification' };
  if (text.startsWith(RESPONSE_PREFIX)) {
    // A numeric id (or a string id with escapes): a request all the same when `method` follows the id.
    const comma = text.indexOf(',', RESPONSE_PREFIX.length);
    return comma > 0 && text.startsWith('"method":', comma + 1) ? { kind: 'request', token: undefined } : { kind: 'response' };
  }
  return { kind: 'other' };
}

/** The method an outgoing notification or request names, read by parsing it (for its errors only), or ''. */
export function methodOf(text: string): string {
  try {
    const method = (JSON.parse(text) as { method?: unknown } | null)?.method;
    return typeof method === 'string' ? method : '';
  } catch {
    return '';
  }
}
