export { connect, type Client, type ClientOptions } from './client.js';
export { serve, type Server, type ServeOptions, type ServerEvents } from './server.js';
export type { Authenticate, Refusal, UpgradeRequest } from './access.js';
export { NatsClient } from './nats-client.js';
export type { NatsServer, NatsServeOptions, NatsServerEvents } from './nats-server.js';
export { Peer, type ConnectionState } from './peer.js';
export {
  CallstateError,
  TimeoutError,
  ConnectionClosedError,
  RemoteError,
  AbortError,
  ProtocolError,
  NoRespondersError,
  NotSupportedError,
  QueueFullError,
  RpcError,
} from './errors.js';
export { ErrorCodes, CANCEL_METHOD } from './protocol/jsonrpc.js';
export type * from './types.js';
export { callMachine, type CallInput, type CallContext, type CallEvent, type CallOutput, type CallStatus } from '../machines/call.machine.js';
export { connectionMachine, backoffDelay, type ConnectionInput, type ConnectionContext, type ConnectionEvent, type ReconnectPolicy } from '../machines/connection.machine.js';
export { incomingCallMachine, type IncomingCallInput, type IncomingCallContext, type IncomingCallEvent } from '../machines/incomingCall.machine.js';
