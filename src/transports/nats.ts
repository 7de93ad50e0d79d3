/**
 * NATS transport over `@nats-io/transport-node` (nats.js v3): the client side
 * as a `Transport` for a `Peer` (the responder's link, a queue-group
 * subscription, is nats-responder.ts). With nats-responder.ts, the only file
 * that uses a NATS client, and only through `loadNats()`: a dynamic `import()`
 * the first time a `nats://` URL is used, so WebSocket users never load it (it
 * is an optional peer dependency).
 *
 * Subjects, for a service on `subject`:
 *
 *   client ──request──▶ subject             (queue group: one responder gets it)
 *          reply-to     <inbox>.<call id>~<ms left>    (one wildcard subscription <inbox>.> per client)
 *   client ──notify───▶ subject             (one responder of the group gets it)
 *   client ──cancel───▶ subject.$cancel     (every responder; the one running the call aborts it; reply-to <inbox>._)
 *   responder ─reply──▶ <inbox>.<call id>
 *   nats-server ─503──▶ <inbox>.<call id>   (no responders: empty message, status 503)
 */
import { isUtf8 } from 'node:buffer';
import type { Msg, MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import { natsConnectTarget } from './nats-url.js';
import { peekFrame } from './peek-frame.js';
import { notUtf8, type Transport, type TransportHandlers } from './transport.js';
import { countOf } from '../words.js';

export { peekFrame } from './peek-frame.js';
export { natsConnectTarget } from './nats-url.js';

type NatsModule = typeof import('@nats-io/transport-node');

export const NATS_PACKAGE = '@nats-io/transport-node';

/**
 * What joins a request's call id and its call's time left in its reply subject: `<inbox>.<call id>~<ms left>` (its
 * timeout less what it waited before it was published). A responder sees no connection of its caller close, so a
 * caller gone without a cancel (crashed, or cut off from nats-server) would leave the handler running for nobody; past
 * this long after the request came, the responder aborts it. In the reply subject, not a NATS header: a header on every request cost about a third more CPU a call
 * (nats.js's HPUB and HMSG, and the responder reading headers it otherwise rarely has). Other callers' reply subjects
 * carry none (nats.js's are letters and digits), and other responders reply to the subject as it is.
 */
export const TIMEOUT_MARK = '~';

/** Reads a message's bytes as UTF-8 text, a byte order mark kept (see `payloadText`). */
const UTF8 = new TextDecoder('utf-8', { ignoreBOM: true });

/**
 * A message's payload as text. Not nats.js's `msg.string()`: its TextDecoder drops a leading byte order mark, which
 * `decode()` skips again, so a frame starting with two was read over NATS and answered -32700 over WebSocket and HTTP.
 * A byte order mark is skipped in one place, `decode()`, for every transport.
 */
export function payloadText(msg: Msg): string {
  return UTF8.decode(msg.data);
}

let loading: Promise<NatsModule> | undefined;

/** Loads the NATS client once; rejects with a message that says what to install. */
export function loadNats(): Promise<NatsModule> {
  return (loading ??= import(NATS_PACKAGE).catch((cause: unknown) => {
    loading = undefined;
    throw new Error(`nats:// URLs need the optional peer dependency ${NATS_PACKAGE}: npm install ${NATS_PACKAGE}`, { cause });
  }) as Promise<NatsModule>);
}

/** The subject cancellations of calls on `subject` are published to. */
export function cancelSubject(subject: string): string {
  return `${subject}.$cancel`;
}

export interface NatsClientOptions {
  /** The service subject requests and notifications are published to. */
  subject: string;
  /** Longest the connection to nats-server may take to open, in ms. */
  timeout: number;
  /** NATS headers sent with every message (a responder's `authenticate` reads them). */
  headers: Record<string, string>;
  /** The prefix of the inbox where answers come; undefined: nats.js's `_INBOX`. */
  inboxPrefix: string | undefined;
  /** How long the call `id` still waiting for its answer has left, in ms, sent in its reply subject (see `TIMEOUT_MARK`). */
  timeLeftOf: (id: string) => number | undefined;
  /**
   * Bytes published unconfirmed at which nats-server is asked to confirm them (see `confirm`): at most the send queue's
   * `highWaterMark`, so that what holds calls back is always being confirmed.
   */
  confirmAt: number;
}

/**
 * A client's NATS connection as a `Transport`: requests are published with a
 * reply subject under the client's own inbox, and everything arriving there
 * is handed to the peer, which routes responses by their JSON-RPC id.
 */
export class NatsClientTransport implements Transport {
  private handlers: TransportHandlers | undefined;
  private nc: NatsConnection | undefined;
  private inbox = '';
  /** Set once close or terminate was asked for: the code and reason the close will report. */
  private ending: { code: number; reason: string; drain: boolean } | undefined;
  private ended = false;
  /** Why this side closed a connection nats-server keeps open: it refused the subscription to the inbox, or publishing to the subject (see `fail`). */
  private failure: Error | undefined;
  private readonly encoder = new TextEncoder();
  /** The headers every message carries, made once the NATS client is loaded (none when empty). */
  private headers: MsgHdrs | undefined;
  /** Their size as published: nats-server's max_payload bounds a message's payload and headers together. */
  private headerBytes = 0;
  /** Bytes published on this connection, and how many of them nats-server has confirmed it read (see `confirm`). */
  private published = 0;
  private confirmed = 0;
  /** A flush (PING) is out, to confirm what was published before it. */
  private confirming = false;
  /** A heartbeat's flush (PING) is out (see `ping`). */
  private pinging = false;

  private constructor(
    private readonly url: string,
    private readonly options: NatsClientOptions,
  ) {}

  /** Starts connecting; events arrive once `attach` is called (before the next tick). */
  static connect(url: string, options: NatsClientOptions): NatsClientTransport {
    const transport = new NatsClientTransport(url, options);
    void transport.open();
    return transport;
  }

  /**
   * Bytes published that nats-server has not yet confirmed reading. nats.js buffers every publish, without bound, until
   * its socket takes it: with nats-server stalled (frozen, or its link congested) each call would add its request to
   * the heap until nats.js's own pings gave up, minutes later. Counted here, the send queue's `highWaterMark`,
   * `maxQueued` and `maxBufferedAmount` hold calls back, and `drainTimeout` drops a nats-server that reads nothing,
   * as they do a WebSocket peer that does not read.
   */
  get bufferedAmount(): number {
    return this.published - this.confirmed;
  }

  get isOpen(): boolean {
    return this.nc !== undefined && this.ending === undefined && !this.ended;
  }

  send(text: string, done?: (error?: Error) => void): boolean {
    const nc = this.nc;
    if (!nc || !this.isOpen) return false;
    const frame = peekFrame(text);
    // Responders do not call clients over NATS: a response has no reply subject to go to.
    if (frame.kind === 'response') {
      if (done) queueMicrotask(done);
      return true;
    }
    const data = this.encoder.encode(text);
    try {
      switch (frame.kind) {
        case 'request':
          // The call id as the reply token lets a 503 (which carries no body) name its call; its timeout follows it.
          nc.publish(this.options.subject, data, { reply: this.replyTo(frame.token), headers: this.headers });
          break;
        case 'cancel':
          // Its reply subject (to which nothing is sent) names this client as its requests' do: a responder files each
          // caller's calls apart (callers may number them alike), and cancels only this client's.
          nc.publish(cancelSubject(this.options.subject), data, { reply: `${this.inbox}._`, headers: this.headers });
          break;
        default:
          nc.publish(this.options.subject, data, { headers: this.headers });
      }
    } catch (error) {
      if (this.refusedAlone(nc)) return this.refuse(frame, text, error as Error, done);
      // Through the same queue as the successes, so that callbacks keep the order of the writes.
      if (done) queueMicrotask(() => done(error as Error));
      return true;
    }
    this.published += data.length + this.headerBytes;
    if (this.published - this.confirmed >= this.options.confirmAt) this.confirm(nc);
    // Published means buffered by nats.js, in order; report it as ws does, asynchronously.
    if (done) queueMicrotask(done);
    return true;
  }

  /**
   * A request's reply subject: `<inbox>.<call id>`, and how long its call has left, after `TIMEOUT_MARK`: its timeout
   * less the time it waited before this publish (in the send queue, or for the connection to open), so that the
   * responder gives up when the caller does. In whole ms, rounded up, at least 1 (a timeout may have a fraction, and a
   * '.' there would start another token, which the responder would take for part of this client's inbox, so that no
   * cancel of this client's found the call; a call past its deadline whose timer has not fired yet is still sent).
   */
  private replyTo(id: string | undefined): string {
    const left = id === undefined ? undefined : this.options.timeLeftOf(id);
    return left === undefined ? `${this.inbox}.${id ?? '_'}` : `${this.inbox}.${id}${TIMEOUT_MARK}${Math.max(1, Math.ceil(left))}`;
  }

  /**
   * Asks nats-server to confirm what was published so far: its PONG to a flush's PING comes after it has read every
   * message before the PING. One flush at a time, and only once `confirmAt` bytes wait, not at every burst of
   * calls: below `confirmAt` (at most `highWaterMark`) nothing is held back, so what stays unconfirmed there needs no PING.
   */
  private confirm(nc: NatsConnection): void {
    if (this.confirming) return;
    this.confirming = true;
    const upTo = this.published;
    nc.flush().then(
      () => {
        this.confirming = false;
        this.confirmed = upTo;
        if (this.published - upTo >= this.options.confirmAt && !nc.isClosed()) this.confirm(nc);
      },
      // The connection is going: its close fails what is pending.
      () => (this.confirming = false),
    );
  }

  /**
   * Why nats.js would not publish `text` (larger than nats-server's max_payload, headers included, as nats.js
   * counts), found without publishing; undefined when it fits, or before the connection is up (the limit is not
   * known yet).
   */
  refuses(text: string): Error | undefined {
    const limit = this.nc?.info?.max_payload;
    if (limit === undefined || !this.isOpen) return undefined;
    return this.tooLarge(text, limit);
  }

  /** The error for a message larger than `limit` once encoded, or undefined when it fits. */
  private tooLarge(text: string, limit: number): Error | undefined {
    // A UTF-16 unit is at most 3 bytes of UTF-8: most frames fit without being measured.
    if (text.length * 3 + this.headerBytes <= limit) return undefined;
    const bytes = Buffer.byteLength(text, 'utf8') + this.headerBytes;
    if (bytes <= limit) return undefined;
    const kind = peekFrame(text).kind;
    const what = kind === 'request' || kind === 'notification' ? kind : 'message';
    const size = this.headerBytes > 0 ? `${countOf(bytes, 'byte')} with its NATS headers` : countOf(bytes, 'byte');
    return new Error(`the ${what} (${size}) is larger than nats-server's max_payload (${countOf(limit, 'byte')})`);
  }

  /**
   * Whether a publish that threw left the connection up: nats.js refuses a message larger than nats-server's
   * max_payload before sending anything, and nothing else is lost. A failed write would otherwise tell the
   * send queue that the transport is going (as a socket's does), and nothing more would be written on a
   * connection that stays open: every later call would wait for its timeout.
   */
  private refusedAlone(nc: NatsConnection): boolean {
    return !nc.isClosed() && !nc.isDraining();
  }

  /**
   * One frame nats.js would not publish, the connection still up: the write is reported done, so that the frames
   * after it go on, and a request's call fails now with the reason. A notification gets here only if `refuses`
   * missed it (the send queue asks it first: `notify()` throws, or a notification that waited is reported); a cancel
   * is lost, as one the connection cannot carry. In one task, after the writes before it, so that callbacks keep
   * their order.
   */
  private refuse(frame: ReturnType<typeof peekFrame>, text: string, error: Error, done: ((error?: Error) => void) | undefined): true {
    const id = frame.kind === 'request' ? frame.token : undefined;
    const limit = this.nc?.info?.max_payload;
    const reason = () => {
      const tooLarge = limit === undefined ? undefined : this.tooLarge(text, limit);
      if (!tooLarge) return error;
      return new Error(tooLarge.message, { cause: error });
    };
    queueMicrotask(() => {
      done?.();
      if (id !== undefined) this.handlers?.callFailed?.(id, reason);
    });
    return true;
  }

  /**
   * The connection's heartbeat: a NATS PING (a flush), its PONG reported as `pong`. Without it the `heartbeat` option
   * did nothing over NATS: a nats-server gone silent (frozen, a half-open link) was noticed only by nats.js's own
   * pings, minutes later, each call failing at its timeout meanwhile on a connection that looked open. One at a time:
   * a PING still unanswered at the next beat is what the heartbeat counts as silence.
   */
  ping(): void {
    const nc = this.nc;
    if (!nc || !this.isOpen || this.pinging) return;
    this.pinging = true;
    nc.flush().then(
      () => {
        this.pinging = false;
        if (!this.ended) this.handlers?.pong?.();
      },
      // The connection is going: its close says so.
      () => (this.pinging = false),
    );
  }

  close(code = 1000, reason = ''): void {
    this.end({ code, reason, drain: true });
  }

  terminate(): void {
    this.end({ code: 1006, reason: '', drain: false });
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  private end(ending: { code: number; reason: string; drain: boolean }): void {
    if (this.ended) return;
    // A terminate after close still drops at once, keeping the close's code.
    if (this.ending && !ending.drain) this.ending.drain = false;
    this.ending ??= ending;
    if (!this.nc) {
      // Still connecting: a close is done by open() once connected (and drains); a terminate (close()'s closeTimeout
      // included) ends now, as nats.js cannot be stopped while it connects: open() closes what it brings later.
      // Reported in a microtask, as a socket's close event comes after terminate() returns.
      if (!this.ending.drain) queueMicrotask(() => this.finish(undefined));
      return;
    }
    if (this.ending.drain && !this.nc.isDraining()) this.nc.drain().catch(() => this.nc!.close());
    else void this.nc.close();
  }

  private async open(): Promise<void> {
    await Promise.resolve(); // let the owner attach first
    let nc: NatsConnection;
    try {
      const nats = await loadNats();
      // Before connecting: headers nats.js refuses fail the connection with none left open.
      const entries = Object.entries(this.options.headers);
      if (entries.length > 0) {
        this.headers = nats.headers();
        for (const [name, value] of entries) this.headers.set(name, value);
        // `encode` is what nats.js publishes (MsgHdrsImpl); its type does not show it.
        const encode = (this.headers as Partial<{ encode(): Uint8Array }>).encode;
        this.headerBytes = typeof encode === 'function' ? encode.call(this.headers).length : 0;
      }
      nc = await nats.connect({
        ...natsConnectTarget(this.url),
        reconnect: false,
        timeout: this.options.timeout,
        name: 'callstate client',
      });
      this.inbox = nats.createInbox(this.options.inboxPrefix);
    } catch (error) {
      this.finish(error as Error);
      return;
    }
    if (this.ended || (this.ending && !this.ending.drain)) {
      void nc.close(); // terminated while it connected
      return;
    }
    this.nc = nc;
    const prefix = `${this.inbox}.`;
    nc.subscribe(`${this.inbox}.>`, {
      callback: (error, msg) => {
        if (error) this.unsubscribed(nc, error);
        else this.receive(msg, prefix);
      },
    });
    void this.watch(nc);
    void nc.closed().then((error) => this.finish(error && !this.ending ? error : undefined));
    if (this.ending) this.end(this.ending);
    else this.handlers?.open();
  }

  /**
   * nats-server ended the inbox subscription (it refused it: `-ERR 'Permissions Violation for Subscription to
   * "_INBOX…"'`, a user without the right to subscribe there), and nats.js closed it, keeping the connection. No answer
   * can reach this client any more: every call would wait for its timeout, on a connection that looks open. It is
   * closed instead (1008), its calls failing with the reason.
   */
  private unsubscribed(nc: NatsConnection, error: Error): void {
    this.fail(nc, `nats-server ended the subscription to the client's inbox, where answers come: ${error.message}`, error);
  }

  /**
   * Watches nats-server's errors on a connection that stays open: one refusing a publish to the service subject (`-ERR
   * 'Permissions Violation for Publish to "…"'`, a user without the right to publish there) is only reported by
   * nats.js, the request dropped; every call would wait for its timeout. nats-server refuses every request and
   * notification to that subject alike: the connection is closed (1008), its calls failing with the reason. (A cancel
   * it refuses, on `<subject>.$cancel`, loses that cancel only: calls still go through.)
   */
  private async watch(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type !== 'error') continue;
      const error = status.error as Error & { operation?: string; subject?: string };
      if (error.name === 'PermissionViolationError' && error.operation === 'publish' && error.subject === this.options.subject)
        this.fail(
          nc,
          `nats-server refuses what the client publishes to "${this.options.subject}" (its requests and notifications): ${error.message}`,
          error,
        );
    }
  }

  /** Closes a connection nats-server keeps open but that cannot carry calls, saying why (see `finish`). */
  private fail(nc: NatsConnection, message: string, cause: Error): void {
    if (this.failure || this.ending || this.ended) return;
    this.failure = new Error(message, { cause });
    void nc.close();
  }

  /** Reports the end, once: the error that caused it (none when asked for), then the close with its code and reason. */
  private finish(error: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    const failure = this.ending ? undefined : this.failure;
    if (error ?? failure) this.handlers?.error((error ?? failure)!);
    this.handlers?.close(this.ending?.code ?? (failure ? 1008 : 1006), this.ending?.reason ?? '');
  }

  private receive(msg: Msg, prefix: string): void {
    if (msg.data.length === 0 && statusOf(msg) === 503) {
      // The reply token is the call id (and its timeout), so the status names its call.
      this.handlers?.noResponders?.(callOf(msg.subject, prefix), this.options.subject);
      return;
    }
    // Read as UTF-8 anyway, each byte that is not would become U+FFFD in the result a call resolves with.
    const text = isUtf8(msg.data) ? payloadText(msg) : undefined;
    if (text === undefined) this.handlers?.unreadable?.(payloadText(msg), notUtf8('the message'));
    else this.handlers?.message(text, false);
    // Its subject names the call it answers (call ids are unique among pending calls, and no other subject of this
    // inbox is one): an answer that did not settle that call by its id (an error with id null, the responder could not
    // read the request's; not JSON, another id) is still that call's, and no other will come.
    this.handlers?.answered?.(callOf(msg.subject, prefix), text);
  }
}

/** The call a message on this client's inbox answers: its reply token (`<inbox>.<call id>~<ms>`, see `replyTo`) less the time left. */
function callOf(subject: string, prefix: string): string {
  const token = subject.slice(prefix.length);
  const mark = token.indexOf(TIMEOUT_MARK);
  return mark === -1 ? token : token.slice(0, mark);
}

/** A message's NATS status code (503: no responders), 0 when it has none or its headers cannot be read (see headersOf). */
function statusOf(msg: Msg): number {
  try {
    return msg.headers?.code ?? 0;
  } catch {
    return 0;
  }
}
