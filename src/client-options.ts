/**
 * The options of `connect()`, resolved once for every transport (ws in Node,
 * the browser's WebSocket, NATS): each entry point only adds its transport.
 */
import type { ReconnectPolicy } from '../machines/connection.machine.js';
import type { PeerOptions } from './core/peer.js';
import { isolatedInspector } from './engine/inspectable.js';
import { resolveHooks, type HookOptions } from './hooks.js';
import {
  DEFAULT_MAX_QUEUED,
  DEFAULT_SETTLED_MEMORY,
  resolveConnectionLimits,
  DEFAULT_CLIENT_MAX_PAYLOAD,
  resolveResponderLimits,
  resolveSendLimits,
  type ResponderLimitOptions,
  type SendLimitOptions,
} from './limits.js';
import type { ClientTlsOptions } from './transports/tls.js';
import type { AnyApi, Clock, Engine, InspectOption, Methods, UntypedApi } from './types.js';
import {
  optionalBoolean,
  optionalInteger,
  optionalLimit,
  optionalTimeout,
  validateEngine,
  validateMethods,
  validateReconnect,
} from './validate.js';
import { shownUrl } from './urls.js';

export interface ClientOptions<LocalApi extends AnyApi = UntypedApi, RemoteApi extends AnyApi = UntypedApi>
  extends ResponderLimitOptions, SendLimitOptions, HookOptions {
  /**
   * Default timeout of every call, in ms; `request(…, { timeout })` overrides it. Over HTTP it also bounds each
   * notification's POST (aborted when the server has not answered by then). Default: 10,000.
   */
  timeout?: number;
  /**
   * Capture where each call is made, so that the error that settles it (`TimeoutError`,
   * `ConnectionClosedError`, `RemoteError`…, raised later from a timer or a socket event) shows the
   * stack of the line that called `request()`, as nats.js does. Costs about 3 µs of CPU and 0.3 KB
   * per call (4 stack frames kept while it is pending): about a fifth of a call's CPU at 64 in
   * flight, so it is off unless asked for. Default: false.
   */
  callSiteStacks?: boolean;
  /**
   * Methods the server may call on this client through `ctx.peer`; their own `ctx.peer` is the server, typed by
   * `RemoteApi` (`connect<Api, LocalApi>` gives `Api`). WebSocket only (TypeError over HTTP and NATS). Default: none.
   */
  methods?: Partial<Methods<LocalApi, RemoteApi>>;
  /**
   * Inspection observer given to every actor this client creates (the
   * connection, each outgoing call, each incoming call): see XState's `inspect`.
   * Default: none.
   */
  inspect?: InspectOption;
  /** Clock for call timeouts (XState's `Clock`, e.g. `SimulatedClock` in tests). Default: real timers. */
  clock?: Clock;
  /**
   * Heartbeat interval in ms: the client pings the server every half interval,
   * and a server that has answered nothing for an interval (gone without a close
   * frame) is dropped, failing pending calls at once. 0 turns it off. Timed by
   * `clock` when given. Over NATS it pings nats-server; over HTTP (nothing stays open) it throws TypeError. Default: 30,000.
   */
  heartbeat?: number;
  /** What runs each call's machine: `'light'` (default) or `'xstate'` (a full XState actor per call; Node only: the browser build throws a TypeError). */
  engine?: Engine;
  /**
   * Largest frame accepted from the server, in bytes; a larger one is refused at its header, closing with 1009 (in the
   * browser build, which cannot refuse it there, checked once it has arrived: dropped unparsed, 1009). Over HTTP,
   * the largest answer body, counted as decoded (a gzip or deflate answer by what it inflates to); a larger one fails
   * its call with `HttpError`. Default: 16 MiB (not `ws`'s 100 MiB: see `DEFAULT_CLIENT_MAX_PAYLOAD`; a server takes 1 MiB).
   */
  maxPayload?: number;
  /**
   * Extra HTTP headers for the upgrade request (over NATS: of every message). Names are tokens (letters, digits and
   * !#$%&'*+-.^_`|~; over NATS, printable ASCII but ':'); a value holds no CR, LF or NUL, and over HTTP and WebSocket
   * no control character but tab and nothing past Latin-1: others throw TypeError. Default: none.
   */
  headers?: Record<string, string>;
  /**
   * TLS settings of a `wss://` connection: `ca` to trust (a private CA, a self-signed server), `cert` and `key`
   * for a client certificate, `servername`, `rejectUnauthorized`. Default: Node's (the system's CAs, verified). Node only:
   * the browser build throws a TypeError (the browser verifies TLS itself).
   */
  tls?: ClientTlsOptions;
  /** Include handler error stacks in error responses sent to the server. Default: false. */
  exposeErrorStack?: boolean;
  /** How many of the most recently settled call ids are remembered (up to twice as many are kept), to report late and duplicate responses as such. Default: 10,000. */
  settledMemory?: number;
  /** How long the opening handshake may take before the connection fails, in ms (TypeError over HTTP, where nothing opens). Default: the `timeout`. */
  handshakeTimeout?: number;
  /**
   * How long a close handshake may take before the socket is dropped, in ms: `close()`'s, and one the server began (its close
   * frame came, its TCP connection stays open), whose pending calls then fail. Default: 1,000.
   */
  closeTimeout?: number;
  /**
   * Reconnect when the connection is lost or cannot be opened: `true` for the
   * defaults, or a policy (each field optional): `initialDelay` 500 ms (at least 10), doubled
   * (`factor` 2) after each failed attempt up to `maxDelay` 10,000 ms, minus a
   * random part of up to `jitter` 0.5 of it, for at most `maxAttempts`
   * (unlimited) attempts in a row before closing. A connection lost within
   * `minUptime` (5,000 ms) of opening counts as a failed attempt: the count and
   * the delays start over only once one stays open that long. Each connection is an epoch:
   * calls written on a lost one fail with `ConnectionClosedError`, except those
   * made with `{ retry: true }`, which are sent again on the next; calls made
   * meanwhile wait in `queued`. Emits `reconnecting` before each attempt and
   * `open` each time it opens. WebSocket only. Default: false.
   */
  reconnect?: boolean | Partial<ReconnectPolicy>;
  /** Most calls in flight (written, not yet answered); more wait in `queued`, in order. Default: no limit. */
  maxInFlight?: number;
  /**
   * HTTP only: most POSTs in flight at once, calls' and notifications' (`fetch` opens a keep-alive connection for
   * each); more wait their turn, in order, and count as unsent bytes (`highWaterMark`, then `maxQueued`). Default: 64.
   */
  maxConnections?: number;
  /**
   * Most calls and notifications waiting in `queued` (while connecting or
   * reconnecting, beyond `maxInFlight`, or while the socket's buffer is full);
   * one more rejects at once with `QueueFullError`. Default: 10,000.
   */
  maxQueued?: number;
  /**
   * While the socket holds this many bytes not yet sent (a slow reader), new calls wait in `queued`, and
   * calls from the server are answered -32000 (busy) without running. Default: 4 MiB.
   */
  highWaterMark?: number;
  /**
   * A server that lets this many unsent bytes pile up (answers to its calls it does not read) is dropped at once, with
   * 1008. Also the most bytes (characters of their frames) of calls and notifications waiting in `queued`: one more that
   * would pass it rejects at once with `QueueFullError`, unless nothing waits. Default: 64 MiB.
   */
  maxBufferedAmount?: number;
  /** A server that reads nothing for this long while the socket holds `highWaterMark` unsent bytes is dropped, with 1008, in ms. Default: 30,000. */
  drainTimeout?: number;
  /**
   * Longest a handler of a call from the server may run, in ms: see `ServeOptions.handlerTimeout`. This and the four
   * limits below bound calls from the server: WebSocket only (TypeError over HTTP and NATS). Default: none.
   */
  handlerTimeout?: number;
  /** Most messages in a JSON-RPC batch from the server: see `ServeOptions.maxBatch`. Default: 100. */
  maxBatch?: number;
  /** Deepest nesting of a frame from the server (responses to this client's calls are not limited): see `ServeOptions.maxDepth`. Default: 64. */
  maxDepth?: number;
  /** Calls from the server running at once on this client; one more is answered -32000 (busy) at once. Default: 10,000. */
  maxInFlightPerConnection?: number;
  /**
   * Size of the server's calls running at once on this client, in characters of their JSON text (a call in a batch,
   * its own); one that would pass it is answered -32000 (busy) at once, unless nothing else runs. Default: 16 MiB.
   */
  maxInFlightBytesPerConnection?: number;
  /**
   * NATS only, and required with a `nats://` URL: the subject whose responders
   * answer the calls (no wildcards). `maxPayload` and `tls` do not apply to NATS (TypeError);
   * `headers` go as NATS headers of every message; `handshakeTimeout` bounds connecting to nats-server.
   */
  subject?: string;
  /**
   * NATS only: the prefix of the client's inbox, where answers come (`<prefix>.<unique>.<call id>`), for a user whose
   * permissions allow subscribing only under its own prefix (as nats.js's `inboxPrefix`). No wildcards; with `subject`,
   * at most 4,021 bytes of UTF-8 together (nats-server's `max_control_line`: see nats-lines.ts). Default: `_INBOX`.
   */
  inboxPrefix?: string;
}

/** What every transport's client shares, resolved from `ClientOptions`. */
export interface ResolvedClientOptions {
  common: Omit<PeerOptions, 'openTransport' | 'alreadyOpen' | 'reconnect' | 'xstate' | 'connectionEngine'>;
  reconnect: ReconnectPolicy | undefined;
  handshakeTimeout: number;
  maxPayload: number;
}

/** Validates `options` (TypeError/RangeError on misuse) and fills in every default. */
export function resolveClientOptions(url: string, options: ClientOptions<any, any>): ResolvedClientOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const { timeout, heartbeat, closeTimeout, maxPayload } = resolveConnectionLimits(options, DEFAULT_CLIENT_MAX_PAYLOAD);
  const methods = validateMethods(options.methods, 'options.methods');
  const settledMemory = optionalInteger(options.settledMemory, 'options.settledMemory', DEFAULT_SETTLED_MEMORY, 0, 10_000_000);
  const engine = validateEngine(options.engine);
  const handshakeTimeout = optionalTimeout(options.handshakeTimeout, 'options.handshakeTimeout', timeout);
  const common = {
    // What errors and `ctx.connection.url` show: the transport gets `url` itself, credentials and all.
    url: shownUrl(url),
    timeout,
    callSiteStacks: optionalBoolean(options.callSiteStacks, 'options.callSiteStacks'),
    methods,
    hooks: resolveHooks(options),
    // Every actor of the connection reports to it, inside its own step: one that throws must not break them.
    inspect: isolatedInspector(options.inspect),
    clock: options.clock,
    engine,
    exposeErrorStack: optionalBoolean(options.exposeErrorStack, 'options.exposeErrorStack'),
    settledMemory,
    closeTimeout,
    heartbeat,
    maxInFlight: optionalLimit(options.maxInFlight, 'options.maxInFlight', Infinity, 1),
    maxQueued: optionalLimit(options.maxQueued, 'options.maxQueued', DEFAULT_MAX_QUEUED, 0),
    send: resolveSendLimits(options),
    limits: resolveResponderLimits(options, 'client'),
  };
  return { common, reconnect: validateReconnect(options.reconnect, 'options.reconnect'), handshakeTimeout, maxPayload };
}
