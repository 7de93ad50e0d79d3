/**
 * The answer to a request that reaches a server while it drains
 * (`close({ drain })`): -32000, as a busy server answers, so that the caller
 * may retry elsewhere. The same words on every transport. And the window a
 * draining close gives what still runs.
 */
import { ErrorCodes, type ErrorObject } from '../protocol/jsonrpc.js';
import type { Clock } from '../types.js';

export function serverClosing(method: string): ErrorObject {
  return {
    code: ErrorCodes.ServerBusy,
    message: `server closing: no new calls are accepted; "${method}" was not run`,
    data: { closing: true },
  };
}

/**
 * The answer to a call whose handler still runs when the server leaves (a NATS responder's close, after its
 * drain window): the handler is aborted, and its caller hears so at once instead of waiting for its timeout.
 */
export function serverLeft(method: string): ErrorObject {
  return {
    code: ErrorCodes.ServerBusy,
    message: `server closing: "${method}" did not finish before the server closed and was aborted`,
    data: { closing: true },
  };
}

/** A wait of `ms` on `clock` (real time when none), and a way to end it early (its timer gone). */
export function sleep(ms: number, clock: Clock | undefined): { done: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const done = new Promise<void>((resolve) => {
    if (clock) {
      const id = clock.setTimeout(resolve, ms);
      cancel = () => clock.clearTimeout(id);
    } else {
      const timer = setTimeout(resolve, ms);
      cancel = () => clearTimeout(timer);
    }
  });
  return { done, cancel: () => cancel() };
}

/**
 * A draining close's window: waits for `done` (nothing runs any more), or `ms`, whichever comes first. Timed
 * by `clock` (the responder's, e.g. a `SimulatedClock` in tests); real time when none.
 */
export async function drainWindow(done: Promise<unknown>, ms: number, clock: Clock | undefined): Promise<void> {
  const window = sleep(ms, clock);
  try {
    await Promise.race([done, window.done]);
  } finally {
    window.cancel();
  }
}
