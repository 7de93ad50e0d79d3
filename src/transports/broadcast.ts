/**
 * A one-way WebSocket endpoint on an existing HTTP server: every connected
 * reader gets a greeting, then each broadcast text frame. Used by the
 * inspection page; besides ws.ts and ws-listener.ts, the only file that imports `ws`.
 */
import type { Server as HttpServer, OutgoingHttpHeaders } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';

/** A reader this far behind is dropped (it reconnects and is greeted with the current state). */
const MAX_BUFFERED = 4 * 1024 * 1024;

/** A refusal's reason is text (ws would label it text/html). */
const PLAIN = { 'Content-Type': 'text/plain; charset=utf-8' };

export interface Broadcast {
  /** Readers connected now. */
  readonly readers: number;
  /** Sends `text` to every connected reader: one copy of its bytes, shared by all of them. */
  send(text: string): void;
  /** Drops every reader and stops accepting. */
  close(): Promise<void>;
}

/** The most readers connected at once, and the reason an upgrade past it is refused with (HTTP 503). */
export interface ReaderLimit {
  readers: number;
  reason: string;
  /**
   * Every this many ms each reader is pinged; one that has not answered the previous ping is dropped,
   * so a reader gone without a word (a sleeping laptop, a pulled cable) frees its place in `readers`.
   */
  heartbeat: number;
}

/**
 * Accepts WebSocket upgrades on `path` of `server`; `greeting()` is sent first to each new reader (a Buffer, as a text
 * frame: readers greeted with the same Buffer share its bytes).
 * An upgrade whose Origin header (undefined when absent) fails `allowOrigin` is refused with HTTP 403;
 * one that finds `limit.readers` connected, with HTTP 503 and `limit.reason` (before any WebSocket
 * exists: the readers connected are left alone). A reader counts until its socket has closed, or
 * until it leaves a ping unanswered for `limit.heartbeat` ms.
 */
export function attachBroadcast(
  server: HttpServer,
  path: string,
  greeting: () => string | Buffer,
  allowOrigin: (origin: string | undefined) => boolean,
  limit: ReaderLimit,
): Broadcast {
  const wss = new WebSocketServer({
    server,
    path,
    perMessageDeflate: false,
    maxPayload: 64 * 1024,
    verifyClient: (
      info: { origin: string | undefined },
      decide: (ok: boolean, status?: number, reason?: string, headers?: OutgoingHttpHeaders) => void,
    ) => {
      if (!allowOrigin(info.origin)) decide(false, 403, `origin ${info.origin} is not allowed`, PLAIN);
      // Accepted here, a reader joins wss.clients before this returns (ws completes the upgrade synchronously): the count is exact.
      else if (wss.clients.size >= limit.readers) decide(false, 503, limit.reason, PLAIN);
      else decide(true);
    },
  });
  // ws re-emits the HTTP server's errors here; they belong to the HTTP server's owner, who handles them there.
  wss.on('error', () => {});
  const silent = new WeakSet<WebSocket>();
  wss.on('connection', (socket) => {
    socket.on('error', () => socket.terminate());
    socket.on('pong', () => silent.delete(socket));
    socket.send(greeting(), { binary: false });
  });
  const pinger = setInterval(() => {
    for (const socket of wss.clients) {
      if (silent.has(socket)) socket.terminate();
      else {
        silent.add(socket);
        socket.ping();
      }
    }
  }, limit.heartbeat);
  pinger.unref();
  return {
    get readers() {
      return wss.clients.size;
    },
    send(text) {
      // As a string, ws made a copy of its bytes for each reader: 64 readers that do not read held 64 of each batch.
      const bytes = Buffer.from(text);
      for (const socket of wss.clients) {
        if (socket.readyState !== WebSocket.OPEN) continue;
        if (socket.bufferedAmount > MAX_BUFFERED) socket.terminate();
        else socket.send(bytes, { binary: false });
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(pinger);
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
  };
}
