/**
 * The options of `serve()` over WebSocket (and HTTP POST on the same port), as the client's are in
 * client-options.ts. Types only: this file is part of the package's public declarations, which must not
 * reach `ws`'s types (a user need not install @types/ws). `server.ts` resolves them and composes the server.
 */
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Authenticate } from './access.js';
import type { HookOptions } from './hooks.js';
import type { ResponderLimitOptions, SendLimitOptions } from './limits.js';
import type { AnyApi, Clock, Engine, InspectOption, Methods, UntypedApi } from './types.js';

export interface ServeOptions<Api extends AnyApi = UntypedApi, ClientApi extends AnyApi = UntypedApi>
  extends ResponderLimitOptions, SendLimitOptions, HookOptions {
  /** Port to listen on; 0 picks a free one. Not with `server` or `noServer`. Default: 0. */
  port?: number;
  /** Interface to listen on. Not with `server` or `noServer`. Default: '127.0.0.1' (pass '0.0.0.0' or '::' to accept remote clients). */
  host?: string;
  /**
   * Attach to an existing `http.Server` or `https.Server` (Express's, Fastify's `server`, …) instead of
   * listening: WebSocket upgrades on `path` become connections; requests and upgrades on other paths are
   * left to the app (an upgrade on another path is answered 404 only if the app has no 'upgrade' listener
   * of its own). `close()` closes callstate's connections, never the server. Several may share one server, each on a
   * path of its own (a path taken already throws `TypeError`). Default: none.
   */
  server?: HttpServer | HttpsServer;
  /**
   * Listen on nothing: the app hands upgrade requests over with `server.handleUpgrade(request, socket, head)`
   * (for frameworks that route upgrades themselves). Default: false.
   */
  noServer?: boolean;
  /**
   * The path (without query) WebSocket upgrades are taken on, e.g. `'/rpc'`; others are answered 404 (own
   * listener) or left to the app (`server`). Not with `noServer`, where the app routes. Default: '/' with
   * `server`, any path on the own listener.
   * JSON-RPC over HTTP POST is answered at this path too (default '/'; requests to other paths get 404, or
   * reach the app's own listeners with `server`).
   */
  path?: string;
  /** The methods clients may call. */
  methods: Methods<Api, ClientApi>;
  /** Default timeout of calls the server makes to clients through `ctx.peer`, in ms. Default: 10,000. */
  timeout?: number;
  /** Errors of the server's calls to clients show the caller's stack: see `ClientOptions.callSiteStacks`. Default: false. */
  callSiteStacks?: boolean;
  /** Inspection observer given to every actor the server creates. Default: none. */
  inspect?: InspectOption;
  /** Clock for timeouts of server-to-client calls, `handlerTimeout` and the window of `close({ drain })`. Default: real timers. */
  clock?: Clock;
  /**
   * Heartbeat interval in ms: each client is pinged every half interval, and one
   * that has answered nothing for an interval (gone without a close frame) is
   * dropped, aborting its handlers. 0 turns it off. Default: 30,000.
   */
  heartbeat?: number;
  /** What runs each call's machine, both ways: `'light'` (default) or `'xstate'` (a full XState actor per call). */
  engine?: Engine;
  /**
   * Largest incoming frame in bytes; a larger one is refused at its header, closing the socket with 1009. Over HTTP, the
   * largest request body: a larger one is answered 413 without being read (a chunked one once it passes the limit). Default: 1 MiB.
   */
  maxPayload?: number;
  /** Include a handler error's stack in the error response's `data`. Default: false. */
  exposeErrorStack?: boolean;
  /**
   * How long a close handshake may take before the socket is dropped, in ms: `close()`'s with each client, and one a
   * client began (its close frame came, its TCP connection stays open), whose handlers then abort. Default: 1,000.
   */
  closeTimeout?: number;
  /**
   * Longest a handler may run, in ms: past it, its `ctx.signal` aborts (reason: a `TimeoutError` DOMException)
   * and the caller gets error -32001 naming the method and the limit. Timed by `clock`. Default: none; 10,000 for the
   * handler of a notification posted over HTTP, which nothing else ends (its POST was answered 204 at once, and it
   * holds its connection's place of `maxConnections` until it ends). A caller that goes away (its connection closes, or it
   * sends `$/cancelRequest`, as callstate's client does on a cancel and on its timeout) frees its call's place at once,
   * whatever the handler does.
   */
  handlerTimeout?: number;
  /** Most messages in a JSON-RPC batch; a longer batch is answered with one -32600 (id null) and none of it runs. Default: 100. */
  maxBatch?: number;
  /**
   * Deepest nesting of arrays and objects in a frame (the frame itself is 1); a deeper frame is answered -32600 (id null)
   * and not run. A single response (the answer to a call this side made) is not limited. Default: 64.
   */
  maxDepth?: number;
  /**
   * Incoming calls running at once on one connection; a request beyond it is answered -32000 ("server busy") at once and not run.
   * Over HTTP a connection is a TCP connection (keep-alive): the calls of every request on it count. Default: 10,000.
   */
  maxInFlightPerConnection?: number;
  /**
   * Size of the incoming calls running at once on one connection, in characters of their JSON text (a call in a
   * batch counts its own), notifications running a method included: their params stay in memory until
   * their handlers end. The answers of a batch count too, from the end of their calls until the whole batch is
   * answered. One that would pass it is answered -32000 ("server busy") at once and not run, unless nothing
   * else runs (`maxPayload` bounds that one). Over HTTP, per TCP connection. Default: 16 MiB (16 frames of the
   * default `maxPayload`; without it a client could hold `maxInFlightPerConnection` × `maxPayload`, 10 GiB).
   */
  maxInFlightBytesPerConnection?: number;
  /**
   * While a client's socket holds this many bytes not yet sent (a client that does not read its answers),
   * its new requests are answered -32000 ("server busy") without running, and calls to it wait in `queued`. Default: 4 MiB.
   */
  highWaterMark?: number;
  /**
   * A client that lets this many unsent bytes pile up is dropped at once, with 1008. Also the most bytes of the calls
   * and notifications to it waiting in `queued` (behind a full socket buffer): one more that would pass it is refused
   * with `QueueFullError`, unless nothing waits. Default: 64 MiB.
   */
  maxBufferedAmount?: number;
  /**
   * A client that reads nothing for this long while its socket holds `highWaterMark` unsent bytes is dropped, with 1008, in ms.
   * Over HTTP the same holds for the TCP connection an answer waits on, unread: it is dropped (as are `maxBufferedAmount`'s). Default: 30,000.
   */
  drainTimeout?: number;
  /**
   * Allowed values of the upgrade request's Origin header, e.g. `['https://app.example']`; another
   * origin is refused with HTTP 403. A request without Origin (not a browser) is refused too, unless
   * the list holds `'none'`. Over HTTP the same holds for each POST, and CORS follows it: answers to an
   * allowed origin carry `Access-Control-Allow-Origin` (that origin; `*` when `origins` is not set), and a
   * preflight (OPTIONS) from an allowed origin is answered 204 with the allowed methods and headers, from
   * another 403. No `Access-Control-Allow-Credentials` is sent. Default: any origin, and none.
   */
  origins?: string[];
  /**
   * Decides on each upgrade request (`{ headers, url, remoteAddress }`) before the socket is accepted:
   * `true` accepts, `{ data }` accepts and attaches `data` to the connection (`peer.connection.data`,
   * handlers' `ctx.connection.data`), `false` refuses with HTTP 401, `{ status: 401 | 403, reason }` refuses
   * with that status (the reason is the body, shown in the client's error); a hook that throws refuses with
   * 500. An object is an acceptance only with a `data` property and neither `status` nor `reason`: anything
   * else refuses. Default: none.
   * Over HTTP it decides on each POST the same way, before the body is read (nothing of a refused body is
   * read or run; `{ data }` reaches that POST's handlers); one that takes longer than `upgradeTimeout` refuses with 408.
   */
  authenticate?: Authenticate;
  /**
   * Longest a connection may take to become a WebSocket, in ms: from the TCP accept through the
   * upgrade request's headers and `authenticate` to the answer. Past it the client gets HTTP 408 and
   * the socket is dropped; a late `authenticate` answer is ignored. Over HTTP, the longest a POST may take from its
   * headers through `authenticate` to the end of its body (408 past it), in every mode. Default: 10,000.
   */
  upgradeTimeout?: number;
  /**
   * Most TCP connections held at once: WebSocket ones (upgrades under way included), and HTTP ones while a POST on
   * them is in progress (each counted once, however many it carries). One more upgrade, or a POST on another TCP
   * connection, is answered HTTP 503 (its body saying why) before `authenticate` runs; a WebSocket client's
   * `connect()` fails with that (with `reconnect`, it tries again later). Default: 10,000.
   */
  maxConnections?: number;
}
