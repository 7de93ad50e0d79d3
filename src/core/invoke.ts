/** Running a method for a request or notification: the middleware onion, the params schema, the handler, and its `ctx`. */
import type { Middleware } from '../hooks.js';
import type { Id } from '../protocol/jsonrpc.js';
import type { StandardSchemaV1 } from '../standard-schema.js';
import type { ConnectionInfo, HandlerContext } from '../types.js';
import { checkParams } from './params-schema.js';

export type AnyHandler = (params: any, ctx: HandlerContext<any>) => unknown;
/** A method as the responder was given it: a handler, or a handler behind a params schema. */
export type AnyMethod = AnyHandler | { params: StandardSchemaV1; handler: AnyHandler };

/** `ctx`: what a handler (and each middleware, which reads `params` too) gets. */
export class Context implements HandlerContext<any> {
  constructor(
    private readonly scope: { readonly signal: AbortSignal },
    readonly peer: HandlerContext<any>['peer'],
    readonly connection: ConnectionInfo,
    readonly id: Id | undefined,
    readonly method: string,
    readonly params: unknown,
  ) {}

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
    return Promise.resolve(use[i]!(ctx, next));
  } catch (error) {
    return Promise.reject(error);
  }
}

function callMethod(method: AnyMethod, ctx: Context): unknown {
  if (typeof method === 'function') return method(ctx.params, ctx);
  const checked = checkParams(method.params, ctx.params, ctx.method);
  return checked instanceof Promise ? checked.then((params) => method.handler(params, ctx)) : method.handler(checked, ctx);
}
