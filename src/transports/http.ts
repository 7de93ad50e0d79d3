/**
 * HTTP transport (client side) over the global `fetch` (undici in Node, which
 * keeps connections alive): each request frame is one POST, whose answer body
 * comes back as an inbound frame. There is no connection to open or lose: the
 * transport is open from the start until closed.
 *
 *   request ──POST──▶ 200 + JSON  ─▶ message(body); a body that did not settle the call fails it
 *                    204 / empty ─▶ the call fails (no answer)
 *                    4xx / 5xx ──▶ the call fails, naming the status and the body's first KB
 *                    network ────▶ the call fails, naming the cause
 *   $/cancelRequest ─▶ aborts that call's POST (the server sees the client go, and aborts ctx.signal)
 *   call settled ───▶ aborts its POST if still in flight (its answer came in another POST's body)
 *   notification ──POST──▶ answer ignored (nothing to settle); aborted after `notifyTimeout` (a silent server)
 *   past maxConnections POSTs in flight ─▶ the POST waits its turn, in order (see post-line.ts); what waits is
 *                     the transport's `bufferedAmount`, which holds the client's new calls back at `highWaterMark`
 *   response ───────▶ dropped, alone or a batch of them: the server cannot call an HTTP client
 *   close ──────────▶ aborts the calls' POSTs; reports closed once the notifications' POSTs in flight have
 *                     been answered (so `notify(); close()` delivers), or when the owner terminates at its closeTimeout
 *   terminate ──────▶ aborts every POST in flight, calls' and notifications' alike; reports closed at once
 *
 * `maxPayload` bounds an answer's body as decoded: fetch inflates a gzip or deflate body on its own, so a
 * Content-Length says nothing of what would be read unless the body is sent as is.
 */
import { describeCause, NO_REDIRECTS, readText, withoutOwnHeaders } from './http-exchange.js';
import { methodOf, peekFrame } from './peek-frame.js';
import { PostLine } from './post-line.js';
import { noAnswerIn, type Transport, type TransportHandlers } from './transport.js';
import { countOf } from '../words.js';

/** Why a call failed, for the owner to turn into its error. */
export interface HttpFailure {
  message: string;
  /** The HTTP status, or undefined for a network error. */
  status: number | undefined;
  /** The answer's first KB, or ''. */
  body: string;
  cause?: unknown;
  /**
   * The body of an answer that did not settle the call: a 2xx's whole, an error status's first ERROR_ANSWER_LIMIT
   * characters (for the owner to read a JSON-RPC error to the call, or with id null, in it).
   */
  answer?: string;
  /** The id of the call it fails (none for a notification's): set by `fail`. */
  id?: string;
}

export interface HttpTransportOptions {
  /** Extra headers sent with every POST. */
  headers: Record<string, string>;
  /** Largest answer body read, in bytes; a larger one fails its call. */
  maxPayload: number;
  /** Most POSTs in flight at once (fetch opens a connection for each); more wait their turn. */
  maxConnections: number;
  /** Makes the error a failed call settles with. */
  failure: (failure: HttpFailure) => Error;
  /** Longest a notification's POST may wait for its answer, in ms, before it is aborted. */
  notifyTimeout: number;
  /** Times `notifyTimeout` and ERROR_BODY_WAIT (the client's clock); undefined: real timers. */
  clock: { setTimeout(callback: () => void, ms: number): unknown; clearTimeout(handle: any): void } | undefined;
}

/** Real timers, when the client is given no clock. */
const REAL_TIMERS = {
  setTimeout: (callback: () => void, ms: number): unknown => setTimeout(callback, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
};

/** Most characters of an error answer's `Retry-After` shown in the error (a date takes 29). */
const RETRY_AFTER_LIMIT = 64;

/**
 * ` (Retry-After: …)` when an error answer says when to try again (a 429 or 503, say), else '': the status alone
 * does not tell a caller whether, or when, to retry, and the error carries no headers.
 */
function retryAfter(response: Response): string {
  const value = response.headers.get('retry-after')?.trim();
  return value ? ` (Retry-After: ${value.slice(0, RETRY_AFTER_LIMIT)})` : '';
}

/** Most characters of an error answer's body kept in the error. */
const BODY_LIMIT = 1_024;
/** Most characters of an error answer's body read for a JSON-RPC error in it (its `data` may be long). */
const ERROR_ANSWER_LIMIT = 64 * 1_024;

/**
 * Longest an error answer's body may take to arrive, in ms (on the client's clock): its status says what went wrong,
 * so a body that stalls fails its call with the status alone then, not with TimeoutError at the call's timeout.
 */
const ERROR_BODY_WAIT = 1_000;

export class HttpTransport implements Transport {
  private handlers: TransportHandlers | undefined;
  private opened = false;
  private ended = false;
  /** The close to report once nothing is in flight (set by close or terminate), and whether it was. */
  private closing: { code: number; reason: string } | undefined;
  private reported = false;
  /** The POST of each call in flight, by call id, to abort it on cancel or close. */
  private readonly posts = new Map<string, AbortController>();
  /** The POSTs of notifications in flight, to abort them on close. */
  private readonly notices = new Set<AbortController>();
  /**
   * POSTs whose fetch has not ended yet. An aborted one's fetch ends at once, while undici closes its connection a
   * moment later: `fetch` shows no socket, so that moment is not counted (docs/http.md says so).
   */
  private running = 0;
  /** The POSTs waiting for one of the `maxConnections` to be free. */
  private readonly line = new PostLine();
  private readonly headers: Record<string, string>;
  /** The client's clock, or real timers. */
  private readonly timers: NonNullable<HttpTransportOptions['clock']>;

  private constructor(
    private readonly url: string,
    private readonly options: HttpTransportOptions,
  ) {
    this.timers = options.clock ?? REAL_TIMERS;
    this.headers = { ...withoutOwnHeaders(options.headers), 'content-type': 'application/json', accept: 'application/json' };
  }

  /** A transport for `url`; it reports open once `attach` is called (before the next tick). */
  static connect(url: string, options: HttpTransportOptions): HttpTransport {
    const transport = new HttpTransport(url, options);
    queueMicrotask(() => {
      if (transport.ended) return;
      transport.opened = true;
      transport.handlers?.open();
    });
    return transport;
  }

  get isOpen(): boolean {
    return this.opened && !this.ended;
  }

  /** Characters of the POSTs waiting to be sent: the client's unsent bytes. */
  get bufferedAmount(): number {
    return this.line.length;
  }

  send(text: string, done?: (error?: Error) => void): boolean {
    if (!this.isOpen) return false;
    const frame = peekFrame(text);
    switch (frame.kind) {
      case 'request':
        this.line.push(text, frame.token, done);
        this.next();
        return true;
      case 'cancel':
        this.cancel(text);
        break;
      case 'response':
        break;
      default:
        // A batch other than cancel notices: the answers to requests a server put in a batch of an answer body,
        // dropped as a single response is (posted, they would reach the server as a request of the client's).
        if (frame.kind === 'other' && text.startsWith('[')) break;
        this.line.push(text, undefined, done);
        this.next();
        return true;
    }
    // Nothing to post: done with, as far as the caller can tell; reported asynchronously, as ws does.
    if (done) queueMicrotask(done);
    return true;
  }

  /**
   * Posts what waits, first to last, while fewer than `maxConnections` POSTs are in flight. Dropped POSTs at the front
   * leave the line however many are in flight: none of them will be sent, and while every connection is held (long
   * calls) they would wait, with their writes unreported, for a free one.
   */
  private next(): void {
    for (;;) {
      const post = this.running < this.options.maxConnections ? this.line.shift() : this.line.shiftDropped();
      if (post === undefined) return;
      if (!post.dropped) this.post(post.text, post.id);
      // Handed to fetch (or dropped): written, as far as the caller can tell; reported asynchronously, as ws does.
      if (post.done) queueMicrotask(post.done);
    }
  }

  /** Stops sending; the calls' POSTs are aborted (they fail anyway), the notifications' may finish. */
  close(code = 1000, reason = ''): void {
    if (this.ended) return;
    this.ended = true;
    this.closing = { code, reason };
    for (const controller of this.posts.values()) controller.abort();
    this.posts.clear();
    this.line.dropCalls();
    // The notifications that wait still go, as those in flight may finish.
    this.next();
    if (!this.noticesPending) this.reportClosed();
  }

  /** Aborts every POST in flight and reports closed now. */
  terminate(): void {
    this.ended = true;
    this.closing = { code: 1006, reason: '' };
    for (const controller of this.posts.values()) controller.abort();
    for (const controller of this.notices) controller.abort();
    this.posts.clear();
    this.notices.clear();
    // Nothing that waits is sent.
    for (let post = this.line.shift(); post !== undefined; post = this.line.shift()) if (post.done) queueMicrotask(post.done);
    this.reportClosed();
  }

  attach(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  private reportClosed(): void {
    if (this.reported) return;
    this.reported = true;
    const { code, reason } = this.closing!;
    queueMicrotask(() => this.handlers?.close(code, reason));
  }

  /**
   * A call settled: its POST, if still in flight, has nothing left to answer. A call answered in another POST's
   * body (a server may answer several ids in one) would otherwise hold its own open for good: no timeout or
   * cancel comes for a settled call.
   */
  callSettled(id: string): void {
    this.endPost(id);
  }

  /** Notifications in flight or waiting: a close is reported once there are none. */
  private get noticesPending(): boolean {
    return this.notices.size > 0 || this.line.notices > 0;
  }

  /** The POST of call `id` is not needed any more: dropped if it waits, aborted if in flight. */
  private endPost(id: string): void {
    if (this.line.drop(id)) return this.next();
    this.posts.get(id)?.abort();
    this.posts.delete(id);
  }

  /** `$/cancelRequest` notices (one, or a batch of them): abort each call's POST. */
  private cancel(text: string): void {
    let notices: unknown;
    try {
      notices = JSON.parse(text);
    } catch {
      return;
    }
    for (const notice of Array.isArray(notices) ? notices : [notices]) {
      const id = (notice as { params?: { id?: unknown } } | null)?.params?.id;
      if (typeof id === 'string') this.endPost(id);
    }
  }

  /**
   * POSTs one frame; `id` is the call's, when it is a request whose answer settles a call (its call's
   * timeout bounds it). Anything else (a notification) is bounded here, by `notifyTimeout`.
   */
  private post(text: string, id: string | undefined): void {
    const controller = new AbortController();
    let timer: unknown;
    let timedOut = false;
    this.running++;
    if (id !== undefined) this.posts.set(id, controller);
    else {
      this.notices.add(controller);
      timer = this.timers.setTimeout(() => ((timedOut = true), controller.abort()), this.options.notifyTimeout);
    }
    fetch(this.url, { method: 'POST', headers: this.headers, body: text, signal: controller.signal, ...NO_REDIRECTS })
      .then((response) => this.answered(response, id, text, controller))
      .catch((cause: unknown) => {
        // Aborted by a cancel, close or terminate: no news. A notification given up at its timeout is.
        if (controller.signal.aborted && !timedOut) return;
        const message = timedOut
          ? `POST ${this.url} got no answer within ${this.options.notifyTimeout} ms (it may have arrived)`
          : `POST ${this.url} failed: ${describeCause(cause)}`;
        const failure = { message, status: undefined, body: '', cause };
        if (id === undefined) this.noticeFailed(text, failure);
        else this.fail(id, () => failure);
      })
      .finally(() => {
        this.running--;
        if (id === undefined) {
          this.notices.delete(controller);
          this.timers.clearTimeout(timer);
        } else if (this.posts.get(id) === controller) this.posts.delete(id);
        this.next();
        // Closing, and this was the last notification in flight, with none waiting.
        if (this.ended && !this.noticesPending) this.reportClosed();
      });
  }

  private async answered(response: Response, id: string | undefined, text: string, controller: AbortController): Promise<void> {
    const { status } = response;
    if (status < 200 || status >= 300) {
      // An error answer whose body fails to arrive is still that error: its status says what went wrong. One
      // still coming after ERROR_BODY_WAIT is given up (its POST aborted, which frees its connection).
      const late = this.timers.setTimeout(() => controller.abort(), ERROR_BODY_WAIT);
      const answer = (await readText(response, ERROR_ANSWER_LIMIT, true).catch(() => '')) ?? '';
      this.timers.clearTimeout(late);
      const body = answer.slice(0, BODY_LIMIT);
      const message = `${this.url} answered HTTP ${status}${retryAfter(response)}${body ? `: ${body}` : ''}`;
      // A JSON-RPC over HTTP server answers its errors with a status too (404 for -32601, 500 for -32603): the body says which.
      const failure = { message, status, body, answer };
      if (id === undefined) this.noticeFailed(text, failure);
      else this.fail(id, () => failure);
      return;
    }
    // A notification's answer settles nothing: none of its body is read.
    if (id === undefined) return void (await response.body?.cancel().catch(() => {}));
    let body: string | undefined;
    try {
      body = await readText(response, this.options.maxPayload, false);
    } catch (cause) {
      // Cut off (the connection lost), or not what its Content-Encoding says: not an empty body.
      const message = `${this.url} answered HTTP ${status} but its body failed: ${describeCause(cause)}`;
      return this.fail(id, () => ({ message, status, body: '', cause }));
    }
    if (this.ended) return;
    if (body === undefined) {
      const message = `${this.url} answered HTTP ${status} with a body larger than ${countOf(this.options.maxPayload, 'byte')} (maxPayload)`;
      return this.fail(id, () => ({ message, status, body: '' }));
    }
    // Read to its end: nothing of this POST is left to abort when the body settles its call (`callSettled`).
    this.posts.delete(id);
    if (body !== '') this.handlers?.message(body, false);
    // Whatever the body held, the call is answered now or never: one it did not settle fails (nothing is made once settled).
    this.fail(id, () => ({
      message: `${this.url} answered HTTP ${status} with ${noAnswerIn(body, 'body')}`,
      status,
      body: body.slice(0, BODY_LIMIT),
      answer: body,
    }));
  }

  /** The notification `text` did not reach the server, or was refused: its sender's hooks hear of it. */
  private noticeFailed(text: string, failure: HttpFailure): void {
    this.handlers?.noticeFailed?.(methodOf(text), this.options.failure(failure));
  }

  /** Fails the call `id`, if it is still pending, with the error made from `failure()`. */
  private fail(id: string, failure: () => HttpFailure): void {
    if (!this.ended) this.handlers?.callFailed?.(id, () => this.options.failure({ ...failure(), id }));
  }
}
