/**
 * Incoming calls of one connection: one incoming-call actor per request, the
 * handler run as its invoked promise actor (whose signal becomes `ctx.signal`),
 * and replies collected per batch when the request came in a JSON-RPC batch.
 */
import type { AnyActorRef } from 'xstate';
import {
  incomingCallLogic,
  type HandlerInput,
  type IncomingCallContext,
  type IncomingCallEvent,
  type IncomingCallInput,
} from '../../machines/incomingCall.logic.js';
import { schedulerFor } from '../engine/deadlines.js';
import { incomingCallTable } from '../engine/generated/incomingCall.table.js';
import { defineRunner, type Actors, type RunningActor, type XStateEngine } from '../engine/runner.js';
import { RpcError } from '../errors.js';
import type { Hooks } from '../hooks.js';
import { encode, encodeResult, errorFrame, ErrorCodes, type ErrorObject, type Id, type RequestFrame } from '../protocol/jsonrpc.js';
import { HEARTBEAT_METHOD } from '../transports/browser-ws.js';
import type { Clock, ConnectionInfo, Engine, HandlerContext, InspectOption } from '../types.js';
import type { BatchReply, HeldReplies } from './batch-reply.js';
import { HandlerDeadline } from './handler-deadline.js';
import { IdTable } from './id-table.js';
import { messageOf, toErrorObject } from './handler-error.js';
import { Context, invoke, scopeAborted, type AnyMethod, type CallScope } from './invoke.js';
import { cancelledByCaller, connectionClosed, serverIsClosing } from './abort-reasons.js';
import { promiseOf } from '../engine/thenable.js';
import type { ResponderLimits } from '../limits.js';
import { inFlightRefusal, type Running } from './refusals.js';

export type { AnyMethod } from './invoke.js';

/**
 * One incoming call. It is also what its handler's `ctx.signal` comes from (a `CallScope`): a plain controller's
 * signal, made only if the handler reads it, that aborts when the engine's run of the handler does, with the reason
 * this side gave for ending the call (see abort-reasons.ts), not the engine's bare AbortError. As in
 * handler-deadline.ts, not `AbortSignal.any` (which Node keeps alive while it has listeners).
 */
class IncomingEntry implements CallScope {
  actor: RunningActor<IncomingContext, IncomingCallEvent> = undefined!;
  /** The handler's deadline, when the responder has a `handlerTimeout` or the caller sent its timeout. */
  deadline?: HandlerDeadline = undefined;
  /** The call was answered before it ended cancelled (-32800 to its caller's cancel, or `abandonAll`'s error). */
  cancelAnswered?: boolean = undefined;
  /** The engine's run of the handler (its abort ends the handler), once it started. */
  private scope: CallScope | undefined = undefined;
  /** The controller of `signal`, once read. */
  private controller: AbortController | undefined = undefined;
  /** Why this side ended the call (set just before it tells the actor): the reason `signal` aborts with. */
  private reason: unknown = undefined;

  constructor(
    /** What the call is filed under: its id, or (where one host serves many callers, as a NATS responder does) its caller's and its id. */
    readonly key: Id,
    /** The request's size, counted in `IncomingCalls.bytes` while it runs. */
    readonly bytes: number,
    readonly batch: BatchReply | undefined,
    /** Who made the call: `ctx.connection`. */
    readonly connection: ConnectionInfo,
    /** The caller's timeout, when it sent it (a NATS request: in its reply subject, see `TIMEOUT_MARK` in transports/nats.ts): the handler is aborted past it. */
    readonly callerTimeout: CallerTimeout | undefined,
  ) {}

  /** The handler started, run by the engine in `scope`. */
  started(scope: CallScope): void {
    this.scope = scope;
  }

  /** This side ends the call, for `reason` (the first one given counts): `signal` will abort with it. */
  ending(reason: unknown): void {
    this.reason ??= reason;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      const controller = (this.controller = new AbortController());
      const run = this.scope!.signal;
      const abort = () => controller.abort(this.reason ?? run.reason);
      if (run.aborted) abort();
      else run.addEventListener('abort', abort, { once: true });
    }
    return this.controller.signal;
  }

  get aborted(): boolean {
    return this.controller?.signal.aborted ?? (this.scope !== undefined && scopeAborted(this.scope));
  }
}

/** A caller's timeout, sent with its request (NATS: see `TIMEOUT_MARK` in transports/nats.ts). */
export interface CallerTimeout {
  /** As the caller sent it, in ms: what the -32001 names. */
  timeout: number;
  /**
   * What is left of it as the call starts, in ms: counted from when the request came, so that what the responder made it
   * wait for first (its `authenticate`, and the messages before it) counts against it. May be 0 or less.
   */
  left: number;
}

/** A handler run by a notification: its key in `notifications`, its abort, and its deadline with `handlerTimeout`. */
interface RunningNotification {
  key: number;
  bytes: number;
  controller: AbortController;
  deadline: HandlerDeadline | undefined;
}

export interface IncomingOptions {
  methods: Record<string, AnyMethod>;
  /** Middleware, error hook and logger (`NO_HOOKS` when none). */
  hooks: Hooks;
  /** What handlers see as `ctx.peer`. */
  peer: HandlerContext<any>['peer'];
  /** What handlers see as `ctx.connection`, unless `receive` is given one for its call (NATS: per message). */
  connection: ConnectionInfo;
  /** Writes a reply frame (ignored once the connection is gone); `key` is what the request was filed under (`receive`), for transports that route replies by it. */
  write: (text: string, key: Id) => void;
  inspect: InspectOption;
  /** Include the handler error's stack in the error response's `data`. */
  exposeErrorStack: boolean;
  /** Which interpreter runs each incoming call. */
  engine: Engine;
  /** XState (Node build): for `engine: 'xstate'`, and for inspectors to see the machine. */
  xstate: XStateEngine | undefined;
  /** Longest a handler may run, in ms, before its signal aborts and the caller gets -32001. Default: none. */
  handlerTimeout?: number;
  /**
   * `handlerTimeout` when it is not given, for requests that carry no timeout of their caller (a NATS responder's: no
   * connection of theirs ends, so nothing else would ever free the place a handler that never settles holds). Default: none.
   */
  untimedCallTimeout?: number;
  /**
   * `handlerTimeout` when it is not given, for notifications' handlers, where nothing else ends them: over NATS (no
   * connection of theirs), over HTTP (their POST was answered at once, and its connection closing ends nothing). Default: none.
   */
  notificationTimeout?: number;
  /** Clock of the handler timeouts (real time when none). */
  clock?: Clock;
  /** Called each time the last call or notification handler running ends (a server draining waits for it). */
  idle?: () => void;
}

const hasOwn = Object.prototype.hasOwnProperty;

type IncomingContext = IncomingCallContext;

/** The owner's side of the incoming-call machine, for both engines; the light table is loaded here, once. */
const incomingRunner = defineRunner<IncomingCallInput, IncomingCalls, IncomingEntry, IncomingContext, IncomingCallEvent>(
  incomingCallTable,
  incomingCallLogic,
  {
    guards: { hasMethod: (calls, context) => calls.hasMethod(context.method) },
    actors: { handler: (calls, { method, params, id }: HandlerInput, scope, entry) => calls.runHandler(entry, method, params, id, scope) },
    actions: {
      sendResult: (calls, entry, context) => calls.sendResult(entry, context),
      sendError: (calls, entry, context) => calls.sendError(entry, context),
      sendCancelled: (calls, entry, context) => calls.sendCancelled(entry, context),
    },
  },
);
const CANCELLED = incomingRunner.state('cancelled');

export class IncomingCalls implements Running, HeldReplies {
  /** By id (an `IdTable`, not a `Map`: see id-table.ts). */
  private readonly inFlight = new IdTable<IncomingEntry>();
  /**
   * Handlers run by notifications, by a number of their own: counted in `size` until they end, or until the
   * connection ends and aborts them (as a request's handler is: one that ignores its signal no longer counts).
   */
  private readonly notifications = new IdTable<RunningNotification>();
  private notificationsRun = 0;
  private runningBytes = 0;
  /** Answers of batches not yet complete, held after their calls ended (`BatchReply`). */
  private heldBytes = 0;
  private readonly actors: Actors<IncomingCallInput, IncomingEntry, IncomingContext, IncomingCallEvent>;
  /**
   * Times handlers with a deadline: made at once with a `handlerTimeout`, `untimedCallTimeout` or `notificationTimeout` (notifications need it made), else when the
   * first caller's timeout comes (a NATS request's).
   */
  private handlerDeadlines: ReturnType<typeof schedulerFor> | undefined;

  /** Longest a handler of a request that carries no timeout of its caller may run: `handlerTimeout`, or else `untimedCallTimeout`. */
  private readonly callTimeout: number | undefined;
  /** Longest a notification's handler may run: `handlerTimeout`, or else `notificationTimeout`. */
  private readonly notificationTimeout: number | undefined;

  constructor(private readonly options: IncomingOptions) {
    this.callTimeout = options.handlerTimeout ?? options.untimedCallTimeout;
    this.notificationTimeout = options.handlerTimeout ?? options.notificationTimeout;
    const timed = this.callTimeout !== undefined || this.notificationTimeout !== undefined;
    this.handlerDeadlines = timed ? schedulerFor(options.clock) : undefined;
    this.actors = incomingRunner.create(options.engine, this, {
      inspect: options.inspect,
      xstate: options.xstate,
      onDone: (entry, actor) => this.finished(entry, actor.in(CANCELLED)),
    });
  }

  /** Reported as every incoming call actor's parent to inspectors (light engine). */
  set parent(actor: AnyActorRef | undefined) {
    this.actors.parent = actor;
  }

  /** Number of incoming calls still being handled (requests, and notifications that run a method). */
  get size(): number {
    return this.inFlight.size + this.notifications.size;
  }

  /**
   * Size of the requests (and notifications) still being handled, in characters of their JSON text, and of the
   * answers held for batches not yet complete: a batch with one call that never ends holds the others' answers.
   */
  get bytes(): number {
    return this.runningBytes + this.heldBytes;
  }

  /** Of `bytes`, the answers held for batches not yet complete. */
  get held(): number {
    return this.heldBytes;
  }

  /** A batch holds `bytes` more characters of answers (negative: it was written). */
  hold(bytes: number): void {
    this.heldBytes += bytes;
  }

  /** Who is on the other end by default (a call may come with its own, on NATS). */
  get connection(): ConnectionInfo {
    return this.options.connection;
  }

  /**
   * Handles one request, `bytes` long, made by `connection` (default: the connection's own), filed under `key` (default:
   * its id; a host serving many callers gives each caller's ids their own). `callerTimeout`: the caller's timeout, when
   * it sent it (the handler is aborted once what is left of it has passed, or past `handlerTimeout` if that comes
   * first). Returns false
   * when a request filed under the same key is already in flight.
   */
  receive(
    frame: RequestFrame,
    bytes: number,
    batch?: BatchReply,
    connection: ConnectionInfo = this.options.connection,
    key: Id = frame.id,
    callerTimeout?: CallerTimeout,
  ): boolean {
    if (this.inFlight.has(key)) return false;
    // Uninspected, the outcome's fields have their slots from the start: recording one then writes in place,
    // with no growth of the context object (about 270 bytes a call, issue 16). Inspectors see the input as sent.
    const input = this.actors.inspected
      ? { id: frame.id, method: frame.method, params: frame.params }
      : { id: frame.id, method: frame.method, params: frame.params, result: undefined, error: undefined, failure: undefined };
    const entry = new IncomingEntry(key, bytes, batch, connection, callerTimeout);
    batch?.expect();
    this.inFlight.set(key, entry);
    this.runningBytes += bytes;
    entry.actor = this.actors.create(input, entry);
    entry.actor.start();
    return true;
  }

  /** The method and caller of the call filed under `key` while it runs or is answered (a transport that could not send its answer reports them). */
  callOf(key: Id): { id: Id; method: string; connection: ConnectionInfo } | undefined {
    const entry = this.inFlight.get(key);
    return entry && { id: entry.actor.context.id, method: entry.actor.context.method, connection: entry.connection };
  }

  /**
   * The caller sent `$/cancelRequest` for the call filed under `key`: its handler's signal aborts with `reason` (an
   * AbortError saying so by default). Returns whether a call was in flight.
   */
  cancel(key: Id, reason: unknown = cancelledByCaller()): boolean {
    const entry = this.inFlight.get(key);
    if (!entry) return false;
    entry.ending(reason);
    entry.actor.send({ type: 'call.cancel', reason });
    return true;
  }

  /** The connection is gone (or the server is closing: `reason`): abort every handler with `reason`. */
  cancelAll(reason: unknown = connectionClosed()): void {
    this.cancelCalls(reason);
    for (const running of this.notifications.values()) {
      running.controller.abort(reason);
      this.notificationEnded(running);
    }
  }

  /**
   * Aborts the handlers of calls (their callers wait for answers that can no longer be sent), leaving those of
   * notifications running: over HTTP, a notification's POST was answered already, and its connection closing says
   * nothing about it.
   */
  cancelCalls(reason: unknown = connectionClosed()): void {
    for (const entry of this.inFlight.values()) {
      entry.ending(reason);
      entry.actor.send({ type: 'connection.closed' });
    }
  }

  /**
   * The responder leaves while calls still run (a NATS responder's close, after its drain window): each caller is
   * answered `error` now, then every handler is aborted as by `cancelAll`. A closing WebSocket fails the other
   * end's calls at once; a NATS caller, who has no connection to lose, would otherwise wait for its timeout.
   */
  abandonAll(error: (method: string) => ErrorObject): void {
    for (const entry of this.inFlight.values()) {
      const { id, method } = entry.actor.context;
      // Answered: its batch must not stop waiting for it when its actor ends cancelled (see `finished`).
      entry.cancelAnswered = true;
      this.replyError(entry, id, error(method));
    }
    this.cancelAll(serverIsClosing());
  }

  /**
   * A notification for one of this side's methods runs it, as plain JSON-RPC servers do: through the
   * middleware and schema, its result dropped, what it throws reported to the hooks (nobody is answered).
   * Not run (and reported as -32000 to the hooks) past the in-flight `limits`, as a request would be refused.
   */
  notify(
    method: string,
    params: unknown,
    bytes: number,
    limits: ResponderLimits,
    connection: ConnectionInfo = this.options.connection,
  ): void {
    if (!this.hasMethod(method)) return;
    const { hooks, peer } = this.options;
    const handlerTimeout = this.notificationTimeout;
    const busy = inFlightRefusal(limits, this, method, bytes);
    if (busy) {
      hooks.handlerError(new RpcError(busy.code, busy.message, busy.data), method, undefined, connection);
      return;
    }
    const controller = new AbortController();
    let deadline: HandlerDeadline | undefined;
    if (handlerTimeout !== undefined && this.handlerDeadlines !== undefined) {
      deadline = new HandlerDeadline(controller, method, handlerTimeout);
      this.handlerDeadlines.add(deadline, handlerTimeout);
    }
    const running: RunningNotification = { key: ++this.notificationsRun, bytes, controller, deadline };
    this.notifications.set(running.key, running);
    this.runningBytes += bytes;
    const ctx = new Context(deadline ?? controller, peer, connection, undefined, method, params);
    const run = () => invoke(this.options.methods[method]!, hooks, ctx);
    (deadline ? deadline.race(run) : promiseOf(run))
      .catch((error: unknown) => {
        // Aborted because the connection went: nobody needs to hear of it.
        if (!controller.signal.aborted) hooks.handlerError(error, method, undefined, connection);
      })
      .finally(() => this.notificationEnded(running));
  }

  /** A notification's handler ended, or was aborted with the connection: it no longer counts (once). */
  private notificationEnded(running: RunningNotification): void {
    if (!this.notifications.delete(running.key)) return;
    this.runningBytes -= running.bytes;
    if (running.deadline) this.handlerDeadlines?.remove(running.deadline);
    this.idleCheck();
  }

  /**
   * `hasMethod`: own properties only (`__proto__`, `toString` and friends are not methods), a function or `{ params,
   * handler }`. Never throws: a getter or a Proxy trap of the methods object that throws here threw out of the
   * machine's guard, out of the transport's message handler (the process's uncaught exception), and left the call
   * unanswered and its id in use for good. Such a method is run instead, and the read, throwing again where the
   * handler is taken, is answered -32603 and reported as the handler's error.
   */
  hasMethod(method: string): boolean {
    const { methods } = this.options;
    try {
      if (!hasOwn.call(methods, method)) return false;
      const entry = methods[method];
      return typeof entry === 'function' || (typeof entry === 'object' && entry !== null && typeof entry.handler === 'function');
    } catch {
      return true;
    }
  }

  /**
   * The `handler` actor: runs the method, and returns what it returns (a value, or a promise of one); what it throws
   * at once is thrown on, to the engine, which answers it as it would a rejection.
   */
  runHandler(entry: IncomingEntry, method: string, params: unknown, id: Id, scope: { readonly signal: AbortSignal }): unknown {
    const handler = this.options.methods[method]!;
    const { handlerTimeout, peer, hooks } = this.options;
    const { connection, callerTimeout } = entry;
    entry.started(scope);
    const callers = callerTimeout !== undefined && (handlerTimeout === undefined || callerTimeout.left < handlerTimeout);
    // A caller that sent its timeout is bound by it (or by a shorter `handlerTimeout`), not by `untimedCallTimeout`.
    const limit = callers ? callerTimeout.timeout : this.callTimeout;
    if (limit === undefined) {
      const ctx = new Context(entry, peer, connection, id, method, params);
      // A call of a batch ends no sooner than the next microtask: each call of the batch runs, and counts as running
      // (against the in-flight limits, and as an id in use, that a duplicate is refused), until the whole batch is in.
      return entry.batch ? promiseOf(() => invoke(handler, hooks, ctx)) : invoke(handler, hooks, ctx);
    }
    const deadline = new HandlerDeadline(entry, method, limit, callers);
    // Nothing left of the caller's timeout (a NATS responder's access checks took it): the handler does not start, for
    // a call its caller no longer waits for.
    if (callers && callerTimeout.left <= 0) return Promise.reject(deadline.error());
    entry.deadline = deadline;
    // The caller's deadline is what is left of its timeout: it was counted from when the request came.
    (this.handlerDeadlines ??= schedulerFor(this.options.clock)).add(deadline, callers ? Math.max(0, callerTimeout.left) : limit);
    return deadline.race(() => invoke(handler, hooks, new Context(deadline, peer, connection, id, method, params)));
  }

  /** `sendResult`; a result that cannot be encoded is answered -32603 and reported to the hooks as the handler's error. */
  sendResult(entry: IncomingEntry, context: IncomingContext): void {
    const { id, method, result } = context;
    let text: string;
    try {
      // Encoded here, not in a closure handed to `reply`: two closures a call fewer on the way of every answer.
      text = encodeResult(id, result);
    } catch (thrown) {
      const { hooks } = this.options;
      const message = `the result of "${method}" cannot be encoded as JSON: ${messageOf(thrown)}`;
      // What a toJSON or a getter threw is the handler's, as what it throws is: with exposeErrors false it stays here.
      const error = { code: ErrorCodes.InternalError, message: hooks.exposeErrors ? message : 'internal error' };
      // Encoded before the hooks see it: what onError does to `info.response` changes nothing sent.
      text = errorText(id, error);
      if (hooks.listening) hooks.handlerError(new TypeError(message, { cause: thrown }), method, id, entry.connection, error);
    }
    this.send(entry, text);
  }

  /** `sendError`: method not found, or what the handler threw; either is reported to the hooks. */
  sendError(entry: IncomingEntry, context: IncomingContext): void {
    const { hooks } = this.options;
    const { connection } = entry;
    const notFound = context.failure === 'methodNotFound';
    const error: ErrorObject = notFound
      ? { code: ErrorCodes.MethodNotFound, message: `method not found: ${context.method}` }
      : toErrorObject(context.error, this.options.exposeErrorStack, hooks.exposeErrors);
    // Encoded before the hooks see it: what onError does to `info.response` changes nothing sent (nor throws here).
    // The thrown value's data cannot travel as JSON: answer without it rather than not at all.
    const text = this.encodeReply(
      context.id,
      () => encode(errorFrame(context.id, error)),
      () => ({ code: error.code, message: error.message }),
    );
    if (!notFound) hooks.handlerError(context.error, context.method, context.id, connection, error);
    // Every browser client sends a heartbeat every half interval, and any answer will do: not worth a warning each.
    else if (context.method !== HEARTBEAT_METHOD) hooks.protocolError(error, context.method, context.id, connection);
    this.send(entry, text);
  }

  /** `sendCancelled`: the caller cancelled with `$/cancelRequest`; answered -32800, so that LSP-style callers stop waiting. */
  sendCancelled(entry: IncomingEntry, context: IncomingContext): void {
    entry.cancelAnswered = true;
    this.replyError(entry, context.id, {
      code: ErrorCodes.RequestCancelled,
      message: `request cancelled: "${context.method}" was cancelled by its caller`,
    });
  }

  /** The call reached a final state. Calls cancelled by the connection's end send nothing, so a batch must not wait for them. */
  private finished(entry: IncomingEntry, cancelled: boolean): void {
    this.inFlight.delete(entry.key);
    this.runningBytes -= entry.bytes;
    if (entry.deadline) this.handlerDeadlines?.remove(entry.deadline);
    if (cancelled && !entry.cancelAnswered) entry.batch?.drop();
    this.idleCheck();
  }

  /** Tells the owner (a server draining) once nothing runs any more: no call, no notification. */
  private idleCheck(): void {
    if (this.size === 0) this.options.idle?.();
  }

  /** Answers the call of `entry` (`id`) with `error`, made by callstate (its `data`, if any, encodes). */
  private replyError(entry: IncomingEntry, id: Id, error: ErrorObject): void {
    this.reply(
      entry,
      id,
      () => encode(errorFrame(id, error)),
      () => error,
    );
  }

  /**
   * Writes the reply `encodeReply` makes or, when that throws (whatever it
   * throws), the error `fallback` describes. Never throws itself: a throw here
   * would stop the call's actor in error, unanswered and never released, and
   * the light engine rethrows it where nothing catches it.
   */
  private reply(entry: IncomingEntry, id: Id, encodeReply: () => string, fallback: (thrown: unknown) => ErrorObject): void {
    this.send(entry, this.encodeReply(id, encodeReply, fallback));
  }

  /** The reply `encodeReply` makes or, when that throws (whatever it throws), the error `fallback` describes; never throws. */
  private encodeReply(id: Id, encodeReply: () => string, fallback: (thrown: unknown) => ErrorObject): string {
    try {
      return encodeReply();
    } catch (thrown) {
      return errorText(id, fallback(thrown));
    }
  }

  /** Writes the reply `text` to the call of `entry`, into its batch's array when the request came in one. */
  private send(entry: IncomingEntry, text: string): void {
    if (entry.batch) entry.batch.add(text, entry.actor.context.id);
    else this.options.write(text, entry.key);
  }
}

/** The error response `error` to `id`, or, when its `data` cannot be encoded (whatever that throws), one saying so. */
function errorText(id: Id, error: ErrorObject): string {
  try {
    return encode(errorFrame(id, error));
  } catch {
    return encode(errorFrame(id, { code: ErrorCodes.InternalError, message: 'the reply cannot be encoded as JSON' }));
  }
}
