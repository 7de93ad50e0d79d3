/**
 * Every default and limit, in one place, for both sides and every transport.
 * Each option is resolved here once (validated, or its default when not given),
 * so nothing passes an `undefined` through to a library whose defaults it
 * relies on: `ws` reads `maxPayload: undefined` as "no limit".
 */
import { MAX_TIMEOUT, optionalInteger, optionalLimit, optionalTimeout, validateTimeout } from './validate.js';

/** Default timeout of every call, in ms. */
export const DEFAULT_TIMEOUT = 10_000;
/**
 * `handlerTimeout` when none is given, in ms, for the handlers nothing else ends: a NATS responder's requests that
 * carry no timeout of their caller (any caller but callstate's client, whose request carries its own) and its
 * notifications (no connection of theirs closes), and an HTTP server's notifications (their POST was answered 204 at
 * once; its connection closing ends nothing). A handler there that never settled held its place for good: of the
 * responder's `maxInFlightPerConnection`, which all its callers share, or of the HTTP server's `maxConnections`. As
 * long as callstate's own calls wait by default.
 */
export const DEFAULT_UNTIMED_HANDLER_TIMEOUT = DEFAULT_TIMEOUT;
/** Settled call ids remembered to tell late and duplicate responses from unknown ones. */
export const DEFAULT_SETTLED_MEMORY = 10_000;
/** How long a close handshake may take before the socket is dropped, in ms. */
export const DEFAULT_CLOSE_TIMEOUT = 1_000;
/** Longest a WebSocket upgrade may take on a server, from TCP accept to the 101 (`authenticate` included), in ms. */
export const DEFAULT_UPGRADE_TIMEOUT = 10_000;
/** Heartbeat interval, in ms. */
export const DEFAULT_HEARTBEAT = 30_000;
/**
 * Largest frame (and HTTP POST body) a server takes from a client, in bytes; a larger one closes the socket with 1009
 * (a POST gets 413). 1 MiB, as socket.io's `maxHttpBufferSize` and nats-server's `max_payload`, not `ws`'s 100 MiB:
 * parsing JSON takes 15 to 30 times its size in heap (many small arrays, deep nesting) and about 0.1 s a MiB, so one
 * 100 MiB frame from anyone who can connect could hold the server for seconds and take gigabytes.
 */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/**
 * Largest frame (over HTTP, answer body) a client takes from the server it chose to call, in bytes; a larger one closes
 * the socket with 1009. 16 MiB, so that large answers a user asked for arrive, but not `ws`'s 100 MiB: 100 MiB of
 * `[{},{},…]` from a hostile or broken server takes over 2 GB of heap to parse (16 MiB: about 350 MB, 2 s).
 */
export const DEFAULT_CLIENT_MAX_PAYLOAD = 16 * 1024 * 1024;
/** Most calls and notifications waiting in `queued`. */
export const DEFAULT_MAX_QUEUED = 10_000;
/** Unsent bytes in a socket's buffer at which new calls wait and the peer's requests are refused as busy. */
export const DEFAULT_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** Unsent bytes past which a peer that is not reading is dropped at once (1008). */
export const DEFAULT_MAX_BUFFERED_AMOUNT = 64 * 1024 * 1024;
/** How long the socket's buffer may stay at its high-water mark without draining before the peer is dropped (1008), in ms. */
export const DEFAULT_DRAIN_TIMEOUT = 30_000;
/** Most messages in a JSON-RPC batch. A callstate peer sends no batches of its own (each cancel notice is a frame). */
export const DEFAULT_MAX_BATCH = 100;
/** Deepest nesting of arrays and objects in a frame (the frame itself is 1). */
export const DEFAULT_MAX_DEPTH = 64;
/** Incoming calls running at once on one connection. */
export const DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION = 10_000;
/**
 * WebSocket connections a server holds at once (`maxConnections`): about 14 KB of heap each when idle, and what each
 * may make the server buffer (`maxBufferedAmount`) on top; a client opening sockets in a loop is refused past it.
 */
export const DEFAULT_SERVER_MAX_CONNECTIONS = 10_000;
/**
 * Size of the requests (and notifications running a method) from one connection that may run at once: 16 MiB, 16 of
 * the server's largest frames. Their params stay in the heap until the handler ends, and parsed JSON takes several
 * times its size: without it one client could hold `maxInFlightPerConnection` × `maxPayload` (10,000 × 1 MiB).
 */
export const DEFAULT_MAX_IN_FLIGHT_BYTES_PER_CONNECTION = 16 * 1024 * 1024;

/** Limits a responder puts on what the other end sends it, on one connection. */
export interface ResponderLimits {
  /** Longest a handler may run, in ms (undefined: no limit). */
  handlerTimeout: number | undefined;
  maxBatch: number;
  maxDepth: number;
  /** Incoming calls running at once; more are answered -32000 (busy) at once. */
  maxInFlight: number;
  /**
   * Size of the incoming calls running at once, in characters of their JSON text (a batch's message, its own);
   * one that would take it past this is answered -32000 (busy) at once, unless nothing else runs.
   */
  maxInFlightBytes: number;
  /** Whose limits they are: a refusal says which side is busy ("server busy", or "client busy" for a client's methods). */
  side: 'server' | 'client';
}

/** The options that set `ResponderLimits`, the same on a server and a client. */
export interface ResponderLimitOptions {
  handlerTimeout?: number;
  maxBatch?: number;
  maxDepth?: number;
  maxInFlightPerConnection?: number;
  maxInFlightBytesPerConnection?: number;
}

/** `side`: a server's (or NATS responder's) limits, or a client's on the calls its server makes to it. */
export function resolveResponderLimits(options: ResponderLimitOptions, side: 'server' | 'client' = 'server'): ResponderLimits {
  return {
    handlerTimeout: options.handlerTimeout === undefined ? undefined : validateTimeout(options.handlerTimeout, 'options.handlerTimeout'),
    maxBatch: optionalCount(options.maxBatch, 'options.maxBatch', DEFAULT_MAX_BATCH),
    maxDepth: optionalCount(options.maxDepth, 'options.maxDepth', DEFAULT_MAX_DEPTH),
    maxInFlight: optionalCount(options.maxInFlightPerConnection, 'options.maxInFlightPerConnection', DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION),
    maxInFlightBytes: optionalCount(
      options.maxInFlightBytesPerConnection,
      'options.maxInFlightBytesPerConnection',
      DEFAULT_MAX_IN_FLIGHT_BYTES_PER_CONNECTION,
    ),
    side,
  };
}

/** How much a peer may make this side buffer for it before it is refused, then dropped. */
export interface SendLimits {
  highWaterMark: number;
  maxBufferedAmount: number;
  drainTimeout: number;
}

export interface SendLimitOptions {
  highWaterMark?: number;
  maxBufferedAmount?: number;
  drainTimeout?: number;
}

export function resolveSendLimits(options: SendLimitOptions): SendLimits {
  const highWaterMark = optionalLimit(options.highWaterMark, 'options.highWaterMark', DEFAULT_HIGH_WATER_MARK, 1);
  const maxBufferedAmount = optionalLimit(
    options.maxBufferedAmount,
    'options.maxBufferedAmount',
    Math.max(DEFAULT_MAX_BUFFERED_AMOUNT, highWaterMark),
    1,
  );
  if (maxBufferedAmount < highWaterMark) {
    throw new RangeError(`options.maxBufferedAmount (${maxBufferedAmount}) must be at least options.highWaterMark (${highWaterMark})`);
  }
  return {
    highWaterMark,
    maxBufferedAmount,
    drainTimeout: optionalTimeout(options.drainTimeout, 'options.drainTimeout', DEFAULT_DRAIN_TIMEOUT),
  };
}

/** The options every WebSocket connection shares, on either side. */
export interface ConnectionLimitOptions {
  maxPayload?: number;
  heartbeat?: number;
  closeTimeout?: number;
  timeout?: number;
}

/** `defaultMaxPayload`: the server's (`DEFAULT_MAX_PAYLOAD`) or the client's (`DEFAULT_CLIENT_MAX_PAYLOAD`). */
export function resolveConnectionLimits(options: ConnectionLimitOptions, defaultMaxPayload: number) {
  return {
    maxPayload: optionalInteger(options.maxPayload, 'options.maxPayload', defaultMaxPayload, 1, Number.MAX_SAFE_INTEGER),
    heartbeat: optionalInteger(options.heartbeat, 'options.heartbeat', DEFAULT_HEARTBEAT, 0, MAX_TIMEOUT),
    closeTimeout: optionalTimeout(options.closeTimeout, 'options.closeTimeout', DEFAULT_CLOSE_TIMEOUT),
    timeout: optionalTimeout(options.timeout, 'options.timeout', DEFAULT_TIMEOUT),
  };
}

/** A limit: a whole number from 1, or the default when not given. */
function optionalCount(value: unknown, name: string, fallback: number): number {
  return optionalInteger(value, name, fallback, 1, Number.MAX_SAFE_INTEGER);
}

/** What `server.close()` takes. */
export interface CloseOptions {
  /**
   * Drain first: stop accepting connections and requests (new ones are refused, -32000 "server closing"),
   * and let running handlers answer for up to this many ms before the connections close. 0: close at once.
   */
  drain?: number;
}

/** `close(options)`'s drain, in ms: `fallback` when not given. */
export function resolveDrain(options: unknown, fallback: number): number {
  if (options === undefined) return fallback;
  if (options === null || typeof options !== 'object')
    throw new TypeError(`close options must be an object, got ${options === null ? 'null' : typeof options}`);
  const { drain } = options as CloseOptions;
  return optionalInteger(drain, 'options.drain', fallback, 0, MAX_TIMEOUT);
}
