/** Running a method for a request or notification: the middleware onion, the params schema, the handler, and its `ctx`. */
import type { Hooks } from '../hooks.js';
import type { Id } from '../protocol/jsonrpc.js';
import type { StandardSchemaV1 } from '../standard-schema.js';
import type { ConnectionInfo, HandlerContext } from '../types.js';
import { checkParams } from './params-schema.js';

export type AnyHandler = (params: any, ctx: HandlerContext<any>) => unknown;
/** A method as the responder was given it: a handler, or a handler behind a params schema. */
export type AnyMethod = AnyHandler | { params: StandardSchemaV1; handler: AnyHandler };

/**
 * What `ctx.signal` comes from: the engine's run of the handler, a handler deadline, a notification's controller.
 * `aborted`, where there, is read without making the signal (the light engine makes it only if someone asks).
 */
export interface CallScope {
  readonly signal: AbortSignal;
  readonly aborted?: boolean;
}

/** Whether the call of `scope` ended (cancelled, its connection gone, past its deadline), without making its signal. */
export function scopeAborted(scope: CallScope): boolean {
  return scope.aborted ?? scope.signal.aborted;
}

/** `ctx`: what a handler (and each middleware, which reads `params` too) gets. */
export class Context implements HandlerContext<any> {
  constructor(
    /** @internal */
    readonly scope: CallScope,
    readonly peer: HandlerContext<any>['peer'],
    readonly connection: ConnectionInfo,
    readonly id: Id | undefined,
    readonly method: string,
    readonly params: unknown,
  ) {}

  /** @internal Whether the middleware chain has settled: the call is answered (or the notification done). */
  answered = false;
  /** @internal Misuses of `next()` seen while the chain ran, reported once it settles unless one is its answer. */
  misused: Error[] | undefined;

  get signal(): AbortSignal {
    return this.scope.signal;
  }
}

/**
 * Runs a method now: through the middleware, then its params schema, then its handler. Returns what the handler
 * returned (a value, or a promise of one) and throws what it threw at once: with no middleware and no schema, exactly
 * the handler call. The light engine answers a value returned at once in the same step, with no promise made (issue
 * 16); callers that only await the outcome take it through `promiseOf`. A misused `next()` (twice, or after its
 * middleware or the chain settled) is reported to `hooks` as the handler's error, unless it is the call's answer.
 */
export function invoke(method: AnyMethod, hooks: Hooks, ctx: Context): unknown {
  return hooks.use.length !== 0 ? dispatch(hooks, 0, ctx, method) : callMethod(method, ctx);
}

/** The onion: middleware `i` runs with a `next` that runs `i + 1`, and the method after the last. */
function dispatch(hooks: Hooks, i: number, ctx: Context, method: AnyMethod): Promise<unknown> {
  const { use } = hooks;
  try {
    // A middleware that calls next() once the call has ended (it awaited something past a cancel, a disconnect or the
    // deadline) starts nothing more: the handler would run for nobody, counted nowhere.
    if (i !== 0) throwIfEnded(ctx);
    if (i === use.length) return Promise.resolve(callMethod(method, ctx));
    let called = false;
    // Set once use[i] has returned (or thrown): a next() called from then on runs the rest only if it had not settled.
    let returnedYet = false;
    // Set by a reaction on what use[i] returned, once that has settled (watched only if next() was not called before).
    let settled = false;
    const next = () => {
      let rest: Promise<unknown>;
      if (called)
        rest = Promise.reject(misuse(hooks, ctx, new Error(`next() called more than once by middleware ${i} (options.use[${i}])`)));
      else {
        called = true;
        rest = returnedYet ? unlessSettled(hooks, i, ctx, method, () => settled) : dispatch(hooks, i + 1, ctx, method);
      }
      // A middleware may call next() without awaiting it (and answer on its own): what the rest of the chain
      // rejects with is then nobody's, and must not become the process's unhandled rejection.
      rest.catch(() => {});
      return rest;
    };
    let result: Promise<unknown>;
    let watched: Promise<unknown>;
    try {
      [result, watched] = returned(use[i]!(ctx, next));
    } catch (error) {
      result = watched = Promise.reject(error);
    }
    returnedYet = true;
    if (i === 0) {
      // The chain's outcome: once it has settled the call is answered (use[0]'s own settling is this too).
      const answered = (reason?: unknown) => {
        ctx.answered = true;
        for (const error of ctx.misused ?? []) if (error !== reason) report(hooks, ctx, error);
        ctx.misused = undefined;
      };
      whenSettled(watched, () => answered(), answered);
    } else if (!called) {
      const mark = () => void (settled = true);
      whenSettled(watched, mark, mark);
    }
    return result;
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * What a middleware returned, as a promise of the chain, and the promise to watch to tell whether it has settled
 * (`unlessSettled`). `Promise.resolve` would do for the first, but it follows a thenable (and a promise of a subclass of
 * Promise) a turn later, calling its `then` from a job: one settled already would still look pending to a `next()`
 * queued before it was returned (`queueMicrotask(next); return Sub.reject(…)`), which would run the handler of a call
 * refused. A thenable's `then` is called here instead, once, as `Promise.resolve` calls it (what it calls back at once
 * is seen at once); a promise of a subclass is watched itself.
 */
function returned(value: unknown): [Promise<unknown>, Promise<unknown>] {
  if (value instanceof Promise) return [Promise.resolve(value), value];
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    const settled = Promise.resolve(value);
    return [settled, settled];
  }
  // Read once, as Promise.resolve reads it: a getter that throws rejects.
  const then: unknown = (value as { then?: unknown }).then;
  const adopted =
    typeof then === 'function' ? new Promise((resolve, reject) => void then.call(value, resolve, reject)) : Promise.resolve(value);
  return [adopted, adopted];
}

/** Reacts once `promise` settles, queued at once if it has: `then` of Promise itself, whatever its class says. */
function whenSettled(promise: Promise<unknown>, fulfilled: () => void, rejected: (reason: unknown) => void): void {
  try {
    Promise.prototype.then.call(promise, fulfilled, rejected);
  } catch {
    // A subclass whose species cannot be made: followed as Promise.resolve follows it, a turn later.
    Promise.resolve(promise).then(fulfilled, rejected);
  }
}

/**
 * `next()` of middleware `i`, called once it returned (or threw): the rest runs only if neither it nor the chain had
 * settled by then. A promise does not tell whether it has settled; but reactions run in the order they were queued,
 * and the ones that set `ctx.answered` and `settled()` were queued when their promise settled (or, settled already,
 * when they were attached, as it returned): before the job queued here if it had settled when next() was called, after
 * it if not. So a middleware that threw, then ran `queueMicrotask(next)` or `Promise.resolve().then(next)`, or kept
 * `next` for later, starts no handler for a call refused or answered, and one still running (it awaited something,
 * then called next()) starts it one job later.
 */
function unlessSettled(hooks: Hooks, i: number, ctx: Context, method: AnyMethod, settled: () => boolean): Promise<unknown> {
  return Promise.resolve().then(() => {
    const after = ctx.answered ? 'the call was answered' : settled() ? 'it had returned or thrown' : undefined;
    if (after === undefined) return dispatch(hooks, i + 1, ctx, method);
    throw misuse(hooks, ctx, new Error(`next() called by middleware ${i} (options.use[${i}]) after ${after}: nothing more runs`));
  });
}

/** A misused `next()`'s error: reported now if the chain has settled, else once it does (unless it is its answer). */
function misuse(hooks: Hooks, ctx: Context, error: Error): Error {
  if (ctx.answered) report(hooks, ctx, error);
  else (ctx.misused ??= []).push(error);
  return error;
}

/** A misuse of `next()` is the middleware's bug: reported as its error, with no response (nothing more is sent for it). */
function report(hooks: Hooks, ctx: Context, error: Error): void {
  hooks.handlerError(error, ctx.method, ctx.id, ctx.connection);
}

function callMethod(method: AnyMethod, ctx: Context): unknown {
  if (typeof method === 'function') return method(ctx.params, ctx);
  const checked = checkParams(method.params, ctx.params, ctx.method);
  // An async schema may settle after the call ended: the handler does not start then either.
  return checked instanceof Promise
    ? checked.then((params) => (throwIfEnded(ctx), method.handler(params, ctx)))
    : method.handler(checked, ctx);
}

/** Throws the signal's reason (an `AbortError` or `TimeoutError` DOMException) once the call of `ctx` has ended. */
function throwIfEnded(ctx: Context): void {
  if (scopeAborted(ctx.scope)) ctx.signal.throwIfAborted();
}
