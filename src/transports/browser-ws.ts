/**
 * WebSocket transport over the standard global `WebSocket` (browsers; also
 * Deno, Bun and Node 22+): what the browser build of `connect()` uses. No Node
 * built-ins here: this file is bundled for browsers.
 *
 * What a browser socket cannot do, and what stands in for it:
 * - No write callback: a frame handed to `send()` counts as written at once
 *   (its `done` runs in a microtask, in write order); `bufferedAmount` still
 *   tells how much waits, for backpressure.
 * - No ping frames: `ping()` sends an application-level heartbeat instead, a
 *   JSON-RPC request `$/heartbeat` with an id of this transport's own. Any
 *   answer proves the server alive (a callstate server answers -32601, as does
 *   any JSON-RPC server without that method); the answer is taken here as the
 *   pong and never reaches the dispatcher, so it is not reported `unmatched`.
 * - No way to drop a socket without the close handshake: `terminate()` starts
 *   the close and reports the close (1006) at once, ignoring the socket after.
 * - No standard close code but 1000: `close()` throws InvalidAccessError for any
 *   other below 3000, so 1001-1014 (a caller's `close(1001)`, the send budget's
 *   1008) go out as 1000, with their reason.
 * - No `maxPayload`: a frame arrives whole, however large. Checked here once it
 *   has, before anything parses it (JSON.parse takes many times a frame's size
 *   in heap): a larger one drops the socket, reported as a close with 1009.
 * - A page that enters the back/forward cache is frozen, and Chromium closes its
 *   sockets, telling the page only on its return, as if the server had broken
 *   the protocol. The page's `pagehide` (persisted) drops the socket first,
 *   reported as a close with 1001 that says why, before the page freezes.
 * - A browser that goes offline (the page's `offline` event: no network
 *   interface is up) keeps its sockets, and passes nothing on them. The socket is
 *   dropped then, reported as a close with 1006 that says why, unless it is to a
 *   loopback host (`localhost`, 127.0.0.0/8, [::1]), which needs no network. The
 *   page's `online` event ends a reconnecting client's backoff wait (`watchOnline`).
 */
import type { Transport, TransportHandlers } from './transport.js';
import { countOf } from '../words.js';

export interface BrowserWsTransportOptions {
  /** Longest the opening handshake may take, in ms. */
  handshakeTimeout: number;
  /** Largest frame taken from the server, in bytes (UTF-8 for text), checked once it has arrived. */
  maxPayload: number;
}

/** The method of the application-level heartbeat request (a callstate peer answers it -32601 unreported: see incoming.ts). */
export const HEARTBEAT_METHOD = '$/heartbeat';

/** What this transport uses of a standard WebSocket (declared here: the project builds without the DOM library). */
export interface StandardWebSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  addEventListener(type: 'open' | 'close', listener: () => void): void;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** The global WebSocket constructor, if this runtime has one. */
export function globalWebSocket(): (new (url: string) => StandardWebSocket) | undefined {
  const candidate = (globalThis as { WebSocket?: unknown }).WebSocket;
  return typeof candidate === 'function' ? (candidate as new (url: string) => StandardWebSocket) : undefined;
}

/**
 * The close code a browser will send for `code`: the WebSocket standard lets a page send 1000 and 3000-4999 only
 * (anything else throws InvalidAccessError, leaving the socket open), so the other standard codes become 1000.
 */
function sendableCloseCode(code: number): number {
  return code >= 3000 && code <= 4999 ? code : 1000;
}

/**
 * The error of a socket that never opened. The browser's error event carries nothing: the status and body of a
 * refused upgrade (401 or 403 from `origins` or `authenticate`, 503 past `maxConnections` or from a draining server,
 * which the Node client shows) are hidden from the page.
 */
const NOT_OPENED =
  "the connection could not be opened, and a browser does not tell why (the server refused it, as with HTTP 401 or 403 from its access check, or 503 when it holds its most connections or is closing; it could not be reached; its port is one browsers refuse, such as 6000 or 10080; or the page's Content-Security-Policy blocked it)";

/**
 * The error of an open socket the browser failed. A dropped TCP connection closes (1006) with no error event: the
 * browser fires one when the server broke the WebSocket protocol, which the Node client names (ws's `Invalid
 * WebSocket frame: …`) and the page is not told.
 */
const FAILED =
  'the browser failed the connection, and does not tell why (the server broke the WebSocket protocol: text that is not UTF-8, a masked or malformed frame, an invalid close code or reason)';

/** The error of a socket dropped as its page entered the back/forward cache (see the file comment). */
const CACHED = 'the page entered the back/forward cache (pagehide): the browser keeps no connection of a cached page';

/** The error of a socket dropped as the browser went offline (see the file comment). */
const OFFLINE = "the browser went offline (the page's offline event): nothing passes on the socket until the network is back";

/**
 * The page's window (or a worker's global scope): `pagehide` tells that the page enters the back/forward cache (none in
 * a worker, Deno, Bun or Node), `offline` and `online` that the network went and came back.
 */
interface PageEvents {
  addEventListener?(type: 'pagehide' | 'offline' | 'online', listener: (event: { persisted?: boolean }) => void): void;
  removeEventListener?(type: 'pagehide' | 'offline' | 'online', listener: (event: { persisted?: boolean }) => void): void;
}

/** Calls `online` each time the page's network comes back (its `online` event); returns how to stop. */
export function watchOnline(online: () => void): () => void {
  const page = globalThis as PageEvents;
  page.addEventListener?.('online', online);
  return () => page.removeEventListener?.('online', online);
}

/**
 * Whether `url`'s host is a loopback one, reached without a network: `localhost` (and its subdomains), 127.0.0.0/8 or
 * [::1]. Read as the browser reads it (the URL's host, normalized): `127.1`, `0x7f.0.0.1` and `[0:0:0:0:0:0:0:1]` are
 * loopback addresses written otherwise, and the browser connects to them as such.
 */
function isLoopback(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname.replace(/\.$/, '');
  } catch {
    return false;
  }
  return host === 'localhost' || host.endsWith('.localhost') || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** WebSocket readyState values (the standard's constants, not read from a global that may be missing). */
const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 3;

export class BrowserWsTransport implements Transport {
  private handlers: TransportHandlers | undefined;
  /** Set once the transport has reported its close: later socket events are ignored. */
  private ended = false;
  /** Set by terminate(), which reports the error and close itself: the browser's own are ignored. */
  private terminated = false;
  /** Why the handshake failed, reported instead of the browser's detail-free error event. */
  private failure: Error | undefined;
  /** Set once the socket opened: an error before says the browser hides why (see NOT_OPENED). */
  private opened = false;
  /** Prefix of this transport's heartbeat ids (random per transport): a frame is parsed here only if it holds it. */
  private readonly heartbeatPrefix = `cs-heartbeat-${Math.random().toString(36).slice(2)}-`;
  private heartbeats = 0;
  /** Heartbeats sent and not yet answered. */
  private awaitingPong = 0;
  /** Whether this socket is dropped when the browser goes offline (see the file comment). */
  private readonly watchesOffline: boolean;
  /** The opening handshake's timer (see limitHandshake). */
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly socket: StandardWebSocket,
    private readonly maxPayload = Infinity,
    /** The socket's URL: one to a loopback host is kept when the browser goes offline. */
    url = '',
  ) {
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => {
      this.opened = true;
      if (!this.ended) this.handlers?.open();
    };
    socket.onmessage = (event) => this.socketOnMessage(event.data);
    socket.onerror = () => this.socketOnError();
    socket.onclose = (event) => this.terminated || this.reportClose(event.code, event.reason);
    (globalThis as PageEvents).addEventListener?.('pagehide', this.pageHidden);
    this.watchesOffline = !isLoopback(url);
    if (this.watchesOffline) (globalThis as PageEvents).addEventListener?.('offline', this.wentOffline);
  }

  /** The browser went offline: nothing passes on the socket, which the browser keeps; it is dropped now. */
  private readonly wentOffline = (): void => {
    this.failure = new Error(OFFLINE);
    this.drop(1006, 'the browser went offline');
  };

  /** The page is hidden: entering the back/forward cache (`persisted`), it is frozen next, so its socket is dropped now. */
  private readonly pageHidden = (event: { persisted?: boolean }): void => {
    if (!event.persisted) return;
    this.failure = new Error(CACHED);
    this.drop(1001, 'the page entered the back/forward cache');
  };

  /** Opens a socket to `url`. Events arrive once `attach` is called (the browser fires none before the current task ends). */
  static connect(url: string, options: BrowserWsTransportOptions): BrowserWsTransport {
    const Socket = globalWebSocket();
    if (!Socket) throw new TypeError('this runtime has no global WebSocket');
    const transport = new BrowserWsTransport(new Socket(url), options.maxPayload, url);
    transport.limitHandshake(options.handshakeTimeout);
    return transport;
  }

  /**
   * Past `ms` still connecting, the socket is closed: an error ("Opening handshake has timed out") and a close (1006)
   * follow. The timer ends when the socket opens or the transport reports its close (not on the socket's close event,
   * which Chromium never fires for a connection it refuses: each attempt would keep its timer, and its socket).
   */
  private limitHandshake(ms: number): void {
    this.handshakeTimer = setTimeout(() => {
      if (this.socket.readyState !== CONNECTING) return;
      this.failure = new Error('Opening handshake has timed out');
      this.terminate();
    }, ms);
    this.socket.addEventListener('open', () => clearTimeout(this.handshakeTimer));
  }

  private socketOnError(): void {
    if (this.ended || this.terminated) return;
    this.handlers?.error(this.failure ?? new Error(this.opened ? FAILED : NOT_OPENED));
    // The standard fires close in the same task as an error on a closed socket, but Chromium fires none after
    // refusing to connect (a Content-Security-Policy's connect-src): the close is reported from the next task, once
    // the browser's own had its chance, so that the connection ends (or reconnects) instead of waiting forever.
    if (this.socket.readyState === CLOSED) setTimeout(() => this.reportClose(1006, ''), 0);
  }

  private socketOnMessage(data: unknown): void {
    if (this.ended || this.terminated) return;
    const size = sizePastLimit(data, this.maxPayload);
    if (size !== undefined) return this.refuseFrame(size);
    if (typeof data !== 'string') return this.handlers?.message('', true);
    if (this.awaitingPong > 0 && data.includes(this.heartbeatPrefix) && this.isHeartbeatAnswer(data)) {
      this.awaitingPong--;
      this.handlers?.pong?.();
      return;
    }
    this.handlers?.message(data, false);
  }

  /** Whether `data` is a response (result or error) to one of this transport's heartbeats. */
  private isHeartbeatAnswer(data: string): boolean {
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return false;
    }
    if (frame === null || typeof frame !== 'object' || Array.isArray(frame)) return false;
    const { id, method } = frame as { id?: unknown; method?: unknown };
    return method === undefined && typeof id === 'string' && id.startsWith(this.heartbeatPrefix);
  }

  private reportClose(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.handshakeTimer);
    (globalThis as PageEvents).removeEventListener?.('pagehide', this.pageHidden);
    if (this.watchesOffline) (globalThis as PageEvents).removeEventListener?.('offline', this.wentOffline);
    this.handlers?.close(code, reason);
  }

  get isOpen(): boolean {
    return !this.ended && !this.terminated && this.socket.readyState === OPEN;
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  send(data: string, done?: (error?: Error) => void): boolean {
    if (!this.isOpen) return false;
    this.socket.send(data);
    if (done) queueMicrotask(() => done());
    return true;
  }

  close(code = 1000, reason = ''): void {
    if (this.ended) return;
    const state = this.socket.readyState;
    if (state === CONNECTING) return this.terminate();
    if (state === OPEN) this.socket.close(sendableCloseCode(code), reason);
  }

  /** Starts the close and reports the socket closed (1006) in a microtask, whatever the server does. */
  terminate(): void {
    this.drop(1006);
  }

  /**
   * A frame past `maxPayload` (`size` bytes) came: it is not parsed, and the connection ends as a Node client's does
   * when ws refuses such a frame at its header, with 1009 (a page cannot send that code: the server sees 1000).
   */
  private refuseFrame(size: number): void {
    this.failure = new Error(
      `the server sent a frame of ${countOf(size, 'byte')}, past maxPayload (${countOf(this.maxPayload, 'byte')}): dropped unparsed`,
    );
    this.drop(1009, 'Max payload size exceeded');
  }

  /** Starts the close and reports the socket closed with `code` in a microtask, whatever the server does. */
  private drop(code: number, reason?: string): void {
    if (this.ended || this.terminated) return;
    this.terminated = true;
    try {
      if (reason === undefined) this.socket.close();
      else this.socket.close(1000, reason);
    } catch {
      // a socket already closing or closed: nothing more to do
    }
    queueMicrotask(() => {
      if (this.failure) this.handlers?.error(this.failure);
      this.reportClose(code, '');
    });
  }

  /** Sends an application-level heartbeat (see the file comment); its answer comes back as `pong`. */
  ping(): void {
    if (!this.isOpen) return;
    this.awaitingPong++;
    this.socket.send(`{"jsonrpc":"2.0","id":"${this.heartbeatPrefix}${++this.heartbeats}","method":"${HEARTBEAT_METHOD}"}`);
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }
}

/**
 * The size in bytes of a frame (UTF-8 for text) when it is past `limit`, else undefined. Text is measured only when
 * its length alone cannot tell: a UTF-16 unit is 1 to 3 bytes of UTF-8 (a surrogate pair, two units, is 4).
 */
function sizePastLimit(data: unknown, limit: number): number | undefined {
  if (typeof data !== 'string') {
    const bytes = (data as { byteLength?: unknown }).byteLength;
    return typeof bytes === 'number' && bytes > limit ? bytes : undefined;
  }
  if (data.length * 3 <= limit) return undefined;
  const bytes = utf8Length(data);
  return bytes > limit ? bytes : undefined;
}

function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // Beyond ASCII: 2 bytes below U+0800, else 3; each unit of a surrogate pair adds 1 (4 bytes for the pair).
    if (unit >= 0x80) bytes += unit < 0x800 ? 1 : unit >= 0xd800 && unit <= 0xdfff ? 1 : 2;
  }
  return bytes;
}
