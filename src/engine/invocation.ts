/**
 * One run of an invoked promise actor on the light engine (see `FlatActor.startInvoke`): its input and its abort
 * signal, and how an outcome that is not taken in the step that started it reaches the actor.
 */
import type { InvokeScope } from './load.js';
import { follow, type Then } from './thenable.js';

/** The `then` of this realm's promises. */
const NATIVE_THEN = Promise.prototype.then as Then;

/** One run of the invoked promise actor; its signal is made only if the handler asks for it. */
export class Invocation implements InvokeScope {
  private controller: AbortController | undefined;
  /** Whether the run was aborted: read without making the signal. */
  aborted = false;
  /** Whether its outcome came (the handler returned, or its promise settled): leaving the state then aborts nothing. */
  settled = false;

  constructor(readonly input: unknown) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort();
    }
    return this.controller.signal;
  }

  abort(): void {
    // As XState's `fromPromise`, which aborts its signal on stop only while its promise is pending: a handler that has
    // answered keeps an unaborted ctx.signal, on either engine.
    if (this.settled) return;
    this.aborted = true;
    this.controller?.abort();
  }
}

/**
 * Hands an invoked actor's outcome to `done` (its output) or `failed` (its error) a microtask later at the earliest,
 * as a promise's outcome would be: `outcome` is what the actor returned, or what it threw (`threw`), and `then` the
 * function its `then` held when read, once (see `thenOf`), if it is a thenable.
 */
export function settleLater(
  outcome: unknown,
  then: Then | undefined,
  threw: boolean,
  done: (output: unknown) => void,
  failed: (error: unknown) => void,
): void {
  if (then === undefined) {
    // Not a thenable: taken a microtask later, without making a promise of it (which would read `then` again).
    queueMicrotask(threw ? () => failed(outcome) : () => done(outcome));
  } else if (then === NATIVE_THEN) {
    // A promise of this realm: followed as `Promise.resolve(outcome).then(...)` follows it, with no promise more.
    try {
      then.call(outcome, done, failed);
    } catch (error) {
      queueMicrotask(() => failed(error));
    }
  } else follow(outcome, then).then(done, failed);
}
