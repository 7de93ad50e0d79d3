/**
 * Every error callstate produces is a `CallstateError` with a stable `name` and
 * `code`. The remote peer's error (`RemoteError`, with the JSON-RPC numeric code)
 * stays distinct from local ones.
 */

export class CallstateError extends Error {
  override name = 'CallstateError';
  /** Stable machine-readable code, for example `ERR_CALL_TIMEOUT`. */
  readonly code: string | number;

  constructor(message: string, code: string | number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/**
 * A call got no response within its timeout. `unsent`, when given, says why the call was still waiting in `queued`,
 * never written: the message says so, as no server was slow to answer it. `lost`: a `retry` call written on a
 * connection since lost, waiting to be written again (the server may have run it: the message must not say it never had it).
 */
export class TimeoutError extends CallstateError {
  override readonly name = 'TimeoutError';
  declare readonly code: 'ERR_CALL_TIMEOUT';
  constructor(
    readonly method: string,
    readonly id: string,
    readonly timeout: number,
    unsent?: string,
    lost = false,
  ) {
    const sent = lost ? 'sent on a connection since lost (the server may have run it) and not sent again' : 'not sent';
    const why = unsent === undefined ? '' : `: it was ${sent}, still waiting in queued (${unsent})`;
    super(`call "${method}" (id ${id}) got no response within ${timeout} ms${why}`, 'ERR_CALL_TIMEOUT');
  }
}

/** The connection closed, failed to open, or was closed by the caller, before the call settled. */
export class ConnectionClosedError extends CallstateError {
  override readonly name = 'ConnectionClosedError';
  declare readonly code: 'ERR_CONNECTION_CLOSED';
  /** WebSocket close code, when the socket closed (1006: closed without a close frame). */
  readonly closeCode: number | undefined;
  /** WebSocket close reason, when the peer gave one. */
  readonly closeReason: string;

  constructor(message: string, details: { closeCode?: number; closeReason?: string; cause?: unknown } = {}) {
    super(message, 'ERR_CONNECTION_CLOSED', details.cause === undefined ? undefined : { cause: details.cause });
    this.closeCode = details.closeCode;
    this.closeReason = details.closeReason ?? '';
  }
}

/** The remote peer answered with a JSON-RPC error object. */
export class RemoteError extends CallstateError {
  override readonly name = 'RemoteError';
  declare readonly code: number;
  /** The error object's optional `data` member. */
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message, code);
    this.data = data;
  }
}

/** The call was aborted through its `signal` and the signal carried no reason of its own. */
export class AbortError extends CallstateError {
  override readonly name = 'AbortError';
  declare readonly code: 'ERR_CALL_ABORTED';
  constructor(message = 'the call was aborted') {
    super(message, 'ERR_CALL_ABORTED');
  }
}

/** A frame could not be encoded, or the peer broke the protocol. */
export class ProtocolError extends CallstateError {
  override readonly name = 'ProtocolError';
  declare readonly code: 'ERR_PROTOCOL';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_PROTOCOL', options);
  }
}

/**
 * NATS answered a request with its 503 status: nothing subscribes to the
 * subject, so the call fails at once instead of waiting for its timeout.
 */
export class NoRespondersError extends CallstateError {
  override readonly name = 'NoRespondersError';
  declare readonly code: 'ERR_NO_RESPONDERS';
  constructor(
    readonly method: string,
    readonly subject: string,
  ) {
    super(`call "${method}": no responders on NATS subject "${subject}"`, 'ERR_NO_RESPONDERS');
  }
}

/** The operation exists over WebSocket but has no meaning over this transport (see docs/nats.md and docs/http.md). */
export class NotSupportedError extends CallstateError {
  override readonly name = 'NotSupportedError';
  declare readonly code: 'ERR_NOT_SUPPORTED';
  constructor(message: string) {
    super(message, 'ERR_NOT_SUPPORTED');
  }
}

/**
 * An HTTP client's call got no JSON-RPC answer: the server answered with an HTTP
 * error status (401, 403, 413, 5xx…), with a body that holds no answer to the
 * call (not JSON, another id, too large), or with a redirect (which is not
 * followed), or the request failed on the network.
 */
export class HttpError extends CallstateError {
  override readonly name = 'HttpError';
  declare readonly code: 'ERR_HTTP';
  /** The HTTP status, or undefined when no answer was read (a network error, a redirect). */
  readonly status: number | undefined;
  /** The first KB of the answer's body (the reason of a refusal), or ''. */
  readonly body: string;
  constructor(message: string, status: number | undefined, body = '', options?: { cause?: unknown }) {
    super(message, 'ERR_HTTP', options);
    this.status = status;
    this.body = body;
  }
}

/**
 * The call (or notification) could not even wait for its turn: the connection
 * already holds `maxQueued` of them waiting (or as many as it would take past
 * `maxBufferedAmount` bytes), because it is not open (yet, or again) or has no
 * room (`maxInFlight` calls in flight, or the socket's buffer is full). Nothing
 * was sent; the caller may try again later.
 */
export class QueueFullError extends CallstateError {
  override readonly name = 'QueueFullError';
  declare readonly code: 'ERR_QUEUE_FULL';
  /** The connection's `maxQueued` (the message says whether that, or the bytes waiting, was the limit reached). */
  readonly maxQueued: number;
  constructor(message: string, maxQueued: number) {
    super(message, 'ERR_QUEUE_FULL');
    this.maxQueued = maxQueued;
  }
}

/**
 * Throw from a handler to answer with a specific JSON-RPC error code and data,
 * for example `throw new RpcError(-32602, 'b must be a number')`.
 */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}
