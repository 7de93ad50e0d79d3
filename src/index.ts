export { connect, type Client, type ClientOptions } from './client.js';
export { serve, type Server, type ServeOptions, type ServerEvents } from './server.js';
export * from './client-exports.js';
/** Defaults of the server (and the Node client's `maxPayload`); the client's are in client-exports.ts. */
export { DEFAULT_UPGRADE_TIMEOUT, DEFAULT_MAX_PAYLOAD, DEFAULT_CLIENT_MAX_PAYLOAD, DEFAULT_SERVER_MAX_CONNECTIONS } from './limits.js';
export type { Acceptance, Authenticate, Refusal, UpgradeRequest } from './access.js';
export type { CloseOptions } from './limits.js';
export type { ClientTlsOptions } from './transports/tls.js';
export type { ErrorInfo, HookOptions, Logger, Middleware, MiddlewareContext } from './hooks.js';
export { method } from './method.js';
export type { StandardSchemaV1 } from './standard-schema.js';
export type { ParamsIssue } from './core/params-schema.js';
export { NatsClient } from './nats-client.js';
export { HttpClient, DEFAULT_MAX_CONNECTIONS } from './http-client.js';
export type { NatsServer, NatsServeOptions, NatsServerEvents } from './nats-server.js';
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
  MIN_RECONNECT_DELAY,
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
