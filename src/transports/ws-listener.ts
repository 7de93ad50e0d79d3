/**
 * The WebSocket listener: an HTTP server of its own whose upgrade requests `ws`
 * turns into sockets. It owns every TCP connection from accept to close, so
 * that none can hold the server open:
 *
 *   accepted ──(request, access check, 101)──► upgraded: a WsTransport, closed by its Peer
 *      │
 *      ├── a plain request ────────► onRequest: an HTTP connection (keep-alive) from then on;
 *      │                              Node's timeouts bound it, a later upgrade gets a new deadline
 *      ├── upgradeTimeout passes ──► HTTP 408, dropped   (headers trickled, authenticate stuck)
 *      └── close() ────────────────► dropped at once (HTTP connections: idle ones at once, the rest after the timeout)
 *
 * `ws` alone leaves the first row open: its `close()` waits for the HTTP
 * server, and the HTTP server waits for every connection, including one that
 * never sends a byte. An upgrade abandoned by its deadline is never completed,
 * whatever its access check answers later.
 */
import { createServer, STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { WsTransport } from './ws.js';

export interface WsListener {
  /** The bound port. */
  readonly port: number;
  /** Sets the handler of each accepted socket, with the client's address. */
  onConnection(handler: (transport: WsTransport, address: string) => void): void;
  /**
   * Stops accepting and drops every connection not yet upgraded. Upgraded
   * sockets are left to their owners to close; any still open after `timeout`
   * ms is dropped. Resolves once every socket has closed.
   */
  close(timeout: number): Promise<void>;
}

/** What an access check sees of an upgrade request. */
export interface UpgradeRequest {
  headers: IncomingHttpHeaders;
  /** The request's path and query, e.g. `/rpc?token=x`. */
  url: string;
  remoteAddress: string | undefined;
}

/** An access check's answer: undefined to accept, or the HTTP status and body to refuse with. */
export type UpgradeCheck = (request: UpgradeRequest) => Promise<{ status: number; reason: string } | undefined>;

export interface WsListenOptions {
  port: number;
  host: string;
  /** Largest incoming frame in bytes (required: ws reads an undefined as "no limit"). */
  maxPayload: number;
  /** Runs on every upgrade request before the socket is accepted; a refusal answers with its HTTP status. */
  check?: UpgradeCheck;
  /** Longest a connection may go from accept to upgraded (request, check and answer), in ms; then it gets 408 and is dropped. */
  upgradeTimeout: number;
  /**
   * Answers plain (non-upgrade) HTTP requests. A connection that sends one is an HTTP connection from then
   * on: its upgrade deadline no longer applies (Node's `requestTimeout` and `keepAliveTimeout` bound it).
   * Default: every plain request is answered 426 (this port speaks WebSocket only).
   */
  onRequest?: (request: IncomingMessage, response: ServerResponse) => void;
}

/** Listens for WebSocket connections. Rejects when the port cannot be bound (EADDRINUSE). */
export async function listenWs(options: WsListenOptions): Promise<WsListener> {
  const { check, upgradeTimeout } = options;
  /** Connections not yet upgraded (nor answered), with the timer of their deadline. */
  const upgrading = new Map<Duplex, NodeJS.Timeout>();
  /** Every open TCP connection. */
  const sockets = new Set<Socket>();

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: options.maxPayload,
    // The refusal is an HTTP answer to the upgrade: no socket, no connection, no call is ever handled.
    verifyClient: check
      ? (info: { req: IncomingMessage }, accept: (ok: boolean, status?: number, reason?: string) => void) => {
          const { req } = info;
          void check({ headers: req.headers, url: req.url ?? '/', remoteAddress: req.socket.remoteAddress }).then((refusal) => {
            // Past its deadline (answered 408) or the listener's close (dropped): the answer comes too late.
            if (!upgrading.has(req.socket)) return;
            if (refusal) accept(false, refusal.status, refusal.reason);
            else accept(true);
          });
        }
      : undefined,
  });

  // The HTTP timeouts bound a request's headers in Node's own way (checked every few seconds); the
  // upgrade deadline below is the exact bound, and also covers the access check.
  const onRequest = options.onRequest ?? answerPlainRequest;
  /** Connections that carried plain HTTP requests: one may still ask for an upgrade later, under a new deadline. */
  const served = new WeakSet<Duplex>();
  // Node checks these every `connectionsCheckingInterval` (30 s by default): often enough here that a POST body
  // trickled byte by byte is answered 408 within about upgradeTimeout, not half a minute later.
  const http = createServer(
    { headersTimeout: upgradeTimeout, requestTimeout: upgradeTimeout, connectionsCheckingInterval: Math.min(upgradeTimeout, 1_000) },
    (request, response) => {
      const socket = request.socket;
      if (!served.has(socket)) {
        served.add(socket);
        clearTimeout(upgrading.get(socket));
        upgrading.delete(socket);
      }
      onRequest(request, response);
    },
  );
  /** Drops `socket` with 408 unless it is upgraded within `upgradeTimeout`. */
  const limitUpgrade = (socket: Duplex) =>
    upgrading.set(
      socket,
      setTimeout(() => {
        upgrading.delete(socket);
        abort(socket, 408);
      }, upgradeTimeout),
    );
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    limitUpgrade(socket);
    socket.once('close', () => {
      sockets.delete(socket);
      clearTimeout(upgrading.get(socket));
      upgrading.delete(socket);
    });
  });
  http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (served.has(socket) && !upgrading.has(socket) && !closed) limitUpgrade(socket);
    if (!upgrading.has(socket)) return void socket.destroy();
    wss.handleUpgrade(request, socket, head, (ws) => {
      clearTimeout(upgrading.get(socket));
      upgrading.delete(socket);
      wss.emit('connection', ws, request);
    });
  });

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port, options.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  // A failed accept (EMFILE, for one) fails that client's connect; the server keeps listening.
  http.on('error', () => {});

  let closed: Promise<void> | undefined;
  return {
    port: (http.address() as AddressInfo).port,
    onConnection: (handler) => {
      wss.on('connection', (socket, request) =>
        handler(new WsTransport(socket), `${request.socket.remoteAddress}:${request.socket.remotePort}`),
      );
    },
    close: (timeout) =>
      (closed ??= new Promise<void>((resolve) => {
        // Resolves once every connection has closed, upgraded ones included.
        http.close(() => resolve());
        wss.close();
        for (const [socket, timer] of upgrading) {
          clearTimeout(timer);
          socket.destroy();
        }
        upgrading.clear();
        const late = setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, timeout);
        http.once('close', () => clearTimeout(late));
      })),
  };
}

/** A request that asks for no upgrade: this port speaks WebSocket only. */
function answerPlainRequest(_request: IncomingMessage, response: ServerResponse): void {
  const body = STATUS_CODES[426]!;
  response.writeHead(426, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body), Connection: 'close' }).end(body);
}

/** Answers with `status` on the raw socket, then drops it. */
function abort(socket: Duplex, status: number): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = STATUS_CODES[status] ?? '';
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${body}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
