/**
 * Why a handler's `ctx.signal` aborted, as its `reason`: an `AbortError` DOMException (what a bare
 * `controller.abort()` gives, and what the docs promise) whose message says which of the three it was. The same
 * words on every transport; a handler's own deadline aborts with a `TimeoutError` instead (handler-deadline.ts).
 */

/** The caller sent `$/cancelRequest` for the call (an aborted signal or a timeout on its side). */
export function cancelledByCaller(): DOMException {
  return new DOMException('cancelled by the caller ($/cancelRequest)', 'AbortError');
}

/** The connection the call came on closed (the caller went away, or the link to nats-server was lost). */
export function connectionClosed(): DOMException {
  return new DOMException('the connection closed', 'AbortError');
}

/** The server is closing (`close()`, after its drain window) and aborts what still runs. */
export function serverIsClosing(): DOMException {
  return new DOMException('the server is closing', 'AbortError');
}
