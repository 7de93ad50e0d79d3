/**
 * What callstate needs from a channel: send text, close, and hear about open,
 * message, close and error. A transport reports an error (if any) before its
 * close, and closes exactly once.
 */
/**
 * Why text whose bytes are not UTF-8 is refused, on every transport that gets bytes (HTTP bodies, NATS messages; a
 * WebSocket text frame that is not UTF-8 closes the connection): read anyway, each such byte would be U+FFFD in what a
 * handler is given or a call resolves with. `what`: the body, the message.
 */
export const UTF8_REASON = 'JSON text is UTF-8: RFC 8259';
export function notUtf8(what: string): string {
  return `${what} is not valid UTF-8 (${UTF8_REASON})`;
}

/**
 * What a message that came as a call's answer, by the channel's word (an HTTP POST's body, a NATS reply on the call's
 * reply subject), held when it did not settle the call, as the error that fails the call at once says it: `what` is
 * the channel's word for it (body, payload); `answer` undefined: its bytes were not UTF-8. An error response with id
 * null is that call's error instead (core/answer-error.ts).
 */
export function noAnswerIn(answer: string | undefined, what: string): string {
  if (answer === undefined) return `a ${what} that is not valid UTF-8`;
  return answer === '' ? `no ${what}` : `a ${what} that holds no JSON-RPC answer to this call`;
}

export interface TransportHandlers {
  open(): void;
  /** A text frame (or a binary one, flagged, which JSON-RPC over WebSocket does not use). */
  message(data: string, isBinary: boolean): void;
  close(code: number, reason: string): void;
  error(error: Error): void;
  /**
   * The channel itself answered the request with this id: no one listens on
   * `subject` (NATS's 503 no-responders status). Only brokers report this.
   */
  noResponders?(id: string, subject: string): void;
  /**
   * The channel failed the call with this id without an answer from the peer (an HTTP error status,
   * a network error, a body that holds no answer): the call fails with the error `reason` makes, which is
   * made only if the call is still pending. Request-per-call transports (HTTP) report this, and NATS for a
   * request nats.js would not publish (past max_payload) on a connection that stays open.
   */
  callFailed?(id: string, reason: () => Error): void;
  /**
   * The message just handed to `message` came as the answer to the call with this id, by the channel's word (NATS: on
   * that call's reply subject), whatever id it holds; `data` undefined: it was not UTF-8 (reported `unreadable`). Only NATS reports this (HTTP, whose POST names its call too,
   * reports an answer that did not settle its call through `callFailed`).
   */
  answered?(id: string, data: string | undefined): void;
  /**
   * A notification this side sent did not reach the peer, or could not be confirmed to: its own request failed
   * (HTTP: a network error, an error status, no answer within its timeout). Request-per-notification transports
   * (HTTP) report this; on a stream, a notification is as sent as the stream.
   */
  noticeFailed?(method: string, error: Error): void;
  /**
   * A message that cannot be read as it came, `detail` says why (its bytes are not UTF-8): reported as malformed,
   * not parsed. Brokers report this (NATS messages are bytes); a WebSocket text frame that is not UTF-8 closes the
   * connection (1007) instead.
   */
  unreadable?(text: string, detail: string): void;
  /** The peer answered a ping. */
  pong?(): void;
}

export interface Transport {
  /** True once open and until closing starts. */
  readonly isOpen: boolean;
  /** Bytes queued by the socket but not yet written. */
  readonly bufferedAmount: number;
  /**
   * Bytes read from the peer so far, frames not yet whole included (the heartbeat: a peer sending a large frame is
   * alive though its pong waits behind it). Transports that cannot see them (a browser's WebSocket) omit it.
   */
  readonly bytesReceived?: number;
  /**
   * Bytes that have left the buffer so far (taken by the network), a running count of which only the growth is used: unlike
   * `bufferedAmount`, it grows as the peer reads though new frames keep the buffer as full (the heartbeat and the
   * drain watch). Transports that cannot tell omit it.
   */
  readonly bytesSent?: number;
  /**
   * Writes one text frame. Returns false, without calling `done`, when the
   * transport is not open (closing included): the frame was not written.
   * Otherwise `done` is called once the frame is written, or with the error
   * that stopped it, in the order of the writes. Throws nothing.
   *
   * Refusing at once instead of through `done` keeps the callbacks in write
   * order: ws reports a write after close on the next tick, ahead of earlier
   * writes still in the socket, so a shared in-order callback would blame the
   * oldest of those (already on the wire) instead of the refused frame.
   */
  send(data: string, done?: (error?: Error) => void): boolean;
  /**
   * Why this transport would not carry `data` though it is open (NATS: larger than nats-server's max_payload),
   * found without writing anything; undefined when it would, or cannot tell yet (still connecting). A notification
   * it refuses is not sent: `notify()` throws, or, if it waited in line, it is reported. Transports with no
   * limit of their own omit it (a WebSocket's peer closes with 1009 instead).
   */
  refuses?(data: string): Error | undefined;
  /** Starts the close handshake. */
  close(code?: number, reason?: string): void;
  /** Drops the connection at once, without a handshake (the close that follows has code 1006). */
  terminate(): void;
  /**
   * The call with this id settled, however it did (its answer may have come with another call's): request-per-call
   * transports (HTTP) end what they still hold for it. Transports without per-call state omit it.
   */
  callSettled?(id: string): void;
  /** Asks the peer for a sign of life (WebSocket ping); the answer comes as `pong`. Transports without one omit it. */
  ping?(): void;
  /** Sets the single consumer of the transport's events. */
  attach(handlers: TransportHandlers): void;
}
