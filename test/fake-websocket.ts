/**
 * A standard WebSocket whose other end is the test, for the browser transport's unit tests (stubbed in as the
 * global `WebSocket`): it records what is sent and fires what the test says. It is as strict as the WHATWG
 * standard (and Chromium) where a lenient fake would hide a defect: `send()` throws InvalidStateError while
 * connecting, `close(code)` throws InvalidAccessError for a code other than 1000 or 3000-4999, and
 * `bufferedAmount` grows by the UTF-8 bytes of every frame a server that stops reading leaves unsent.
 */
import type { StandardWebSocket } from '../src/transports/browser-ws.js';

const utf8 = new TextEncoder();

export class FakeWebSocket implements StandardWebSocket {
  /** The socket made last (the transport makes one per connection attempt). */
  static last: FakeWebSocket | undefined;
  /** Whether `close()` ends the handshake by itself (in a microtask), as a live server does; else the test calls `closed`. */
  static echoClose = true;
  readyState = 0;
  bufferedAmount = 0;
  binaryType = 'blob';
  onopen: StandardWebSocket['onopen'] = null;
  onmessage: StandardWebSocket['onmessage'] = null;
  onerror: StandardWebSocket['onerror'] = null;
  onclose: StandardWebSocket['onclose'] = null;
  /** Whether the server reads what is sent: when it does not, each frame adds to `bufferedAmount`. */
  reading = true;
  /** The text of every frame sent. */
  readonly sent: string[] = [];
  /** The close frame `close()` started the handshake with. */
  closeFrame: { code: number | undefined; reason: string | undefined } | undefined;
  private readonly listeners: Array<[string, () => void]> = [];

  constructor(readonly url: string) {
    FakeWebSocket.last = this;
  }
  addEventListener(type: string, listener: () => void): void {
    this.listeners.push([type, listener]);
  }
  send(data: string): void {
    if (this.readyState === 0) throw new DOMException('Still in CONNECTING state.', 'InvalidStateError');
    if (this.readyState !== 1) return;
    this.sent.push(data);
    if (!this.reading) this.bufferedAmount += utf8.encode(data).length;
  }
  close(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && !(code >= 3000 && code <= 4999))
      throw new DOMException(`The close code must be either 1000, or between 3000 and 4999. ${code} is neither.`, 'InvalidAccessError');
    if (this.readyState >= 2) return;
    this.readyState = 2;
    this.closeFrame = { code, reason };
    if (FakeWebSocket.echoClose) queueMicrotask(() => this.closed(code ?? 1005, reason ?? ''));
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
    for (const [type, listener] of this.listeners) if (type === 'open') listener();
  }
  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  /** The close handshake ends (the server echoed the close frame, or the socket dropped). */
  closed(code: number, reason: string): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
    for (const [type, listener] of this.listeners) if (type === 'close') listener();
  }
  /** The frames sent, parsed. */
  frames(): Array<Record<string, unknown>> {
    return this.sent.map((text) => JSON.parse(text) as Record<string, unknown>);
  }
  heartbeats(): Array<Record<string, unknown>> {
    return this.frames().filter((frame) => frame.method === '$/heartbeat');
  }
}
