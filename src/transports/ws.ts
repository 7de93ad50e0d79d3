/**
 * WebSocket transport over the `ws` package (Node): client sockets and accepted
 * sockets. Only this file and the listener that accepts them (ws-listener.ts) import `ws`.
 */
import type { IncomingMessage } from 'node:http';
import { nextTick } from 'node:process';
import WebSocket from 'ws';
import type { ClientTlsOptions } from './tls.js';
import type { Transport, TransportHandlers } from './transport.js';
import { countOf } from '../words.js';

/** Every field required: an undefined reaching ws would replace its default (`maxPayload: undefined` is "no limit"). */
export interface WsTransportOptions {
  /** Largest incoming frame in bytes; a larger one is refused at its header, closing the socket with 1009. */
  maxPayload: number;
  /** Extra headers for the upgrade request (client side). */
  headers: Record<string, string>;
  /** Longest the opening handshake may take, in ms (client side). */
  handshakeTimeout: number;
  /**
   * Longest the close handshake may take, in ms, whichever side began it (client side); then the socket is dropped.
   * ws's own default (30 s) would leave a server that sent its close frame but keeps its TCP connection open
   * holding the client, `open` with its calls pending, that long.
   */
  closeTimeout: number;
  /** TLS settings of `wss://` connections (client side), only those given. */
  tls: ClientTlsOptions;
}

/** What a `wss://` client may set of its TLS connection (passed to `tls.connect` through `ws`). */
/** What the transport uses of the TCP socket under a `ws` WebSocket (its `_socket`). */
interface CorkableSocket {
  cork(): void;
  uncork(): void;
}

/** Settled once: `.then` on it runs a callback after the current task's synchronous work (see `send`). */
const RESOLVED = Promise.resolve();

/** Most frames gathered into one write (see `send`). */
const GATHER_LIMIT = 16;
/** Frames longer than this (in UTF-16 units) are written at once, never gathered. */
const GATHER_MAX_LENGTH = 16 * 1024;
/** Most characters of a refusing server's body shown in the error. */
const REFUSAL_BODY_LIMIT = 1_024;
/**
 * Most pongs either side lets wait unsent: `ws`'s own bound on its automatic pongs (`maxPendingAutoPongs`), kept. A
 * peer that pings faster than it reads the pongs would otherwise make this side buffer them without bound.
 */
const MAX_PENDING_PONGS = 60;

export class WsTransport implements Transport {
  private handlers: TransportHandlers | undefined;
  /** Frames written in this tick, gathered into few writes. */
  private gathered = 0;

  /**
   * @param socket made with `ws`'s automatic pongs off (`autoPong: false`, by `connect` or the listener's server): this
   *   transport answers the other side's pings itself (see `answerPing`).
   * @param client set for a client socket (made by `connect`): the errors of `ws`'s limits name them (see `explained`).
   */
  constructor(
    readonly socket: WebSocket,
    private readonly client?: { maxPayload: number },
  ) {
    socket.on('open', () => this.handlers?.open());
    socket.on('ping', (data) => this.answerPing(data));
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString();
      this.handlers?.message(text, isBinary);
    });
    socket.on('close', (code, reason) => this.handlers?.close(code, reason.toString()));
    socket.on('pong', () => this.handlers?.pong?.());
    socket.on('error', (error) => this.handlers?.error(this.refusal ?? this.explained(error)));
    socket.on('unexpected-response', (_request, response) => this.refused(response));
  }

  /**
   * `ws`'s error, or, when it enforced the client's `maxPayload`, one that names it, a `RangeError` with `ws`'s `code`
   * (`WS_ERR_UNSUPPORTED_MESSAGE_LENGTH`, which code may test) and `ws`'s own error as its cause: a bare "Max payload
   * size exceeded" said neither which option nor how large (the browser build names both).
   */
  private explained(error: Error): Error {
    const code = (error as { code?: unknown }).code;
    if (this.client === undefined || (code !== 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' && code !== 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH'))
      return error;
    const { maxPayload } = this.client;
    const message = `the server sent a message larger than maxPayload (${countOf(maxPayload, 'byte')}): refused at its frame header, unread`;
    return Object.assign(new RangeError(message, { cause: error }), { code });
  }

  /** Why the server refused the upgrade, or why the handshake failed (client side), reported instead of ws's own error. */
  private refusal: Error | undefined;
  /** Ends the reading of a refusal's body (set while it is read). */
  private endRefusal: (() => void) | undefined;

  /**
   * The server answered the upgrade with an HTTP status instead of 101 (401 or
   * 403 from an access check, for example): read up to 1 KB of its body, the
   * reason, then drop the socket, which reports this error and closes (1006).
   * The handshake deadline (see `limitHandshake`) ends the reading early.
   */
  private refused(response: IncomingMessage): void {
    const status = `HTTP ${response.statusCode}${response.statusMessage ? ` ${response.statusMessage}` : ''}`;
    let body = '';
    const done = (this.endRefusal = () => {
      if (this.refusal) return;
      const reason = body.trim().slice(0, REFUSAL_BODY_LIMIT);
      this.refusal = new Error(`the server refused the connection with ${status}${reason ? `: ${reason}` : ''}`);
      this.socket.terminate();
    });
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      body += chunk;
      if (body.length >= REFUSAL_BODY_LIMIT) done();
    });
    response.on('end', done);
    response.on('error', done);
  }

  /**
   * Bounds the whole opening handshake by `ms`: ws's own `handshakeTimeout` is
   * an idle timer, which a server answering one byte at a time resets forever
   * (its headers, or a refusal's body). Past it the socket is dropped: a
   * refusal reports its status and the body read so far, anything else that
   * the handshake timed out.
   */
  private limitHandshake(ms: number): void {
    const timer = setTimeout(() => {
      if (this.socket.readyState !== WebSocket.CONNECTING) return;
      if (this.endRefusal) return this.endRefusal();
      this.refusal = new Error('Opening handshake has timed out');
      this.socket.terminate();
    }, ms);
    const clear = () => clearTimeout(timer);
    this.socket.once('open', clear);
    this.socket.once('close', clear);
  }

  /** Opens a client socket to `url`. Events arrive once `attach` is called (before the next tick). */
  static connect(url: string, options: WsTransportOptions): WsTransport {
    // ws reads `closeTimeout` (since 8.23), which its types do not list yet.
    const socketOptions = {
      maxPayload: options.maxPayload,
      headers: options.headers,
      handshakeTimeout: options.handshakeTimeout,
      closeTimeout: options.closeTimeout,
      perMessageDeflate: false,
      // Answered by `answerPing`, which says why it drops a server that floods it with pings.
      autoPong: false,
      ...options.tls,
    };
    const socket = new WebSocket(url, socketOptions);
    const transport = new WsTransport(socket, { maxPayload: options.maxPayload });
    transport.limitHandshake(options.handshakeTimeout);
    return transport;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  /** What the TCP (or TLS) socket under `ws` has read, frames not yet whole included (read at each heartbeat only). */
  get bytesReceived(): number {
    return (this.socket as unknown as { _socket?: { bytesRead?: number } | null })._socket?.bytesRead ?? 0;
  }

  /**
   * What the TCP (or TLS) socket under `ws` has written out: all it was given (`bytesWritten`) but what it still holds
   * (`writableLength`, which `ws` counts in `bufferedAmount`). Read by the heartbeat and the drain watch only. 0 under
   * a Duplex of an app's own that counts nothing (handed to `handleUpgrade`): the buffer's level alone tells then.
   */
  get bytesSent(): number {
    const tcp = (this.socket as unknown as { _socket?: { bytesWritten?: number; writableLength?: number } | null })._socket;
    return typeof tcp?.bytesWritten === 'number' ? tcp.bytesWritten - (tcp.writableLength ?? 0) : 0;
  }

  /**
   * Writes a text frame. Small frames written in the same tick (the calls a
   * burst of responses unblocks, the replies to a burst of requests) are
   * gathered: the first is written at once, and if a second comes in the same
   * tick the TCP socket is corked until the tick's work is done, or for at most
   * GATHER_LIMIT frames so the peer can start on those while the rest are made.
   * They leave in a few system calls instead of one each, with no delay beyond
   * the current tick; a lone frame (a call at everyday rates) pays for no
   * corking. (It uses `ws`'s `_socket`; without one, frames are written one by one.)
   */
  send(data: string, done?: (error?: Error) => void): boolean {
    if (this.socket.readyState !== WebSocket.OPEN) return false;
    if (data.length > GATHER_MAX_LENGTH) {
      // A large frame saves nothing by waiting: what was gathered goes first, then it, alone.
      this.release();
      this.socket.send(data, done);
      return true;
    }
    const before = this.gathered++;
    // A lone frame needs no release, only the count reset: a promise reaction, not a `nextTick` (whose tick object
    // Node 20 builds in its runtime, about 1,000 instructions a call) nor `queueMicrotask` (an async resource each).
    // Once a second frame comes, the release waits for the tick's work, microtasks included, as before (issue 16).
    if (before === 0) void RESOLVED.then(this.endLone);
    else if (before === 1) {
      nextTick(this.release);
      const tcp = (this.socket as unknown as { _socket?: Partial<CorkableSocket> })._socket;
      if (typeof tcp?.cork === 'function' && typeof tcp.uncork === 'function') {
        this.tcp = tcp as CorkableSocket;
        tcp.cork();
      }
    }
    this.socket.send(data, done);
    // A full bundle goes at once, so the peer can start on it while the rest is made.
    if (before % GATHER_LIMIT === 0 && before > 0 && this.tcp) {
      this.tcp.uncork();
      this.tcp.cork();
    }
    return true;
  }

  /** Pongs handed to the socket and not yet written (see `answerPing`). */
  private pendingPongs = 0;
  private readonly pongWritten = (): void => void this.pendingPongs--;

  /**
   * Answers a ping with a pong, as `ws` does by itself. A ping that comes while MAX_PENDING_PONGS pongs are still
   * unsent (a peer that pings faster than it reads) drops the socket, as `ws` would, but reported first as the error
   * of the close: `ws` drops it without a word, and the calls then failed with a bare 1006 (on a server, its calls to
   * that client, and its peer's `close` event said nothing).
   */
  private answerPing(data: Buffer): void {
    if (this.socket.readyState !== WebSocket.OPEN) return;
    if (this.pendingPongs >= MAX_PENDING_PONGS) {
      const other = this.client ? 'server' : 'client';
      this.handlers?.error(
        new Error(
          `dropped: the ${other} sent a ping while ${MAX_PENDING_PONGS} pongs to its earlier pings were still unsent (it pings faster than it reads the pongs)`,
        ),
      );
      this.socket.terminate();
      return;
    }
    this.pendingPongs++;
    this.socket.pong(data, undefined, this.pongWritten);
  }

  private tcp: CorkableSocket | undefined;
  /** After a frame written alone: the next one is first again (unless a second came, and gathering began). */
  private readonly endLone = (): void => {
    if (this.gathered === 1) this.gathered = 0;
  };
  private readonly release = (): void => {
    this.gathered = 0;
    this.tcp?.uncork();
    this.tcp = undefined;
  };

  close(code = 1000, reason = ''): void {
    const state = this.socket.readyState;
    if (state === WebSocket.CLOSING || state === WebSocket.CLOSED) return;
    if (state === WebSocket.CONNECTING) {
      // ws refuses close() before the handshake ends; terminate instead, which still emits close (1006).
      this.socket.terminate();
      return;
    }
    this.socket.close(code, reason);
  }

  /** Drops the socket without a close handshake. */
  terminate(): void {
    this.socket.terminate();
  }

  ping(): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.ping();
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
}
