/**
 * `serve()`: a JSON-RPC 2.0 server over WebSocket. Every accepted socket gets
 * its own `Peer` (connection actor, incoming and outgoing calls), so the server
 * can call the client back through `ctx.peer`.
 */
import { DEFAULT_CLOSE_TIMEOUT, DEFAULT_HEARTBEAT, DEFAULT_SETTLED_MEMORY, DEFAULT_TIMEOUT } from './client.js';
import { Emitter } from './emitter.js';
import { serveNats, type NatsServeOptions, type NatsServer } from './nats-server.js';
import { Peer } from './peer.js';
import { listenWs } from './transports/ws.js';
import type { AnyApi, Clock, Engine, InspectOption, Methods, UntypedApi } from './types.js';
import { MAX_TIMEOUT, optionalTimeout, validateEngine, validateInteger, validateMethods } from './validate.js';

export interface ServeOptions<Api extends AnyApi = UntypedApi, ClientApi extends AnyApi = UntypedApi> {
  /** Port to listen on; 0 picks a free one. Default: 0. */
  port?: number;
  /** Interface to listen on. Default: '127.0.0.1' (pass '0.0.0.0' or '::' to accept remote clients). */
  host?: string;
  /** The methods clients may call. */
  methods: Methods<Api, ClientApi>;
  /** Default timeout of calls the server makes to clients through `ctx.peer`, in ms. Default: 10,000. */
  timeout?: number;
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
  /** Largest incoming frame in bytes; larger ones close the socket with 1009. Default: 100 MiB (as `ws`). */
  maxPayload?: number;
  /** Include a handler error's stack in the error response's `data`. Default: false. */
  exposeErrorStack?: boolean;
  /** How long `close()` waits for each client's close handshake before dropping the socket, in ms. Default: 1,000. */
  closeTimeout?: number;
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
  /** Closes every connection (code 1001; dropped after `closeTimeout`) and stops listening. */
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
  const timeout = optionalTimeout(options.timeout, 'options.timeout', DEFAULT_TIMEOUT);
  if (options.maxPayload !== undefined) validateInteger(options.maxPayload, 'options.maxPayload', 1, Number.MAX_SAFE_INTEGER);
  const closeTimeout = optionalTimeout(options.closeTimeout, 'options.closeTimeout', DEFAULT_CLOSE_TIMEOUT);
  const engine = validateEngine(options.engine);
  const heartbeat =
    options.heartbeat === undefined ? DEFAULT_HEARTBEAT : validateInteger(options.heartbeat, 'options.heartbeat', 0, MAX_TIMEOUT);

  const listener = await listenWs({ port, host, maxPayload: options.maxPayload });

  const events = new Emitter<ServerEvents<ClientApi>>();
  const connections = new Set<Peer<ClientApi>>();
  listener.onConnection((transport, address) => {
    const peer = new Peer<ClientApi>({
      url: `client ${address}`,
      transport,
      timeout,
      methods,
      inspect: options.inspect,
      clock: options.clock,
      engine,
      heartbeat,
      alreadyOpen: true,
      exposeErrorStack: options.exposeErrorStack ?? false,
      settledMemory: DEFAULT_SETTLED_MEMORY,
      closeTimeout,
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
        const done = listener.close();
        await Promise.all([...connections].map((peer) => peer.close(1001, 'server closing')));
        await done;
      })()),
  };
}

