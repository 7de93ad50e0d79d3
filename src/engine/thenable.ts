/**
 * What counts as a promise: any thenable, so that a promise of another realm (`node:vm`) or of a promise library is
 * followed as one, never taken for a value. Reading `then` may throw (a hostile value's getter).
 */

/** A thenable's `then`. */
export type Then = (this: unknown, onFulfilled: (value: unknown) => void, onRejected: (reason: unknown) => void) => unknown;

/**
 * `value`'s `then` when it is a function (`value` is then a thenable), else undefined. Read once, as a promise's
 * resolution reads it: a getter may give a function the first time and not the next, or act each time it is read.
 * Throws what reading it throws.
 */
export function thenOf(value: unknown): Then | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  const then = (value as { then?: unknown }).then;
  return typeof then === 'function' ? (then as Then) : undefined;
}

/**
 * The promise of thenable `value`, whose `then` (`thenOf`'s) is called now, without reading it again: what it throws
 * before it settles the promise rejects it, and only the first of its callbacks called counts.
 */
export function follow<T = unknown>(value: unknown, then: Then): Promise<T> {
  return new Promise<T>((resolve, reject) => then.call(value, resolve as (value: unknown) => void, reject));
}

/** `run`'s outcome as a promise: what it returns, adopted (a thenable followed), or what it throws at once, as a rejection. */
export function promiseOf(run: () => unknown): Promise<unknown> {
  return new Promise((resolve) => resolve(run()));
}
