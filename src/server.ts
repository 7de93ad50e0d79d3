/**
 * `serve()`: a JSON-RPC 2.0 server over WebSocket. Every accepted socket gets
 * its own `Peer` (connection actor, incoming and outgoing calls), so the server
 * can call the client back through `ctx.peer`. The same port answers JSON-RPC
 * sent by HTTP POST at `path` (http-server.ts): the same methods and limits,
 * each request an incoming call, with no way back to the caller.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { accessCheck, allowedOrigins } from './access.js';
import { httpEndpoint } from './http-server.js';
import { drainWindow } from './core/closing.js';
import { Emitter } from './core/emitter.js';
import { resolveHooks } from './hooks.js';
import {
  DEFAULT_MAX_QUEUED,
  DEFAULT_SERVER_MAX_CONNECTIONS,
  DEFAULT_SETTLED_MEMORY,
  DEFAULT_UPGRADE_TIMEOUT,
  resolveConnectionLimits,
  DEFAULT_MAX_PAYLOAD,
  resolveDrain,
  type CloseOptions,
  resolveResponderLimits,
  resolveSendLimits,
} from './limits.js';
import { serveNats, type NatsServeOptions, type NatsServer } from './nats-server.js';
import type { Peer } from './core/peer.js';
import { ServerPeer } from './core/server-peer.js';
import { isolatedInspector } from './engine/inspectable.js';
import { XSTATE } from './engine/xstate.js';
import type { ServeOptions } from './serve-options.js';
import { listenWs, type ListenMode, type WsListener } from './transports/ws-listener.js';
import { ConnectionSlots } from './transports/connection-slots.js';
import { urlHost } from './transports/url-host.js';
import type { AnyApi, NotificationEvent, UnmatchedEvent, UntypedApi } from './types.js';
import {
  optionalBoolean,
  optionalHost,
  optionalInteger,
  optionalLimit,
  optionalTimeout,
  refuseOptions,
  validateEngine,
  validateMethods,
  validatePath,
} from './validate.js';

export type { ServeOptions } from './serve-options.js';

export interface ServerEvents<ClientApi extends AnyApi> {
  /** A client connected; the peer can call the client's methods. */
  connection: Peer<ClientApi>;
  /** A notification posted over HTTP (WebSocket clients' notifications are their peer's `notification` events). */
  notification: NotificationEvent;
  /** A message posted over HTTP that matched nothing (malformed, a response): see `PeerEvents.unmatched`. */
  unmatched: UnmatchedEvent;
}

/**
 * What `serve()` resolves to. Typed, as a `Client` is, by what it can call on the other end: `serve<Api,
 * ClientApi>()` gives a `Server<ClientApi>`, whose `connections` are `Peer<ClientApi>` (its own methods, `Api`,
 * are checked where they are given).
 */
export interface Server<ClientApi extends AnyApi = UntypedApi> {
  /** The bound port; with `server`, that server's while it listens; 0 otherwise (and with `noServer`). */
  readonly port: number;
  /**
   * `ws://host:port` (with the `path` when one is set), ready for `connect()`; `wss://` for an attached
   * `https.Server`. With `server`, read from its address while it listens, '' before; '' with `noServer`.
   */
  readonly url: string;
  /**
   * `http://host:port/path` (`https://` for an attached `https.Server`): where JSON-RPC is answered over
   * HTTP POST, ready for `connect()` too. '' when the server does not listen (yet), and with `noServer`.
   */
  readonly httpUrl: string;
  /**
   * Connections currently open (or closing). A peer leaves it as it closes, before its `close` listeners run.
   * Each peer's `connection` tells who is on the other end.
   */
  readonly connections: ReadonlySet<Peer<ClientApi>>;
  on<K extends keyof ServerEvents<ClientApi>>(event: K, listener: (payload: ServerEvents<ClientApi>[K]) => void): () => void;
  /** Like `on`, for the next emit of `event` only; returns a function that removes it before then. */
  once<K extends keyof ServerEvents<ClientApi>>(event: K, listener: (payload: ServerEvents<ClientApi>[K]) => void): () => void;
  /**
   * Takes an upgrade request the app routed here (its 'upgrade' event's arguments): the access checks,
   * `upgradeTimeout` and `maxPayload` apply as to any other. The way in with `noServer`; works in every mode.
   * A socket handed over again (to this server or another) is left to the first.
   */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /**
   * Takes a plain HTTP request the app routed here: JSON-RPC over POST, CORS preflight, and the
   * conventional 404/405/415/426 answers. The way in for HTTP with `noServer`, where any path the app
   * hands over is answered (as with `handleUpgrade`); in the other modes, paths other than `path` get 404.
   * A request handed over again (to this server or another) is left to the first: its calls run once.
   */
  handleRequest(request: IncomingMessage, response: ServerResponse): void;
  /**
   * Stops listening, drops connections not yet upgraded and closes every open one (code 1001; dropped
   * after `closeTimeout`). Resolves once every socket has closed: within about `closeTimeout`.
   * With `{ drain: ms }`, first stops accepting: new upgrades are answered 503 and new requests on open
   * connections -32000 ("server closing"), while running handlers may answer for up to `ms`. An attached
   * server is never closed. Only the first call's options count.
   * Idle HTTP keep-alive connections close at once; those with a request still running are dropped after
   * `closeTimeout` (aborting its handlers), and new calls on them are answered -32000. Attached or with
   * `noServer`, the same holds for the connections carrying callstate's running calls (the app's idle ones are its own).
   */
  close(options?: CloseOptions): Promise<void>;
}

/** A responder in a NATS queue group (`options.nats`): see nats-server.ts. */
export function serve<Api extends AnyApi = UntypedApi>(options: NatsServeOptions<Api>): Promise<NatsServer>;
/** A WebSocket server, which also answers JSON-RPC over HTTP POST on its port (at `path`). */
export function serve<Api extends AnyApi = UntypedApi, ClientApi extends AnyApi = UntypedApi>(
  options: ServeOptions<Api, ClientApi>,
): Promise<Server<ClientApi>>;
export async function serve(options: ServeOptions<any, any> | NatsServeOptions<any>): Promise<Server<any> | NatsServer> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  refuseOptions(options, CLIENT_ONLY, 'is an option of connect(), not of serve()');
  // The transport seam: with `nats`, join a queue group instead of listening for sockets.
  if ('nats' in options) {
    refuseOptions(options, LISTENER_ONLY, "applies to serve()'s WebSocket and HTTP listener only, not to a NATS responder (options.nats)");
    return serveNats(options);
  }
  refuseOptions(options, NATS_ONLY, 'applies to a NATS responder (options.nats) only');
  return serveWs(options);
}

/** Options of `serve()` that only its listener takes: given with `nats`, they would limit nothing. */
const LISTENER_ONLY = [
  'port',
  'host',
  'server',
  'noServer',
  'path',
  'timeout',
  'callSiteStacks',
  'heartbeat',
  'maxPayload',
  'upgradeTimeout',
  'maxConnections',
  'highWaterMark',
  'maxBufferedAmount',
  'drainTimeout',
] as const;
/** Options of `connect()` that no server takes (its calls to clients keep the defaults: docs/limits-and-access.md). */
const CLIENT_ONLY = [
  'maxInFlight',
  'maxQueued',
  'settledMemory',
  'reconnect',
  'headers',
  'tls',
  'handshakeTimeout',
  'inboxPrefix',
] as const;
/** Options of `serve()` that only a NATS responder takes. */
const NATS_ONLY = ['subject', 'queue', 'authenticateTimeout'] as const;

async function serveWs<Api extends AnyApi, ClientApi extends AnyApi>(options: ServeOptions<Api, ClientApi>): Promise<Server<ClientApi>> {
  const methods = validateMethods(options.methods, 'options.methods');
  const { mode, path } = resolveListenMode(options);
  const { timeout, heartbeat, closeTimeout, maxPayload } = resolveConnectionLimits(options, DEFAULT_MAX_PAYLOAD);
  const upgradeTimeout = optionalTimeout(options.upgradeTimeout, 'options.upgradeTimeout', DEFAULT_UPGRADE_TIMEOUT);
  const maxConnections = optionalLimit(options.maxConnections, 'options.maxConnections', DEFAULT_SERVER_MAX_CONNECTIONS, 1);
  const engine = validateEngine(options.engine);
  // Every actor of every connection reports to it, inside its own step: one that throws must not break them.
  const inspect = isolatedInspector(options.inspect);
  const callSiteStacks = optionalBoolean(options.callSiteStacks, 'options.callSiteStacks');
  const exposeErrorStack = optionalBoolean(options.exposeErrorStack, 'options.exposeErrorStack');
  const limits = resolveResponderLimits(options);
  const send = resolveSendLimits(options);
  const check = accessCheck(options.origins, options.authenticate);
  const hooks = resolveHooks(options);

  const events = new Emitter<ServerEvents<ClientApi>>();
  // WebSocket connections and HTTP connections with a POST in progress (or a notification's handler running) share the places of maxConnections.
  const slots = new ConnectionSlots(maxConnections);
  const endpoint = httpEndpoint({
    // With noServer the app routes requests, as upgrades: any path it hands over is ours.
    path: mode.kind === 'noServer' ? undefined : (path ?? '/'),
    methods,
    hooks,
    limits,
    send,
    maxPayload,
    check,
    requestTimeout: upgradeTimeout,
    slots,
    origins: allowedOrigins(options.origins),
    inspect,
    exposeErrorStack,
    engine,
    clock: options.clock,
    onNotification: (event) => events.emit('notification', event),
    onUnmatched: (event) => events.emit('unmatched', event),
  });
  const listener = await listenWs({
    mode,
    path,
    maxPayload,
    check,
    upgradeTimeout,
    slots,
    closeTimeout,
    onRequest: endpoint.handle,
  });

  const connections = new Set<ServerPeer<ClientApi>>();
  listener.onConnection((transport, upgrade, address) => {
    const peer = new ServerPeer<ClientApi>({
      url: `client ${address}`,
      connection: { transport: 'ws', ...upgrade },
      openTransport: () => transport,
      timeout,
      callSiteStacks,
      methods,
      hooks,
      inspect,
      clock: options.clock,
      engine,
      xstate: XSTATE,
      // Nobody holds a server's connection actors: the light engine's is about 4 KB less per connection than XState's.
      connectionEngine: engine,
      heartbeat,
      alreadyOpen: true,
      exposeErrorStack,
      settledMemory: DEFAULT_SETTLED_MEMORY,
      closeTimeout,
      limits,
      send,
      // The server's own calls to this client through ctx.peer.
      maxInFlight: Infinity,
      maxQueued: DEFAULT_MAX_QUEUED,
    });
    connections.add(peer);
    // Gone from `connections` before the app's own 'close' listeners run (this one was added first): one that goes
    // through them, to tell the other clients who left, must not meet the closed peer (its notify would throw).
    peer.on('close', () => connections.delete(peer));
    events.emit('connection', peer);
  });

  let closing: Promise<void> | undefined;

  return {
    get port() {
      return listener.port;
    },
    get url() {
      return urlOf(listener, mode.kind === 'own' ? mode.host : undefined, path, 'ws');
    },
    get httpUrl() {
      return urlOf(listener, mode.kind === 'own' ? mode.host : undefined, path ?? '/', 'http');
    },
    connections,
    on: (event, listener) => events.on(event, listener),
    once: (event, listener) => events.once(event, listener),
    handleUpgrade: (request, socket, head) => listener.handleUpgrade(request, socket, head),
    handleRequest: (request, response) => listener.handleRequest(request, response),
    close: (closeOptions) => {
      const drain = resolveDrain(closeOptions, 0);
      return (closing ??= (async () => {
        endpoint.close();
        if (drain > 0) {
          listener.stopAccepting();
          // HTTP calls still running may answer within the window too (the answer to the last request on a TCP
          // connection then ends it).
          const running = [...[...connections].map((peer) => peer.stopAcceptingCalls()), endpoint.idle()];
          await drainWindow(Promise.all(running), drain, options.clock);
        }
        // HTTP calls still running: on the own listener its close would drop their connections; attached or
        // noServer, nothing of ours owns them, so the endpoint ends them itself. First: its timer, as long as the
        // listener's, is then due no later, and aborts their handlers saying the server is closing before the
        // listener's drops their sockets (which would say the connection closed).
        const http = endpoint.end(closeTimeout);
        const done = listener.close(closeTimeout);
        await Promise.all([...connections].map((peer) => peer.leave()));
        await Promise.all([done, http]);
      })());
    },
  };
}

/** Which listener `options` ask for: own (port, host), attached (server) or none (noServer); contradictions are TypeErrors. */
function resolveListenMode(options: ServeOptions<any, any>): { mode: ListenMode; path: string | undefined } {
  const { server, noServer } = options;
  if (noServer !== undefined && typeof noServer !== 'boolean')
    throw new TypeError(`options.noServer must be a boolean, got ${typeof noServer}`);
  const chosen = [options.port !== undefined && 'port', server !== undefined && 'server', noServer === true && 'noServer'].filter(Boolean);
  if (chosen.length > 1)
    throw new TypeError(`options.${chosen.join(' and options.')} cannot be used together: give one of port, server or noServer`);
  const path = options.path === undefined ? undefined : validatePath(options.path, 'options.path');
  if (server !== undefined) {
    if (
      server === null ||
      typeof server !== 'object' ||
      typeof (server as { on?: unknown }).on !== 'function' ||
      typeof (server as { address?: unknown }).address !== 'function'
    )
      throw new TypeError('options.server must be an http.Server or https.Server');
    if (options.host !== undefined)
      throw new TypeError('options.host applies to the own listener only (the attached server is already bound)');
    return { mode: { kind: 'attached', server }, path: path ?? '/' };
  }
  if (noServer === true) {
    if (options.host !== undefined) throw new TypeError('options.host does not apply with options.noServer');
    if (path !== undefined)
      throw new TypeError('options.path does not apply with options.noServer: the app routes upgrades to handleUpgrade');
    return { mode: { kind: 'noServer' }, path };
  }
  const port = optionalInteger(options.port, 'options.port', 0, 0, 65_535);
  const host = optionalHost(options.host);
  return { mode: { kind: 'own', port, host }, path };
}

/** The URL clients connect to: at `host` (the own listener's), else where the server listens; '' when it does not (yet). */
function urlOf(listener: WsListener, host: string | undefined, path: string | undefined, scheme: 'ws' | 'http'): string {
  const address = listener.address;
  if (address === undefined) return '';
  const shown = urlHost(host ?? address.address);
  const shownPath = scheme === 'http' ? path : path === undefined || path === '/' ? '' : path;
  return `${scheme}${listener.secure ? 's' : ''}://${shown}:${address.port}${shownPath}`;
}
