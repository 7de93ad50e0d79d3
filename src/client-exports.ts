/**
 * What both entries export beside their own `connect`: Node's (index.ts, which adds the server, NATS and
 * HTTP) and the browser build's (browser.ts): the peer, the client's defaults, errors and types.
 */
export { Peer, type ConnectionActor, type ConnectionState } from './core/peer.js';
export {
  DEFAULT_TIMEOUT,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_HEARTBEAT,
  DEFAULT_MAX_QUEUED,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BUFFERED_AMOUNT,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
  DEFAULT_MAX_IN_FLIGHT_BYTES_PER_CONNECTION,
} from './limits.js';
export * from './errors.js';
export { ErrorCodes, CANCEL_METHOD } from './protocol/jsonrpc.js';
export type * from './types.js';
