/**
 * `serve({ nats, subject, queue })`: a responder in a NATS queue group. Every
 * responder of the group (in this process, another, another machine) shares
 * the calls published to the subject; each request runs as an incoming-call
 * actor, as over WebSocket, and its answer goes to the request's reply subject.
 *
 * What does not map: a responder has no connection to its caller, so
 * `ctx.peer.request()` and `ctx.peer.notify()` fail with `NotSupportedError`.
 * Cancellation does map: `$/cancelRequest` is published to `<subject>.$cancel`,
 * which every responder hears, and the one running the call aborts its `ctx.signal`.
 */
import { accessCheck, withDeadline, type Authenticate } from './access.js';
import { drainWindow, serverClosing, serverLeft, sleep } from './core/closing.js';
import { Emitter } from './core/emitter.js';
import { ConnectionClosedError } from './errors.js';
import { resolveHooks, type HookOptions } from './hooks.js';
import { receiveCancels, receiveFrame, type InboundHost } from './core/inbound.js';
import { IncomingCalls, type CallerTimeout } from './core/incoming.js';
import { inFlightRefusal, pastInFlightLimits, type Running } from './core/refusals.js';
import { noPeer } from './core/no-peer.js';
import { isolatedInspector } from './engine/inspectable.js';
import { clockNow } from './engine/deadlines.js';
import { messageOf } from './core/handler-error.js';
import { XSTATE } from './engine/xstate.js';
import {
  DEFAULT_CLOSE_TIMEOUT,
  DEFAULT_UNTIMED_HANDLER_TIMEOUT,
  DEFAULT_UPGRADE_TIMEOUT,
  resolveDrain,
  resolveResponderLimits,
  type CloseOptions,
  type ResponderLimitOptions,
  type ResponderLimits,
} from './limits.js';
import { decode, encode, errorFrame, ErrorCodes, type ErrorObject, type Id } from './protocol/jsonrpc.js';
import { IdTable } from './core/id-table.js';
import { loadNats, TIMEOUT_MARK } from './transports/nats.js';
import { checkResponderLines } from './transports/nats-lines.js';
import { listenNats, NatsSubscriptionError, type NatsResponderLink } from './transports/nats-responder.js';
import type {
  AnyApi,
  Clock,
  ConnectionInfo,
  Engine,
  InspectOption,
  Methods,
  NotificationEvent,
  UnmatchedEvent,
  UntypedApi,
} from './types.js';
import {
  MAX_TIMEOUT,
  optionalBoolean,
  optionalTimeout,
  validateEngine,
  validateMethods,
  validateQueue,
  validateSubject,
} from './validate.js';
import { shownUrl, validateNatsUrl } from './urls.js';
import { countOf } from './words.js';

export interface NatsServeOptions<Api extends AnyApi = UntypedApi> extends ResponderLimitOptions, HookOptions {
  /** The nats-server to join: `nats://host:port` (several, comma-separated, are tried in turn). */
  nats: string;
  /** The subject to answer calls on (no wildcards; at most 4,015 bytes of UTF-8, and 4,084 with `queue`: nats-server's `max_control_line`). */
  subject: string;
  /** Queue group: the responders of one group share the calls on the subject. Default: 'callstate'. */
  queue?: string;
  /** The methods callers may call. `ctx.peer` cannot call back over NATS. */
  methods: Methods<Api, UntypedApi>;
  /** Inspection observer given to every incoming-call actor. Default: none. */
  inspect?: InspectOption;
  /** Include a handler error's stack in the error response's `data`. Default: false. */
  exposeErrorStack?: boolean;
  /** How long `close()` lets running handlers finish and answer before aborting them, in ms. Default: 1,000. */
  closeTimeout?: number;
  /** What runs each incoming call's machine: `'light'` (default) or `'xstate'` (a full XState actor per call). */
  engine?: Engine;
  /** Clock for `handlerTimeout` and for `close()`'s waits (`closeTimeout`, the window of `close({ drain })`), e.g. a `SimulatedClock` in tests. Default: real timers. */
  clock?: Clock;
  /**
   * Allowed values of a message's `Origin` NATS header (see `ServeOptions.origins`); a caller outside it is
   * answered -32003 (`ErrorCodes.AccessDenied`) and none of its messages run. Default: any origin, and none.
   */
  origins?: string[];
  /**
   * Decides on each message from its NATS headers (`{ headers, url: subject, remoteAddress: undefined }`; clients
   * send them with `connect('nats://…', { headers })`), as `ServeOptions.authenticate` decides on an upgrade: a
   * refused request is answered -32003 with the status and reason in the error, and not run. Checks run
   * concurrently; messages are still handled in the order they came. Default: none.
   */
  authenticate?: Authenticate;
  /** Longest `authenticate` may take on one message, in ms; past it the request is refused (-32003, status 408). Default: 10,000. */
  authenticateTimeout?: number;
  /**
   * Longest a handler may run, in ms: see `ServeOptions.handlerTimeout`. A request of callstate's client also carries
   * its call's timeout, and its handler is aborted once that has passed, when that comes first. Default: none for
   * such a request; 10,000 for the others (any other client's) and for notifications, which nothing else would end
   * (no connection of theirs closes), so that handlers that never settle cannot hold this responder's places for good.
   */
  handlerTimeout?: number;
  /** Most messages in a JSON-RPC batch: see `ServeOptions.maxBatch`. Default: 100. */
  maxBatch?: number;
  /** Deepest nesting of a request: see `ServeOptions.maxDepth`. Default: 64. */
  maxDepth?: number;
  /** Calls running at once on this responder; one more is answered -32000 (busy) at once, unrun. Default: 10,000. */
  maxInFlightPerConnection?: number;
  /**
   * Size of the calls running at once on this responder (see `ServeOptions.maxInFlightBytesPerConnection`), and apart
   * from them of the messages waiting for their `authenticate` checks. Default: 16 MiB.
   */
  maxInFlightBytesPerConnection?: number;
}

export interface NatsServerEvents {
  /** A notification published to the subject (each goes to one responder of the group). */
  notification: NotificationEvent;
  /** A message this responder could not use (malformed, a response, a request without reply subject). */
  unmatched: UnmatchedEvent;
  /** The connection to nats-server closed; `error` says why when it was not `close()` (nats-server gone: `ConnectionClosedError`, 1006). */
  close: { error?: unknown };
}

export interface NatsServer {
  /** The nats-server URL this responder joined. */
  readonly url: string;
  readonly subject: string;
  readonly queue: string;
  /** Incoming calls whose handler is still running. */
  readonly handlingCalls: number;
  /** Resolves once the connection to nats-server is closed, however it closed. */
  readonly closed: Promise<void>;
  on<K extends keyof NatsServerEvents>(event: K, listener: (payload: NatsServerEvents[K]) => void): () => void;
  /** Like `on`, for the next emit of `event` only; returns a function that removes it before then. */
  once<K extends keyof NatsServerEvents>(event: K, listener: (payload: NatsServerEvents[K]) => void): () => void;
  /**
   * Leaves the queue group (new calls go to the other responders; a request already delivered is answered
   * -32000 "server closing"), lets running handlers answer for up to `drain` ms (default: `closeTimeout`),
   * aborts the rest (their callers are answered -32000 at once), then disconnects. Only the first call's options count.
   */
  close(options?: CloseOptions): Promise<void>;
}

export const DEFAULT_QUEUE = 'callstate';

/**
 * What a call from the caller whose reply subject is `reply` is filed under: the caller's inbox (the reply subject
 * without its last token: NATS clients make each request's reply a token below one inbox, as nats.js's `request()`
 * and callstate's client do) and the id, its type kept apart (1 and "1" are two ids). Callers are told apart so that
 * plain JSON-RPC clients, which number their calls from 1, can call one responder at once. A request or cancel
 * without a reply subject has no caller to tell: its key is the id alone.
 */
function keyOf(reply: string | undefined, id: Id): string {
  const inbox = reply === undefined ? '' : reply.slice(0, Math.max(0, reply.lastIndexOf('.')));
  return `${inbox}\n${typeof id === 'number' ? 'n' : 's'}${id}`;
}

/**
 * Why a message is refused before it runs: an access check's answer, or too many (or too large) messages waiting
 * for theirs (`waiting`), which a message `length` characters long would join.
 */
type Refusal = { status: number; reason: string } | { waiting: Running; length: number };

/**
 * Answers each request in a refused message, none of which runs: -32003 with the access check's status and
 * reason, -32000 when too many messages (or too large ones) already wait for their checks (maxInFlightPerConnection,
 * maxInFlightBytesPerConnection), or the error given (a message whose NATS headers cannot be read).
 */
function refuseMessage(
  text: string,
  refusal: Refusal | ErrorObject,
  limits: ResponderLimits,
  reply: (text: string) => void,
  report: (error: ErrorObject, method: string, id: Id) => void,
): void {
  const decoded = decode(text, limits);
  if (decoded.kind === 'unparseable') return;
  const requests = (decoded.kind === 'single' ? [decoded.message] : decoded.messages).filter((m) => m.kind === 'request');
  const answers = requests.map((m) => {
    const error =
      'code' in refusal
        ? refusal
        : 'waiting' in refusal
          ? inFlightRefusal(limits, refusal.waiting, m.frame.method, refusal.length)!
          : {
              code: ErrorCodes.AccessDenied,
              message: `access denied (${refusal.status}): ${refusal.reason}`,
              data: { status: refusal.status },
            };
    // Encoded before the hooks see it: what onError does to `info.response` changes nothing sent (nor throws here).
    const answer = encode(errorFrame(m.frame.id, error));
    // Answered by the responder itself, as a busy or invalid request is over WebSocket: the hooks hear of it.
    report(error, m.frame.method, m.frame.id);
    return answer;
  });
  if (answers.length > 0) reply(decoded.kind === 'single' ? answers[0]! : `[${answers.join(',')}]`);
}

/**
 * The timeout a caller sent with its request, in ms: after `TIMEOUT_MARK` at the end of its reply subject
 * (`<inbox>.<call id>~<ms>`, as callstate's client makes it), a whole number from 1 to the longest timer; a reply
 * subject without one (any other caller's) or with anything else there gives none.
 */
function timeoutOf(reply: string): number | undefined {
  const mark = reply.lastIndexOf(TIMEOUT_MARK);
  if (mark === -1 || mark < reply.lastIndexOf('.')) return undefined;
  const value = reply.slice(mark + 1);
  if (!/^[1-9]\d{0,9}$/.test(value)) return undefined;
  const timeout = Number(value);
  return timeout <= MAX_TIMEOUT ? timeout : undefined;
}

export async function serveNats<Api extends AnyApi = UntypedApi>(options: NatsServeOptions<Api>): Promise<NatsServer> {
  const url = validateNatsUrl(options.nats, 'options.nats');
  const subject = validateSubject(options.subject, 'options.subject');
  const queue = options.queue === undefined ? DEFAULT_QUEUE : validateQueue(options.queue, 'options.queue');
  checkResponderLines(subject, queue);
  const methods = validateMethods(options.methods, 'options.methods');
  const closeTimeout = optionalTimeout(options.closeTimeout, 'options.closeTimeout', DEFAULT_CLOSE_TIMEOUT);
  const engine = validateEngine(options.engine);
  const exposeErrorStack = optionalBoolean(options.exposeErrorStack, 'options.exposeErrorStack');
  const limits = resolveResponderLimits(options);
  const check = accessCheck(options.origins, options.authenticate);
  const authenticateTimeout = optionalTimeout(options.authenticateTimeout, 'options.authenticateTimeout', DEFAULT_UPGRADE_TIMEOUT);

  const events = new Emitter<NatsServerEvents>();
  /** Reply subject of each single request in flight, by its key (`keyOf`). */
  const replies = new IdTable<string>(); // not a Map: see core/id-table.ts
  /** The reply subject of the frame (or cancel notice) being dispatched: it names the caller. */
  let replySubject: string | undefined;
  let link: NatsResponderLink | undefined;
  let idle: (() => void) | undefined;
  const checkIdle = () => queueMicrotask(() => incoming.size === 0 && idle?.());

  /** Who sent the message being dispatched: its headers, and what `authenticate` attached. */
  let caller: ConnectionInfo | undefined;
  /** The timeout its caller sent with it (see `TIMEOUT_MARK`), for each request in it, and what is left of it. */
  let callerTimeout: CallerTimeout | undefined;
  /** The time on the responder's clock: a caller's timeout runs from when its message came. */
  const now = clockNow(options.clock);
  /** The caller of a message with `headers`, as handlers and the hooks see it. */
  const callerOf = (headers: Record<string, string>, data: unknown = undefined): ConnectionInfo => ({
    transport: 'nats',
    remoteAddress: undefined,
    headers,
    url: subject,
    data,
  });
  const hooks = resolveHooks(options);
  const incoming = new IncomingCalls({
    methods,
    hooks,
    peer: noPeer('NATS'),
    // A draining close() waits for this: the last call answered or notification run.
    idle: () => idle?.(),
    connection: callerOf({}),
    write: (text, key) => {
      const reply = replies.get(key);
      if (reply === undefined) return;
      replies.delete(key);
      publish(reply, text, key);
      checkIdle();
    },
    // As over WebSocket: an inspector that throws must not break the calls it watches.
    inspect: isolatedInspector(options.inspect),
    exposeErrorStack,
    engine,
    xstate: XSTATE,
    handlerTimeout: limits.handlerTimeout,
    untimedCallTimeout: DEFAULT_UNTIMED_HANDLER_TIMEOUT,
    notificationTimeout: DEFAULT_UNTIMED_HANDLER_TIMEOUT,
    clock: options.clock,
  });

  /**
   * Publishes an answer; one nats-server will not carry (past its max_payload) is replaced by a -32603 that says so,
   * reported to the hooks (with the id, method and caller of the call filed under `key` when it answers one still
   * in flight, else for id null).
   */
  const publish = (reply: string, text: string, key?: Id) => {
    const error = link?.reply(reply, text);
    if (!error) return;
    const call = key === undefined ? undefined : incoming.callOf(key);
    const id = call?.id ?? null;
    const response = {
      code: ErrorCodes.InternalError,
      message: `the answer (${countOf(text.length, 'character')}) could not be published: ${error.message}`,
    };
    // Encoded before the hooks see it: what onError does to `info.response` changes nothing sent (nor throws here).
    const answer = encode(errorFrame(id, response));
    hooks.protocolError(response, call?.method, id, call?.connection ?? caller ?? incoming.connection);
    link?.reply(reply, answer);
  };
  /** Reports what `refuse` answers, from the caller whose message it was (`headers`, none when unreadable). */
  const refused =
    (headers: Record<string, string>) =>
    (error: ErrorObject, method: string, id: Id): void =>
      hooks.protocolError(error, method, id, callerOf(headers));

  /** What the inbound dispatcher needs of this responder: a call's answer goes to its request's reply subject. */
  const inbound: InboundHost = {
    limits,
    hooks,
    connection: () => caller ?? incoming.connection,
    running: incoming,
    // Until close() aborts what runs (or the connection goes): a message whose access check ends after that starts
    // nothing (its answer could not be published, and a notification's handler would run past close()).
    accepting: () => !ended,
    // Requests admitted while closing (their checks ended late) are refused, so that callers can go to another responder.
    busy: (method) => (closing === undefined ? undefined : serverClosing(method)),
    startCall: (frame, batch, _reply, bytes) => {
      // Filed under its caller's and its id: callers that number their calls alike (from 1) do not meet.
      const key = keyOf(replySubject, frame.id);
      if (batch) return incoming.receive(frame, bytes, batch, caller, key, callerTimeout);
      // A caller reusing the id of its own call still running: answered as a duplicate.
      if (replies.has(key)) return false;
      replies.set(key, replySubject!); // before receive: an unknown method is answered at once
      if (incoming.receive(frame, bytes, undefined, caller, key, callerTimeout)) return true;
      replies.delete(key);
      return false;
    },
    // The cancel's reply subject names its caller: only that caller's call with this id is cancelled.
    cancelCall: (id) => {
      const key = keyOf(replySubject, id);
      if (!incoming.cancel(key)) return;
      replies.delete(key);
      checkIdle();
    },
    response: ({ frame }) => inbound.report('unknown', frame, frame.id, 'responders make no calls: a response matches nothing'),
    notification: (method, params) => events.emit('notification', { method, params }),
    runNotification: (method, params, bytes) => incoming.notify(method, params, bytes, limits, caller),
    report: (reason, message, id, detail) => events.emit('unmatched', { reason, message, ...(id === undefined ? {} : { id }), detail }),
  };

  /**
   * Messages run in arrival order: each waits for its own check and for the message before it. A check
   * that takes longer than `authenticateTimeout` refuses (408); past `maxInFlightPerConnection` messages, or
   * `maxInFlightBytesPerConnection` of their text, waiting for their checks, the next (`length` characters) is
   * refused busy at once, so a hook that hangs holds nothing unbounded.
   */
  let admitted: Promise<void> = Promise.resolve();
  /** The messages waiting for their checks, and their length. */
  const awaiting = { size: 0, bytes: 0 };
  const admit = (headers: Record<string, string>, length: number, run: (data: unknown) => void, refused?: (refusal: Refusal) => void) => {
    if (check === undefined) return run(undefined);
    if (pastInFlightLimits(limits, awaiting, length) !== undefined) return refused?.({ waiting: awaiting, length });
    awaiting.size++;
    awaiting.bytes += length;
    const verdict = withDeadline(check({ headers, url: subject, remoteAddress: undefined }), authenticateTimeout, 'authenticateTimeout');
    admitted = admitted
      .then(() => verdict)
      .then((answer) => {
        awaiting.size--;
        awaiting.bytes -= length;
        if (answer.accepted) run(answer.data);
        else refused?.(answer);
      })
      // A bug in handling one message must not stop the messages after it: surface it, and go on.
      .catch((error: unknown) =>
        queueMicrotask(() => {
          throw error;
        }),
      );
  };

  /** The connection closed by this side because nats-server refused a subscription it needs (a permission). */
  const refusedBy = (error: NatsSubscriptionError) =>
    new ConnectionClosedError(`the connection to ${shownUrl(url)} was closed: ${error.message}`, { closeCode: 1008, cause: error });

  /** Set once handlers have been aborted for good: by close() after its drain window, or by the connection's end. */
  let ended = false;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let closing: Promise<void> | undefined;

  // Loaded first: its failure already says what to install. What follows fails with nats.js's bare words ("connection
  // refused", "timeout"): said again with the URL, as a client's connection that never opened is.
  await loadNats();
  link = await listenNats({
    url,
    subject,
    queue,
    onMessage: (text, reply, headers) => {
      // The caller's timeout runs from here: the wait for the access checks (this message's and those before it) counts.
      const timeout = reply === undefined ? undefined : timeoutOf(reply);
      const came = timeout === undefined ? 0 : now();
      admit(
        headers,
        text.length,
        (data) => {
          // startCall runs within receiveFrame, for this frame: it files a single call's answer under this subject.
          replySubject = reply;
          caller = callerOf(headers, data);
          callerTimeout = timeout === undefined ? undefined : { timeout, left: timeout - (now() - came) };
          try {
            receiveFrame(inbound, text, reply === undefined ? undefined : (answer) => publish(reply, answer));
          } finally {
            // Handlers that answer at once run (and publish) inside receiveFrame: whatever escapes, this frame's
            // subject and caller are not left for the next.
            replySubject = caller = callerTimeout = undefined;
          }
        },
        (refusal) => reply !== undefined && refuseMessage(text, refusal, limits, (answer) => publish(reply, answer), refused(headers)),
      );
    },
    onCancel: (text, reply, headers) =>
      admit(headers, text.length, () => {
        replySubject = reply;
        try {
          receiveCancels(inbound, text);
        } finally {
          replySubject = undefined;
        }
      }),
    // No one can say who sent it (an access check has no headers to read): reported, its requests answered -32600, none run.
    onUnreadable: (text, reply, { part, detail }) => {
      inbound.report('malformed', text, null, detail);
      // Text that is not UTF-8 is not JSON text: a parse error, answered to each request found in it as it reads.
      const error = { code: part === 'text' ? ErrorCodes.ParseError : ErrorCodes.InvalidRequest, message: detail };
      if (reply !== undefined) refuseMessage(text, error, limits, (answer) => publish(reply, answer), refused({}));
    },
    // The answer is lost and its caller's call times out: the operator hears of it (a responder whose user may not
    // publish to its callers' inboxes answers no one).
    onRefusedPublish: (subject, error) =>
      hooks.unsent(
        new Error(`nats-server refused the answer published to "${subject}", which is lost: ${error.message}`, { cause: error }),
        undefined,
        incoming.connection,
      ),
    onClosed: (error) => {
      ended = true;
      incoming.cancelAll();
      replies.clear();
      // nats.js gives no error when nats-server ended the connection: the event must not look like a close() of its own.
      const lost = () =>
        new ConnectionClosedError(`the connection to ${shownUrl(url)} was lost (nats-server closed it)`, { closeCode: 1006 });
      events.emit('close', closing ? {} : { error: error instanceof NatsSubscriptionError ? refusedBy(error) : (error ?? lost()) });
      resolveClosed();
    },
  }).catch((error: unknown) => {
    if (error instanceof NatsSubscriptionError) throw refusedBy(error);
    throw new ConnectionClosedError(`could not connect to ${shownUrl(url)} (code 1006): ${messageOf(error)}`, {
      closeCode: 1006,
      cause: error,
    });
  });

  return {
    url,
    subject,
    queue,
    get handlingCalls() {
      return incoming.size;
    },
    closed,
    on: (event, listener) => events.on(event, listener),
    once: (event, listener) => events.once(event, listener),
    close: (closeOptions) => {
      const drain = resolveDrain(closeOptions, closeTimeout);
      return (closing ??= (async () => {
        // nats-server has closeTimeout to take the responder out of its group. One that has not confirmed it by then
        // (gone, or frozen) gets no more time for the last flush: close() ends within closeTimeout and the drain window.
        const leaving = sleep(closeTimeout, options.clock);
        let flushing: ReturnType<typeof sleep> | undefined;
        try {
          const left = await link!.stopReceiving(leaving.done);
          // Messages still waiting for their access checks are answered (busy) before the connection goes.
          await Promise.race([admitted, leaving.done]);
          if (incoming.size > 0) await drainWindow(new Promise<void>((resolve) => (idle = resolve)), drain, options.clock);
          // Their callers are told now (the answers go out with the connection's drain), not left to their timeouts.
          ended = true;
          incoming.abandonAll(serverLeft);
          flushing = left ? sleep(closeTimeout, options.clock) : leaving;
          await link!.close(flushing.done);
        } finally {
          leaving.cancel();
          flushing?.cancel();
        }
        await closed;
      })());
    },
  };
}
