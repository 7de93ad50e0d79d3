/**
 * `serve()`: a JSON-RPC 2.0 server over WebSocket. Every accepted socket gets
 * its own `Peer` (connection actor, incoming and outgoing calls), so the server
 * can call the client back through `ctx.peer`.
 */
import { accessCheck, type Authenticate } from './access.js';
import { Emitter } from './core/emitter.js';
import { resolveHooks, type HookOptions } from './hooks.js';
import {
  DEFAULT_MAX_QUEUED,
  DEFAULT_SETTLED_MEMORY,
  DEFAULT_UPGRADE_TIMEOUT,
  resolveConnectionLimits,
  resolveResponderLimits,
  resolveSendLimits,
  type ResponderLimitOptions,
  type SendLimitOptions,
} from './limits.js';
import { serveNats, type NatsServeOptions, type NatsServer } from './nats-server.js';
import { Peer } from './core/peer.js';
import { listenWs } from './transports/ws-listener.js';
import type { AnyApi, Clock, Engine, InspectOption, Methods, UntypedApi } from './types.js';
import { optionalBoolean, optionalTimeout, validateEngine, validateInteger, validateMethods } from './validate.js';

export interface ServeOptions<Api extends AnyApi = UntypedApi, ClientApi extends AnyApi = UntypedApi>
  extends ResponderLimitOptions, SendLimitOptions, HookOptions {
  /** Port to listen on; 0 picks a free one. Default: 0. */
  port?: number;
  /** Interface to listen on. Default: '127.0.0.1' (pass '0.0.0.0' or '::' to accept remote clients). */
  host?: string;
  /** The methods clients may call. */
  methods: Methods<Api, ClientApi>;
  /** Default timeout of calls the server makes to clients through `ctx.peer`, in ms. Default: 10,000. */
  timeout?: number;
  /** Errors of the server's calls to clients show the caller's stack: see `ClientOptions.callSiteStacks`. Default: false. */
  callSiteStacks?: boolean;
  /** Inspection observer given to every actor the server creates. Default: none. */
  inspect?: InspectOption;
  /** Clock for timeouts of server-to-client calls. Default: real timers. */
  clock?: Clock;
  /**
   * Heartbeat interval in ms: each client is pinged every half interval, and one
   * that has answered nothing for an interval (gone without a close frame) is
   * dropped, aborting its handlers. 0 turns it off. Default: 30,000.
   */
  heartbeat?: number;
  /** What runs each call's machine, both ways: `'light'` (default) or `'xstate'` (a full XState actor per call). */
  engine?: Engine;
  /** Largest incoming frame in bytes; a larger one is refused at its header, closing the socket with 1009. Default: 100 MiB (as `ws`). */
  maxPayload?: number;
  /** Include a handler error's stack in the error response's `data`. Default: false. */
  exposeErrorStack?: boolean;
  /** How long `close()` waits for each client's close handshake before dropping the socket, in ms. Default: 1,000. */
  closeTimeout?: number;
  /**
   * Longest a handler may run, in ms: past it, its `ctx.signal` aborts (reason: a `TimeoutError` DOMException)
   * and the caller gets error -32001 naming the method and the limit. Timed by `clock`. Default: none.
   */
  handlerTimeout?: number;
  /** Most messages in a JSON-RPC batch; a longer batch is answered with one -32600 (id null) and none of it runs. Default: 100. */
  maxBatch?: number;
  /**
   * Deepest nesting of arrays and objects in a frame (the frame itself is 1); a deeper frame is answered -32600 (id null)
   * and not run. A single response (the answer to a call this side made) is not limited. Default: 64.
   */
  maxDepth?: number;
  /** Incoming calls running at once on one connection; a request beyond it is answered -32000 ("server busy") at once and not run. Default: 10,000. */
  maxInFlightPerConnection?: number;
  /**
   * While a client's socket holds this many bytes not yet sent (a client that does not read its answers),
   * its new requests are answered -32000 ("server busy") without running, and calls to it wait in `queued`. Default: 4 MiB.
   */
  highWaterMark?: number;
  /** A client that lets this many unsent bytes pile up is dropped at once, with 1008. Default: 64 MiB. */
  maxBufferedAmount?: number;
  /** A client that reads nothing for this long while its socket holds `highWaterMark` unsent bytes is dropped, with 1008, in ms. Default: 30,000. */
  drainTimeout?: number;
  /**
   * Allowed values of the upgrade request's Origin header, e.g. `['https://app.example']`; another
   * origin is refused with HTTP 403. A request without Origin (not a browser) is refused too, unless
   * the list holds `'none'`. Default: any origin, and none.
   */
  origins?: string[];
  /**
   * Decides on each upgrade request (`{ headers, url, remoteAddress }`) before the socket is accepted:
   * `true` accepts, `false` refuses with HTTP 401, `{ status: 401 | 403, reason }` refuses with that status
   * (the reason is the body, shown in the client's error); a hook that throws refuses with 500. Default: none.
   */
  authenticate?: Authenticate;
  /**
   * Longest a connection may take to become a WebSocket, in ms: from the TCP accept through the
   * upgrade request's headers and `authenticate` to the answer. Past it the client gets HTTP 408 and
   * the socket is dropped; a late `authenticate` answer is ignored. Default: 10,000.
   */
  upgradeTimeout?: number;
}

export interface ServerEvents<ClientApi extends AnyApi> {
  /** A client connected; the peer can call the client's methods. */
  connection: Peer<ClientApi>;
}

export interface Server<ClientApi extends AnyApi = UntypedApi> {
  /** The bound port. */
  readonly port: number;
  /** `ws://host:port`, ready for `connect()`. */
  readonly url: string;
  /** Connections currently open. */
  readonly connections: ReadonlySet<Peer<ClientApi>>;
  on<K extends keyof ServerEvents<ClientApi>>(event: K, listener: (payload: ServerEvents<ClientApi>[K]) => void): () => void;
  /**
   * Stops listening, drops connections not yet upgraded and closes every open one (code 1001; dropped
   * after `closeTimeout`). Resolves once every socket has closed: within about `closeTimeout`.
   */
  close(): Promise<void>;
}

/** A responder in a NATS queue group (`options.nats`): see nats-server.ts. */
export function serve<Api extends AnyApi = UntypedApi>(options: NatsServeOptions<Api>): Promise<NatsServer>;
/** A WebSocket server. */
export function serve<Api extends AnyApi = UntypedApi, ClientApi extends AnyApi = UntypedApi>(
  options: ServeOptions<Api, ClientApi>,
): Promise<Server<ClientApi>>;
export async function serve(options: ServeOptions<any, any> | NatsServeOptions<any>): Promise<Server<any> | NatsServer> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  // The transport seam: with `nats`, join a queue group instead of listening for sockets.
  if ('nats' in options) return serveNats(options);
  return serveWs(options);
}

async function serveWs<Api extends AnyApi, ClientApi extends AnyApi>(options: ServeOptions<Api, ClientApi>): Promise<Server<ClientApi>> {
  const methods = validateMethods(options.methods, 'options.methods');
  const port = options.port === undefined ? 0 : validateInteger(options.port, 'options.port', 0, 65_535);
  const host = options.host ?? '127.0.0.1';
  const { timeout, heartbeat, closeTimeout, maxPayload } = resolveConnectionLimits(options);
  const upgradeTimeout = optionalTimeout(options.upgradeTimeout, 'options.upgradeTimeout', DEFAULT_UPGRADE_TIMEOUT);
  const engine = validateEngine(options.engine);
  const callSiteStacks = optionalBoolean(options.callSiteStacks, 'options.callSiteStacks');
  const limits = resolveResponderLimits(options);
  const send = resolveSendLimits(options);
  const check = accessCheck(options.origins, options.authenticate);
  const hooks = resolveHooks(options);

  const listener = await listenWs({ port, host, maxPayload, check, upgradeTimeout });

  const events = new Emitter<ServerEvents<ClientApi>>();
  const connections = new Set<Peer<ClientApi>>();
  listener.onConnection((transport, address) => {
    const peer = new Peer<ClientApi>({
      url: `client ${address}`,
      openTransport: () => transport,
      timeout,
      callSiteStacks,
      methods,
      hooks,
      inspect: options.inspect,
      clock: options.clock,
      engine,
      heartbeat,
      alreadyOpen: true,
      exposeErrorStack: options.exposeErrorStack ?? false,
      settledMemory: DEFAULT_SETTLED_MEMORY,
      closeTimeout,
      limits,
      send,
      // The server's own calls to this client through ctx.peer.
      maxInFlight: Infinity,
      maxQueued: DEFAULT_MAX_QUEUED,
    });
    connections.add(peer);
    void peer.closed.then(() => connections.delete(peer));
    events.emit('connection', peer);
  });

  const bound = listener.port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  let closing: Promise<void> | undefined;

  return {
    port: bound,
    url: `ws://${urlHost}:${bound}`,
    connections,
    on: (event, listener) => events.on(event, listener),
    close: () =>
      (closing ??= (async () => {
        const done = listener.close(closeTimeout);
        await Promise.all([...connections].map((peer) => peer.close(1001, 'server closing')));
        await done;
      })()),
  };
}
