/**
 * Hooks around incoming calls, the same for every responder (WebSocket server,
 * NATS responder, a client answering its server, the HTTP endpoint): middleware
 * around each handler, an error hook and a logger. One options block
 * (`HookOptions`), resolved and validated here once into `Hooks`, which the
 * inbound dispatcher (protocol errors it answers) and the incoming calls
 * (handler errors) report to.
 *
 *   request ─▶ use[0] ─▶ use[1] ─▶ … ─▶ params schema ─▶ handler
 *              (each `async (ctx, next) => …`: before, `await next()`, after)
 */
import { RpcError } from './errors.js';
import { messageOf, toErrorObject } from './core/handler-error.js';
import { ErrorCodes, type ErrorObject, type Id } from './protocol/jsonrpc.js';
import type { ConnectionInfo, HandlerContext } from './types.js';

/** What a middleware gets: the handler's context, and the params as they came (before any schema check). */
export interface MiddlewareContext<RemoteApi extends object = any> extends HandlerContext<RemoteApi> {
  readonly params: unknown;
}

/**
 * Runs around every handler, in the order of `use` (the first is outermost): call `next()` to run the rest of
 * the chain and the handler and get its result; return a value to answer with it, throw (an `RpcError` to
 * choose the code) to refuse. A notification runs the chain too (`ctx.id` is undefined); its result is dropped.
 * `next()` called once `ctx.signal` has aborted (cancel, disconnect, `handlerTimeout`) rejects with the signal's reason
 * and runs nothing more; called once its middleware has returned or thrown (`queueMicrotask(() => next())` before
 * a `throw`), once the chain answered the call, or a second time, it rejects, runs nothing more, and is reported to
 * `onError` and the logger (unless its error is the call's answer).
 */
export type Middleware = (ctx: MiddlewareContext, next: () => Promise<unknown>) => unknown;

/** A pino-style logger: `logger.warn({ method, code }, 'message')`. `console` works too. */
export interface Logger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** Where an error happened, as `onError` sees it. */
export interface ErrorInfo {
  /** The method called, when known (a frame that could not be read has none). */
  method: string | undefined;
  /** The request's id: undefined for a notification, null when it could not be read. */
  id: Id | null | undefined;
  /** Who sent it (for `'unsent'`: the connection it was for). */
  connection: ConnectionInfo;
  /**
   * `'handler'`: a handler or middleware threw (or a schema refused the params); `'protocol'`: the responder
   * itself answered an error (parse error, invalid request, method not found, batch or depth limit, busy,
   * duplicate id, an answer replaced because its batch's answers were too long together for one reply; a NATS responder's access refusals, messages that are not UTF-8 and answers past max_payload); `'notification'`: a handler run by a notification threw, or a notification was not run because the responder was busy (-32000; nobody is answered); `'unsent'`: a
   * notification this side made waited in line (connecting) and, when its turn came, the transport would not carry
   * it (NATS: larger than nats-server's max_payload), so it was not sent: the error is the `ProtocolError` that
   * `notify()` throws when it can tell at once; or it still waited when the connection closed for good (it could not
   * open, or `close()` came first: a `ConnectionClosedError`); or, over HTTP, a notification whose POST failed on the network, was
   * answered with an error status or got no answer within the client's timeout (an `HttpError`); or, on a NATS
   * responder, an answer nats-server refused to carry (`Permissions Violation for Publish to` the caller's reply
   * subject: `method` undefined, the caller's call times out).
   */
  kind: 'handler' | 'protocol' | 'notification' | 'unsent';
  /** The error sent back to the caller (none for a notification, nor for a misused `next()`: the call had its answer); encoded before the hook sees it, so changing it changes nothing sent. */
  response: ErrorObject | undefined;
}

export interface HookOptions {
  /** Middleware run around every handler, first to last: see `Middleware`. Default: none. */
  use?: Middleware[];
  /**
   * Called with every error a handler or middleware throws (as thrown: `error.message` and `error.stack` are
   * there, whatever the caller is sent), a result that cannot be encoded as JSON (a `TypeError` saying so, what
   * encoding threw as its `cause`), and every protocol error this side answers (as an `RpcError` with the
   * code and message sent), and a notification this side made that waited in line and was then refused by the
   * transport (`kind: 'unsent'`, a `ProtocolError`). An `onError` that throws or returns a rejecting promise is logged (`logger.error`) and
   * otherwise ignored. Default: none.
   */
  onError?: (error: unknown, info: ErrorInfo) => void;
  /**
   * A pino-style logger. Levels: `error` for what a handler or middleware throws that is not an `RpcError`
   * (a bug; with the error), and a throwing `onError`; `warn` for protocol errors answered (parse error,
   * invalid request, method not found, limits, busy), handler timeouts, notifications not run (busy) and notifications of this side not sent (`'unsent'`); `debug` for `RpcError`s thrown on
   * purpose (refusals, invalid params). Nothing is logged per call at `info`. A method that throws or returns a
   * rejecting promise breaks nothing: the first such failure is reported on `console.error`, later ones nowhere. Default: none.
   */
  logger?: Logger;
  /**
   * Whether the message of an error a handler throws that is not an `RpcError` goes to the caller. `true`:
   * -32603 with the error's message (and its `name` in `data`). `false`: -32603 "internal error" only; the
   * message still reaches `onError` and `logger`. The same holds for why a result could not be encoded as JSON. An `RpcError` is always sent as thrown. Default: true.
   */
  exposeErrors?: boolean;
}

const LOGGER_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** `HookOptions`, validated; every responder of a server shares one. */
export class Hooks {
  /** The middleware, copied (a later change to the user's array changes nothing); empty when none. */
  readonly use: readonly Middleware[];
  readonly exposeErrors: boolean;
  private readonly onError: HookOptions['onError'];
  private readonly logger: Logger | undefined;
  /** Whether a failure of the logger itself was reported (on console.error: once, not at every line). */
  private loggerFailed = false;

  constructor(options: HookOptions = {}) {
    const { use, onError, logger, exposeErrors } = options;
    if (use !== undefined && !Array.isArray(use)) throw new TypeError(`options.use must be an array of functions, got ${typeof use}`);
    // Every index, holes included: forEach skips the hole of `[a, , b]`, which the copy below turns into undefined.
    for (let i = 0; i < (use?.length ?? 0); i++) {
      const middleware = use![i];
      if (typeof middleware !== 'function') throw new TypeError(`options.use[${i}] must be a function, got ${kindOf(middleware)}`);
    }
    if (onError !== undefined && typeof onError !== 'function')
      throw new TypeError(`options.onError must be a function, got ${kindOf(onError)}`);
    if (logger !== undefined) {
      if (logger === null || typeof logger !== 'object') throw new TypeError(`options.logger must be an object, got ${kindOf(logger)}`);
      for (const level of LOGGER_LEVELS) {
        if (typeof logger[level] !== 'function')
          throw new TypeError(`options.logger.${level} must be a function, got ${kindOf(logger[level])}`);
      }
    }
    if (exposeErrors !== undefined && typeof exposeErrors !== 'boolean')
      throw new TypeError(`options.exposeErrors must be a boolean, got ${kindOf(exposeErrors)}`);
    this.use = Object.freeze([...(use ?? [])]);
    this.onError = onError;
    this.logger = logger;
    this.exposeErrors = exposeErrors ?? true;
  }

  /** Whether anything listens: when not, reporting is skipped before building anything. */
  get listening(): boolean {
    return this.onError !== undefined || this.logger !== undefined;
  }

  /** A handler, a middleware or a params schema threw `error`; `response` is what the caller is sent. */
  handlerError(error: unknown, method: string, id: Id | undefined, connection: ConnectionInfo, response?: ErrorObject): void {
    if (!this.listening) return;
    const kind = id === undefined ? 'notification' : 'handler';
    this.report(error, { method, id, connection, kind, response }, ...levelOf(error, method, kind, response));
  }

  /** This side answered `response` itself, without running a handler. */
  protocolError(response: ErrorObject, method: string | undefined, id: Id | null | undefined, connection: ConnectionInfo): void {
    if (!this.listening) return;
    const error = new RpcError(response.code, response.message, response.data);
    this.report(error, { method, id, connection, kind: 'protocol', response }, 'warn', `answered ${response.code}: ${response.message}`);
  }

  /**
   * A notification this side made was not sent: the transport refused it when its turn in line came; or a NATS
   * responder's answer nats-server refused to carry, whose method is not known (`ErrorInfo.kind` `'unsent'`).
   */
  unsent(error: Error, method: string | undefined, connection: ConnectionInfo): void {
    if (!this.listening) return;
    this.report(error, { method, id: undefined, connection, kind: 'unsent', response: undefined }, 'warn', error.message);
  }

  private report(error: unknown, info: ErrorInfo, level: 'debug' | 'warn' | 'error', message: string): void {
    const { onError } = this;
    if (onError) {
      let returned: unknown;
      try {
        // Called as a plain function: a user's `function` sees `this` undefined, not these internals.
        returned = onError(error, info);
      } catch (thrown) {
        this.log('error', { err: thrown, method: info.method, id: info.id }, `onError threw: ${messageOf(thrown)}`);
      }
      // An async onError: its rejection is this hook's failure too, not the process's (an unhandled rejection).
      whenRejected(returned, (reason) =>
        this.log('error', { err: reason, method: info.method, id: info.id }, `onError rejected: ${messageOf(reason)}`),
      );
    }
    this.log(level, { err: error, method: info.method, id: info.id, code: info.response?.code, kind: info.kind }, message);
  }

  /** A logger that throws or rejects breaks nothing: its first failure goes to console.error, the rest nowhere. */
  private log(level: (typeof LOGGER_LEVELS)[number], fields: object, message: string): void {
    if (this.logger === undefined) return;
    let returned: unknown;
    try {
      returned = this.logger[level](fields, message);
    } catch (thrown) {
      return this.loggerFailure(thrown);
    }
    whenRejected(returned, (reason) => this.loggerFailure(reason));
  }

  private loggerFailure(reason: unknown): void {
    if (this.loggerFailed) return;
    this.loggerFailed = true;
    try {
      console.error(`callstate: the logger failed (later failures are not reported): ${messageOf(reason)}`);
    } catch {
      // Nowhere left to report it.
    }
  }
}

/** The hooks of a responder given none: nothing runs around handlers, nothing is reported. */
export const NO_HOOKS = new Hooks();

/** Resolves the hook options of a server or client; `NO_HOOKS` when none is given. */
export function resolveHooks(options: HookOptions): Hooks {
  const { use, onError, logger, exposeErrors } = options;
  if (use === undefined && onError === undefined && logger === undefined && exposeErrors === undefined) return NO_HOOKS;
  return new Hooks({ use, onError, logger, exposeErrors });
}

/**
 * An `RpcError` was thrown on purpose (debug; a handler timeout or a notification refused busy is warn); anything else
 * is a bug (error). Its code is the one answered (a notification's as it would have been): reading the thrown value's
 * own `code` can throw, or give a symbol no message can hold.
 */
function levelOf(
  error: unknown,
  method: string,
  kind: ErrorInfo['kind'],
  response: ErrorObject | undefined,
): ['debug' | 'warn' | 'error', string] {
  const where = kind === 'notification' ? `notification "${method}"` : `"${method}"`;
  if (isRpcError(error)) {
    const { code } = response ?? toErrorObject(error, false);
    const warn = code === ErrorCodes.HandlerTimeout || code === ErrorCodes.ServerBusy;
    return [warn ? 'warn' : 'debug', `${where} answered ${code}: ${messageOf(error)}`];
  }
  return ['error', `${where} threw: ${messageOf(error)}`];
}

/** Calls `onRejected` if `value` is a promise (a thenable) that rejects; marks its rejection handled. */
function whenRejected(value: unknown, onRejected: (reason: unknown) => void): void {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return;
  try {
    const then = (value as { then?: unknown }).then;
    if (typeof then === 'function') then.call(value, undefined, onRejected);
  } catch {
    // A hostile thenable: nothing of it can be relied on.
  }
}

/** `instanceof` on a thrown value can throw (a Proxy's trap). */
function isRpcError(value: unknown): boolean {
  try {
    return value instanceof RpcError;
  } catch {
    return false;
  }
}

/** What a misused hook option is, for its TypeError. */
function kindOf(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
