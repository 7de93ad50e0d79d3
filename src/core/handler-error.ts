/**
 * What a handler threw, read without trusting it: the thrown value can be
 * anything, and every read of it (a getter, a Proxy trap, even behind
 * `instanceof`, or a `toString`) may throw in turn.
 */
import { RpcError } from '../errors.js';
import { ErrorCodes, type ErrorObject } from '../protocol/jsonrpc.js';

/**
 * The error response for what a handler threw, which can be any value: an
 * `RpcError` keeps its code, message and data where they can be read, anything
 * else is -32603, with its message unless `exposeMessage` is false. Total: every read of the thrown value is guarded, since a
 * getter, a Proxy trap (even behind `instanceof`) or a `toString` may throw.
 */
export function toErrorObject(thrown: unknown, exposeStack: boolean, exposeMessage = true): ErrorObject {
  if (attempt(() => thrown instanceof RpcError, false)) {
    const error = thrown as RpcError;
    const code = attempt(() => error.code, undefined);
    const data = attempt(() => error.data, undefined);
    return {
      // A code the caller cannot read as an integer would make the whole response malformed.
      code: Number.isSafeInteger(code) ? code! : ErrorCodes.InternalError,
      message: messageOf(error),
      ...(data === undefined ? {} : { data }),
    };
  }
  // `exposeErrors: false`: what the handler threw stays on this side (onError and logger see it).
  if (!exposeMessage) return { code: ErrorCodes.InternalError, message: 'internal error' };
  const isError = attempt(() => thrown instanceof Error, false);
  const name = isError ? attempt(() => safeString((thrown as Error).name), 'Error') : typeof thrown;
  const stack = isError && exposeStack ? attempt(() => (thrown as Error).stack, undefined) : undefined;
  return {
    code: ErrorCodes.InternalError,
    message: messageOf(thrown),
    data: stack === undefined ? { name } : { name, stack },
  };
}

/** An error's message, or any other value as a string; never throws. */
export function messageOf(value: unknown): string {
  if (!attempt(() => value instanceof Error, false)) return safeString(value);
  return attempt(() => safeString((value as Error).message), 'an error whose message cannot be read');
}

/** `read()`, or `otherwise` when reading throws. */
function attempt<T>(read: () => T, otherwise: T): T {
  try {
    return read();
  } catch {
    return otherwise;
  }
}

/**
 * String(value) that cannot throw: an object without a prototype has no
 * toString, and a Proxy's traps can throw even from Object.prototype.toString.
 */
export function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return attempt(() => Object.prototype.toString.call(value), `[unreadable ${typeof value}]`);
  }
}
