export { connect, type Client, type ClientOptions } from './client.js';
export { serve, type Server, type ServeOptions, type ServerEvents } from './server.js';
export {
  DEFAULT_TIMEOUT,
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_UPGRADE_TIMEOUT,
  DEFAULT_HEARTBEAT,
  DEFAULT_MAX_PAYLOAD,
  DEFAULT_MAX_QUEUED,
  DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_BUFFERED_AMOUNT,
  DEFAULT_DRAIN_TIMEOUT,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
} from './limits.js';
export type { Acceptance, Authenticate, Refusal, UpgradeRequest } from './access.js';
export type { CloseOptions } from './limits.js';
export type { ClientTlsOptions } from './transports/tls.js';
export type { ErrorInfo, HookOptions, Logger, Middleware, MiddlewareContext } from './hooks.js';
export { method } from './method.js';
export type { StandardSchemaV1 } from './standard-schema.js';
export type { ParamsIssue } from './core/params-schema.js';
export { NatsClient } from './nats-client.js';
export { HttpClient } from './http-client.js';
export type { NatsServer, NatsServeOptions, NatsServerEvents } from './nats-server.js';
export { Peer, type ConnectionState } from './core/peer.js';
export * from './errors.js';
export { ErrorCodes, CANCEL_METHOD } from './protocol/jsonrpc.js';
export type * from './types.js';
export {
  callMachine,
  type CallInput,
  type CallContext,
  type CallEvent,
  type CallOutput,
  type CallStatus,
} from '../machines/call.machine.js';
export {
  connectionMachine,
  backoffDelay,
  type ConnectionInput,
  type ConnectionContext,
  type ConnectionEvent,
  type ReconnectPolicy,
} from '../machines/connection.machine.js';
export {
  incomingCallMachine,
  type IncomingCallInput,
  type IncomingCallContext,
  type IncomingCallEvent,
} from '../machines/incomingCall.machine.js';
export {
  createInspector,
  inspectTo,
  type Inspector,
  type InspectorOptions,
  type InspectStream,
  type InspectToOptions,
} from './tools/inspect/api.js';
