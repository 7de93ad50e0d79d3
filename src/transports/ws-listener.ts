/**
 * The WebSocket listener: upgrade requests that `ws` turns into sockets, in one
 * of three modes that differ only in where requests come from:
 *
 *   own       an HTTP server of its own, listening on `port`: it owns every TCP connection
 *   attached  the user's `http.Server`/`https.Server`: upgrades on `path` only; other paths are
 *             left to the app's own 'upgrade' listeners (404 when it has none)
 *   noServer  the user's framework routes upgrades to `handleUpgrade(request, socket, head)`
 *
 * Each upgrade then goes the same way:
 *
 *   accepted ──(request, access check, 101)──► upgraded: a WsTransport, closed by its Peer
 *      │
 *      ├── a plain request ────────► onRequest: an HTTP connection (keep-alive) from then on;
 *      │                              Node's timeouts bound it, a later upgrade gets a new deadline
 *      ├── upgradeTimeout passes ──► HTTP 408, dropped   (headers trickled, authenticate stuck)
 *      ├── stopAccepting() ────────► HTTP 503, dropped   (a server draining)
 *      ├── maxConnections held ────► HTTP 503, dropped   (before its access check; POSTs in progress hold places too)
 *      ├── Upgrade: other than websocket (h2c) ─► HTTP 400 naming it, dropped (Node gives no request to serve)
 *      ├── pipelined behind requests still answered ─► waits until their answers are sent, then goes on (within its deadline)
 *      └── close() ────────────────► dropped at once (HTTP connections: idle ones at once, the rest after the timeout)
 *
 * The deadline starts at the TCP accept in the own mode (so a connection that
 * never sends a byte cannot hold the server open: `ws` alone would leave it
 * open, and its `close()` would wait for it) and at the upgrade request in the
 * others. An upgrade abandoned by its deadline is never completed, whatever
 * its access check answers later. Closing never closes the user's server.
 *
 * Plain (non-upgrade) requests on `path` go to `onRequest` when one is given:
 * in the attached mode the server's own 'request' listeners are wrapped (as
 * engine.io's `attach()` does) so that everything else still reaches the app,
 * once for every callstate server attached to it (attach.ts).
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type ServerOptions } from 'ws';
import type { ConnectionSlots } from './connection-slots.js';
import type { AcceptedUpgrade, UpgradeCheck } from './upgrade.js';
import { attach, pathnameOf } from './attach.js';

export type { AcceptedUpgrade, AccessVerdict, UpgradeCheck, UpgradeRequest } from './upgrade.js';
import { WsTransport } from './ws.js';

/** A plain HTTP request handler, as `http.createServer` takes. */
export type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

export interface WsListener {
  /** The bound port (own mode), or the attached server's while it listens; 0 otherwise. */
  readonly port: number;
  /** The address the server listens on (own and attached modes, while listening). */
  readonly address: AddressInfo | undefined;
  /** Whether the server speaks TLS (an attached `https.Server`): its URLs are `wss://`. */
  readonly secure: boolean;
  /** Sets the handler of each accepted socket, with who is on the other end and its `address:port`. */
  onConnection(handler: (transport: WsTransport, upgrade: AcceptedUpgrade, address: string) => void): void;
  /** Takes an upgrade request the caller routed here (every mode; the noServer mode's only way in). */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Takes a plain request the caller routed here: `onRequest` when set, else 426 (this endpoint speaks WebSocket). */
  handleRequest: RequestHandler;
  /** New upgrades are refused with 503 from now on; open sockets are left alone (a server draining). */
  stopAccepting(): void;
  /**
   * Stops accepting and drops every connection not yet upgraded. Upgraded
   * sockets are left to their owners to close; any still open after `timeout`
   * ms is dropped. Resolves once every socket this listener took has closed.
   */
  close(timeout: number): Promise<void>;
}

/** Where requests come from: see the modes above. */
export type ListenMode =
  { kind: 'own'; port: number; host: string } | { kind: 'attached'; server: HttpServer | HttpsServer } | { kind: 'noServer' };

export interface WsListenOptions {
  mode: ListenMode;
  /** The pathname upgrades (and `onRequest` requests) are taken on; undefined: any (own and noServer modes only). */
  path: string | undefined;
  /** Largest incoming frame in bytes (required: ws reads an undefined as "no limit"). */
  maxPayload: number;
  /** Runs on every upgrade request before the socket is accepted; a refusal answers with its HTTP status. */
  check?: UpgradeCheck;
  /** Longest a connection may go from accept (or its upgrade request) to upgraded, in ms; then it gets 408 and is dropped. */
  upgradeTimeout: number;
  /**
   * The places of `maxConnections`, shared with the HTTP endpoint's POSTs: a WebSocket connection (its upgrade under
   * way included) takes one, and one more is answered 503 before its access check runs. ws has no such limit, and
   * each connection holds its socket, its buffers and its `Peer`.
   */
  slots: ConnectionSlots;
  /**
   * Longest the close handshake of an upgraded socket may take, in ms, whichever side began it; then the socket is
   * dropped. ws's own default (30 s) would let a client that sent its close frame but keeps its TCP connection open
   * hold the connection, and its handlers, that long.
   */
  closeTimeout: number;
  /**
   * Answers plain (non-upgrade) HTTP requests on `path` (the HTTP endpoint). In the own mode a connection that
   * sends one is an HTTP connection from then on: its upgrade deadline no longer applies (Node's
   * `requestTimeout` and `keepAliveTimeout` bound it). Default: none: 426 in the own mode, the app's
   * listeners when attached.
   */
  onRequest?: RequestHandler;
}

/** A connection not yet upgraded: its deadline, whether its upgrade request came, and once its check accepted, the data to attach. */
interface Pending {
  timer: NodeJS.Timeout;
  requested?: boolean;
  data?: unknown;
}

/** Sockets given to ws's handleUpgrade, by any callstate server: only the first hand-over of each counts. */
const handedOver = new WeakSet<Duplex>();

/** Listens for WebSocket connections. Rejects when the port cannot be bound (EADDRINUSE) in the own mode. */
export async function listenWs(options: WsListenOptions): Promise<WsListener> {
  const { check, upgradeTimeout, mode, path, onRequest } = options;
  /** Connections not yet upgraded (nor answered), with their deadlines. */
  const upgrading = new Map<Duplex, Pending>();
  /** Every socket this listener holds: every TCP connection in the own mode, upgraded (and upgrading) ones otherwise. */
  const sockets = new Set<Duplex>();
  let accepting = true;
  let closed: Promise<void> | undefined;
  let connectionHandler: ((transport: WsTransport, upgrade: AcceptedUpgrade, address: string) => void) | undefined;
  /**
   * The socket each upgrade request was handed over with: not always `request.socket` (an app may hand over a
   * Duplex of its own, as ws allows), and the access check, which ws gives only the request, must find its upgrade.
   */
  const socketOf = new WeakMap<IncomingMessage, Duplex>();

  // ws reads `closeTimeout` (since 8.23), which its types do not list yet.
  const serverOptions: ServerOptions & { closeTimeout: number } = {
    noServer: true,
    perMessageDeflate: false,
    maxPayload: options.maxPayload,
    closeTimeout: options.closeTimeout,
    // Answered by the transport (WsTransport.answerPing), which says why it drops a client that floods it with pings.
    autoPong: false,
    // The refusal is an HTTP answer to the upgrade: no socket, no connection, no call is ever handled.
    verifyClient: check
      ? (info: { req: IncomingMessage }, accept: (ok: boolean, status?: number, reason?: string) => void) => {
          const { req } = info;
          void check({ headers: req.headers, url: req.url ?? '/', remoteAddress: req.socket.remoteAddress }).then((verdict) => {
            // Past its deadline (answered 408), the listener's close (dropped) or a drain (503): the answer comes too late.
            const pending = upgrading.get(socketOf.get(req) ?? req.socket);
            if (pending === undefined) return;
            if (!verdict.accepted) return accept(false, verdict.status, verdict.reason);
            pending.data = verdict.data;
            accept(true);
          });
        }
      : undefined,
  };
  const wss = new WebSocketServer(serverOptions);

  /** Connections that carried plain HTTP requests (own mode): one may still ask for an upgrade later, under a new deadline. */
  const served = new WeakSet<Duplex>();

  /** Drops `socket` with 408 unless it is upgraded within `upgradeTimeout`. */
  const limitUpgrade = (socket: Duplex) =>
    upgrading.set(socket, {
      timer: setTimeout(() => {
        upgrading.delete(socket);
        abort(socket, 408);
      }, upgradeTimeout),
    });

  /** Tracks `socket` until it closes; it must be upgraded within upgradeTimeout. */
  const track = (socket: Duplex) => {
    if (sockets.has(socket)) return;
    sockets.add(socket);
    limitUpgrade(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      clearTimeout(upgrading.get(socket)?.timer);
      upgrading.delete(socket);
      if (closed !== undefined && sockets.size === 0) allClosed();
    });
  };

  const handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    // Handed over twice (an app routing every upgrade here on top of the listener attached to its server, or to two
    // servers): the upgrade under way, or done, is this socket's; the second hand-over is not a reason to drop it
    // (and given to ws again, here or by another server, it would throw from the app's 'upgrade' listener).
    if (handedOver.has(socket)) return;
    // A socket already destroyed (its client left while the app decided where to route it) has nothing to upgrade,
    // and may have emitted its last 'close': tracked, it would hold close() open forever.
    if (socket.destroyed) return;
    // Closed (an app still routing upgrades here, or one on a keep-alive connection of the own listener): answered as a
    // draining server answers, not dropped unanswered, which its client could only report as "socket hang up".
    if (closed !== undefined) return abort(socket, 503);
    // Another protocol (`curl --http2` asks for h2c on every request, its JSON-RPC POSTs too): Node hands such a
    // request over as an upgrade, never as a request to answer, and ws would answer a POST "405 Invalid HTTP
    // method", though POST is what the path takes. Refused here, saying what to send instead.
    const protocol = request.headers.upgrade;
    if (protocol !== undefined && protocol.trim().toLowerCase() !== 'websocket') {
      const reason = `Upgrade: ${protocol} is not taken here (only websocket): send the ${request.method} without it (curl: --http1.1)`;
      return abort(socket, 400, reason);
    }
    track(socket); // own mode: already tracked since the accept, with its deadline running
    if (served.has(socket) && !upgrading.has(socket)) limitUpgrade(socket); // an HTTP connection asking to upgrade
    const pending = upgrading.get(socket);
    if (pending === undefined) return void socket.destroy(); // past its deadline
    // Pipelined behind a request on this connection still being answered (a POST whose handler runs): Node hands the
    // upgrade over at once, and its 101 went out before that answer, which was then written into the WebSocket
    // stream. Taken once the answers before it are sent (each pipelined answer gets the socket in its turn), within
    // its deadline.
    const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (answering != null && !answering.writableFinished) {
      // Node took its own 'error' listener off the socket as it handed the upgrade over, and ws adds one only once it
      // takes it: a client that resets the connection meanwhile would end the process with an uncaught error.
      socket.on('error', dropOnError);
      answering.once('close', () => {
        socket.off('error', dropOnError);
        handleUpgrade(request, socket, head);
      });
      return;
    }
    if (!accepting) return refuse(socket, 503);
    // Its place is held until the socket closes (a keep-alive connection whose POSTs held one keeps that one).
    if (!options.slots.take(socket)) return refuse(socket, 503, options.slots.refusal);
    pending.requested = true;
    handedOver.add(socket);
    socketOf.set(request, socket);
    wss.handleUpgrade(request, socket, head, (ws) => {
      clearTimeout(pending.timer);
      upgrading.delete(socket);
      const upgrade: AcceptedUpgrade = {
        remoteAddress: request.socket.remoteAddress,
        headers: request.headers,
        url: request.url ?? '/',
        data: pending.data,
      };
      connectionHandler?.(new WsTransport(ws), upgrade, `${request.socket.remoteAddress}:${request.socket.remotePort}`);
    });
  };

  /** Drops the upgrade with `status` and `reason` (its deadline no longer runs). */
  const refuse = (socket: Duplex, status: number, reason?: string) => {
    clearTimeout(upgrading.get(socket)?.timer);
    upgrading.delete(socket);
    abort(socket, status, reason);
  };

  const handleRequest: RequestHandler = onRequest ?? answerPlainRequest;
  const onPath = (request: IncomingMessage) => path === undefined || pathnameOf(request.url) === path;

  let allClosed: () => void = () => {};
  /** Undoes what the listener did to the user's server, or closes its own. */
  let release: () => void;
  let server: HttpServer | HttpsServer | undefined;

  switch (mode.kind) {
    case 'own': {
      // The HTTP timeouts bound a request's headers in Node's own way (checked every few seconds); the
      // upgrade deadline is the exact bound, and also covers the access check.
      // Node checks these every `connectionsCheckingInterval` (30 s by default): often enough here that headers
      // trickled byte by byte are answered 408 within about upgradeTimeout, not half a minute later.
      // A POST's body has the HTTP endpoint's own deadline (upgradeTimeout from its headers), whose 408 carries the
      // request's CORS headers. Node's requestTimeout, counted from the request's first byte, only backs it up: set
      // past the latest that deadline can end (headers within headersTimeout, then upgradeTimeout) and one check
      // more, so that Node's bare 408 (a network error to a browser's page) never answers first.
      const checkEvery = Math.min(upgradeTimeout, 1_000);
      const own = createServer(
        { headersTimeout: upgradeTimeout, requestTimeout: 2 * upgradeTimeout + checkEvery, connectionsCheckingInterval: checkEvery },
        (request, response) => {
          const socket = request.socket;
          if (!served.has(socket)) {
            // An HTTP connection from now on: Node's timeouts bound it, not the upgrade deadline.
            served.add(socket);
            clearTimeout(upgrading.get(socket)?.timer);
            upgrading.delete(socket);
          }
          if (onPath(request)) handleRequest(request, response);
          else answerStatus(response, 404);
        },
      );
      // Expect: 100-continue is the endpoint's to answer once it wants the body (after the access check and
      // the size): Node would tell every such client to send its body before the request is even seen.
      own.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => own.emit('request', request, response));
      own.on('connection', (socket: Socket) => track(socket));
      own.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) =>
        onPath(request) ? handleUpgrade(request, socket, head) : abort(socket, 404),
      );
      await new Promise<void>((resolve, reject) => {
        own.once('error', reject);
        own.listen(mode.port, mode.host, () => {
          own.off('error', reject);
          resolve();
        });
      });
      // A failed accept (EMFILE, for one) fails that client's connect; the server keeps listening.
      own.on('error', () => {});
      server = own;
      release = () => own.close();
      break;
    }
    case 'attached': {
      // Shared with any other callstate server attached to the same app server (attach.ts): one listener routes by path.
      const detach = attach(
        mode.server,
        path ?? '/',
        { upgrade: handleUpgrade, request: onRequest === undefined ? undefined : handleRequest },
        { upgrade: (socket) => abort(socket, 404), request: (response) => answerStatus(response, 404) },
      );
      server = mode.server;
      release = detach;
      break;
    }
    case 'noServer':
      release = () => {};
      break;
  }

  const address = () => {
    const bound = server?.address();
    return bound !== null && typeof bound === 'object' ? bound : undefined;
  };

  return {
    get port() {
      return address()?.port ?? 0;
    },
    get address() {
      return address();
    },
    secure: server instanceof TlsServer,
    onConnection: (handler) => {
      connectionHandler = handler;
    },
    handleUpgrade,
    handleRequest,
    stopAccepting: () => {
      accepting = false;
      // Upgrades waiting on their checks are refused now, not let in late; the others are when their request comes.
      for (const [socket, pending] of [...upgrading]) if (pending.requested) refuse(socket, 503);
    },
    close: (timeout) =>
      (closed ??= new Promise<void>((resolve) => {
        accepting = false;
        release();
        wss.close();
        for (const [socket, { timer }] of upgrading) {
          clearTimeout(timer);
          socket.destroy();
        }
        upgrading.clear();
        const late = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, timeout);
        allClosed = () => {
          clearTimeout(late);
          resolve();
        };
        if (sockets.size === 0) allClosed();
      })),
  };
}

/** A request that asks for no upgrade: this endpoint speaks WebSocket only. */
function answerPlainRequest(_request: IncomingMessage, response: ServerResponse): void {
  answerStatus(response, 426);
}

function answerStatus(response: ServerResponse, status: number): void {
  const body = STATUS_CODES[status]!;
  response.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), Connection: 'close' }).end(body);
}

/** Answers with `status` on the raw socket (its body `reason`, by default the status's name), then drops it. */
function abort(socket: Duplex, status: number, reason?: string): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Node takes its own 'error' listener off a socket it hands over as an upgrade (ws adds one only once it takes the
  // socket): a client that resets the connection while this answer is written (ECONNRESET, EPIPE) would otherwise end
  // the process with an uncaught error.
  socket.on('error', dropOnError);
  const text = STATUS_CODES[status] ?? '';
  const body = reason ?? text;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** What a socket being refused does with an error: nothing more is written to it. */
function dropOnError(this: Duplex): void {
  this.destroy();
}
