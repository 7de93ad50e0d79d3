/** `handlerTimeout`: a handler's deadline on the shared deadline scheduler. */
import type { DeadlineEntry } from '../engine/deadlines.js';
import { RpcError } from '../errors.js';
import { ErrorCodes } from '../protocol/jsonrpc.js';
import { promiseOf } from '../engine/thenable.js';
import { scopeAborted, type CallScope } from './invoke.js';

/**
 * A handler's deadline (with `handlerTimeout`): when it passes, the handler's
 * signal aborts and the call fails with -32001, whatever the handler does next.
 * Its signal is made only if the handler reads it.
 *
 * That signal is a plain controller's, which the call's own signal aborts too,
 * not `AbortSignal.any`: Node keeps a signal made by `any` alive, from a global
 * set, for as long as it has an 'abort' listener and has not aborted, and a
 * handler that answers leaves its signal unaborted. Every handler that listened
 * to `ctx.signal` without taking its listener off (a common way: `{ once: true }`)
 * kept the signal and all its listener held for the life of the process.
 */
export class HandlerDeadline implements DeadlineEntry {
  deadline = 0;
  deadlineMs = 0;
  deadlinePrev: DeadlineEntry | undefined;
  deadlineNext: DeadlineEntry | undefined;
  deadlineSlot = -1;
  /** Its signal is `ctx.signal`: aborted by the deadline, or by the call's own signal (see `signal`). */
  private controller: AbortController | undefined;
  /** Whether the call's own signal is followed (once `signal` is read). */
  private following = false;
  /** Settles the call with the timeout error; set by `race`. */
  private fail: ((error: RpcError) => void) | undefined;

  constructor(
    private readonly invocation: CallScope,
    private readonly method: string,
    private readonly limit: number,
    /** Whether `limit` is the caller's timeout (sent with a NATS request), not the responder's `handlerTimeout`. */
    private readonly callers = false,
  ) {}

  /** What `ctx.signal` is: aborts on cancel, disconnect, or this deadline. */
  get signal(): AbortSignal {
    const controller = (this.controller ??= new AbortController());
    if (!this.following) {
      this.following = true;
      // Already aborted by the deadline (read only after it, when the light engine has also ended the call): its
      // reason stays, and it must say TimeoutError. Otherwise the first of the two to abort gives the reason.
      const call = this.invocation.signal;
      if (call.aborted) controller.abort(call.reason);
      else if (!controller.signal.aborted) call.addEventListener('abort', () => controller.abort(call.reason), { once: true });
    }
    return controller.signal;
  }

  /** Whether `signal` aborted, read without making it. */
  get aborted(): boolean {
    return this.controller?.signal.aborted === true || scopeAborted(this.invocation);
  }

  /**
   * Runs the handler (`run`), and settles with its outcome, or with the timeout error if the deadline passes first.
   * The race is on before the handler starts: a clock that fires what is due inside a call of its own (a
   * `SimulatedClock`'s `increment`) may be moved by the handler itself, before it returns.
   */
  race(run: () => unknown): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.fail = reject;
      // Not `resolve(run())`: a promise resolved with a pending one can no longer be rejected by the deadline.
      promiseOf(run).then(resolve, reject);
    });
  }

  expire(): void {
    const error = this.error();
    this.fail?.(error);
    this.controller ??= new AbortController();
    this.controller.abort(new DOMException(error.message, 'TimeoutError'));
  }

  /** What the call fails with once its deadline has passed (-32001). */
  error(): RpcError {
    const { method, limit } = this;
    const message = `method "${method}" did not finish within ${limit} ms (${this.callers ? "the caller's timeout" : 'handlerTimeout'})`;
    return new RpcError(ErrorCodes.HandlerTimeout, message, this.callers ? { method, timeout: limit } : { method, handlerTimeout: limit });
  }
}
