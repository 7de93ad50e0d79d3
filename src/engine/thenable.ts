/**
 * What counts as a promise: any thenable, so that a promise of another realm (`node:vm`) or of a promise
 * library is followed as one, never taken for a value. Reading `then` may throw (a hostile value's getter).
 */
export function isThenable<T = unknown>(value: unknown): value is PromiseLike<T> {
  return (
    value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function'
  );
}
