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
  /** @internal What the outermost middleware returned, once it has returned (or thrown). */
  outcome: Promise<unknown> | undefined;
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

/** What a middleware's `next` does when called: run the rest, or refuse as `late` says (the chain answered, or its middleware settled). */
type Late = 'answered' | 'settled' | undefined;

/** The onion: middleware `i` runs with a `next` that runs `i + 1`, and the method after the last. */
function dispatch(hooks: Hooks, i: number, ctx: Context, method: AnyMethod): Promise<unknown> {
  const { use } = hooks;
  try {
    // A middleware that calls next() once the call has ended (it awaited something past a cancel, a disconnect or the
    // deadline) starts nothing more: the handler would run for nobody, counted nowhere.
    if (i !== 0) throwIfEnded(ctx);
    if (i === use.length) return Promise.resolve(callMethod(method, ctx));
    let called = false;
    // What use[i] returned (or threw), once it has: from then on it may have settled.
    let result: Promise<unknown> | undefined;
    // The promise whose reactions tell when use[i] settled (see unlessSettled): `result`, or the promise it returned.
    let watched: Promise<unknown> | undefined;
    const next = () => {
      let rest: Promise<unknown>;
      if (called)
        rest = Promise.reject(misuse(hooks, ctx, new Error(`next() called more than once by middleware ${i} (options.use[${i}])`)));
      else {
        called = true;
        rest = watched === undefined ? dispatch(hooks, i + 1, ctx, method) : unlessSettled(hooks, i, ctx, method, watched);
      }
      // A middleware may call next() without awaiting it (and answer on its own): what the rest of the chain
      // rejects with is then nobody's, and must not become the process's unhandled rejection.
      rest.catch(() => {});
      return rest;
    };
    try {
      [result, watched] = returned(use[i]!(ctx, next));
    } catch (error) {
      result = watched = Promise.reject(error);
    }
    if (i === 0) {
      ctx.outcome = watched;
      const answered = (reason?: unknown) => {
        ctx.answered = true;
        for (const error of ctx.misused ?? []) if (error !== reason) report(hooks, ctx, error);
        ctx.misused = undefined;
      };
      void result.then(() => answered(), answered);
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

/** Calls `react` once `promise` settles, queued at once if it has: `then` of Promise itself, whatever its class says. */
function whenSettled(promise: Promise<unknown>, react: () => void): void {
  try {
    Promise.prototype.then.call(promise, react, react);
  } catch {
    // A subclass whose species cannot be made: followed as Promise.resolve follows it, a turn later.
    Promise.resolve(promise).then(react, react);
  }
}

/**
 * `next()` of middleware `i`, called once it returned (or threw): the rest runs only if neither it nor the chain has
 * settled. A promise does not tell whether it has settled; but reactions run in the order they were queued, and one
 * on a promise settled already is queued at once, before one on a promise settled now: the first of these three to
 * run says how things stood when next() was called (a middleware that threw, then ran `queueMicrotask(next)` or
 * `Promise.resolve().then(next)`, or kept `next` for later, starts no handler for a call refused or answered).
 */
function unlessSettled(hooks: Hooks, i: number, ctx: Context, method: AnyMethod, result: Promise<unknown>): Promise<unknown> {
  return new Promise<Late>((resolve) => {
    const { outcome } = ctx;
    if (outcome !== undefined && outcome !== result) whenSettled(outcome, () => resolve('answered'));
    whenSettled(result, () => resolve(i === 0 ? 'answered' : 'settled'));
    void Promise.resolve().then(() => resolve(undefined));
  }).then((late) => {
    if (late === undefined) return dispatch(hooks, i + 1, ctx, method);
    const after = late === 'answered' ? 'the call was answered' : 'it had returned or thrown';
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
