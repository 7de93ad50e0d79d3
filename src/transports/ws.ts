/**
 * WebSocket transport over the `ws` package (Node). The only file besides the
 * server's listener that imports `ws`.
 */
import WebSocket from 'ws';
import type { Transport, TransportHandlers } from './transport.js';

export interface WsTransportOptions {
  /** Largest incoming frame in bytes; larger ones close the socket with 1009. */
  maxPayload?: number;
  /** Extra headers for the upgrade request (client side). */
  headers?: Record<string, string>;
}

export class WsTransport implements Transport {
  private handlers: TransportHandlers | undefined;

  constructor(readonly socket: WebSocket) {
    socket.on('open', () => this.handlers?.open());
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? '' : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : data.toString();
      this.handlers?.message(text, isBinary);
    });
    socket.on('close', (code, reason) => this.handlers?.close(code, reason.toString()));
    socket.on('error', (error) => this.handlers?.error(error));
  }

  /** Opens a client socket to `url`. Events arrive once `attach` is called (before the next tick). */
  static connect(url: string, options: WsTransportOptions = {}): WsTransport {
    const socket = new WebSocket(url, {
      maxPayload: options.maxPayload,
      headers: options.headers,
      perMessageDeflate: false,
    });
    return new WsTransport(socket);
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  send(data: string, done?: (error?: Error) => void): void {
    if (this.socket.readyState !== WebSocket.OPEN) {
      done?.(new Error(`WebSocket is not open (readyState ${this.socket.readyState})`));
      return;
    }
    this.socket.send(data, done);
  }

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

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
}
