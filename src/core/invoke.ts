/** Running a method for a request or notification: the middleware onion, the params schema, the handler, and its `ctx`. */
import type { Middleware } from '../hooks.js';
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

  get signal(): AbortSignal {
    return this.scope.signal;
  }
}

/**
 * Runs a method now: through the middleware, then its params schema, then its handler. Returns what the handler
 * returned (a value, or a promise of one) and throws what it threw at once: with no middleware and no schema, exactly
 * the handler call. The light engine answers a value returned at once in the same step, with no promise made (issue
 * 16); callers that only await the outcome take it through `promiseOf`.
 */
export function invoke(method: AnyMethod, use: readonly Middleware[], ctx: Context): unknown {
  return use.length !== 0 ? dispatch(use, 0, ctx, method) : callMethod(method, ctx);
}

/** The onion: middleware `i` runs with a `next` that runs `i + 1`, and the method after the last. */
function dispatch(use: readonly Middleware[], i: number, ctx: Context, method: AnyMethod): Promise<unknown> {
  try {
    // A middleware that calls next() once the call has ended (it awaited something past a cancel, a disconnect or the
    // deadline), or once the chain answered it (it kept `next` and called it later), starts nothing more: the handler
    // would run for nobody, counted nowhere.
    if (i !== 0) {
      throwIfEnded(ctx);
      if (ctx.answered)
        throw new Error(`next() called by middleware ${i - 1} (options.use[${i - 1}]) after the call was answered: nothing more runs`);
    }
    if (i === use.length) return Promise.resolve(callMethod(method, ctx));
    let called = false;
    const next = () => {
      const rest = called
        ? Promise.reject(new Error(`next() called more than once by middleware ${i} (options.use[${i}])`))
        : ((called = true), dispatch(use, i + 1, ctx, method));
      // A middleware may call next() without awaiting it (and answer on its own): what the rest of the chain
      // rejects with is then nobody's, and must not become the process's unhandled rejection.
      rest.catch(() => {});
      return rest;
    };
    const result = Promise.resolve(use[i]!(ctx, next));
    if (i === 0) {
      const answered = () => void (ctx.answered = true);
      void result.then(answered, answered);
    }
    return result;
  } catch (error) {
    if (i === 0) ctx.answered = true;
    return Promise.reject(error);
  }
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
