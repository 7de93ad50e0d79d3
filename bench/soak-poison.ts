/**
 * Hostile handler values for the soak: the server's `poison` method runs the
 * case a call names, and the soak checks that the call settled as the case
 * says (a result, or a RemoteError with a code). A fresh value each time.
 */
import { RpcError } from '../src/index.js';
import { errorWithThrowingGetter, throwingProxy } from '../test/hostile-values.js';

export type PoisonExpected = { result: unknown } | { code: number };

export interface PoisonCase {
  /** How the handler ends: it returns or throws at once, or its promise resolves or rejects. */
  how: 'returns' | 'throws' | 'resolves' | 'rejects';
  make: () => unknown;
  expected: PoisonExpected;
}

const cycle = () => {
  const value: Record<string, unknown> = { a: [1] };
  value.self = value;
  return value;
};
const throwingGetter = (thrown: unknown) =>
  Object.defineProperty({ ok: 1 }, 'bad', {
    enumerable: true,
    get() {
      throw thrown;
    },
  });
const throwingToJSON = (thrown: unknown) => ({
  toJSON() {
    throw thrown;
  },
});

const internal = { code: -32603 };
const nothing = { result: null };

/** Values a handler produces (returned, or resolved when `how` says so). */
const VALUES: Array<[make: () => unknown, expected: PoisonExpected]> = [
  [() => 2n ** 70n, internal],
  [cycle, internal],
  [() => throwingToJSON(undefined), internal],
  [() => throwingGetter(null), internal],
  [() => throwingToJSON(throwingProxy()), internal],
  [() => ({ nested: [throwingGetter(Symbol('deep'))] }), internal],
  [() => Symbol('result'), nothing],
  [() => () => 1, nothing],
  [() => ({ toJSON: () => undefined }), nothing],
  [() => undefined, nothing],
];

/** Values a handler throws (or rejects with). */
const THROWN: Array<[make: () => unknown, expected: PoisonExpected]> = [
  [() => undefined, internal],
  [() => null, internal],
  [() => Symbol('thrown'), internal],
  [() => throwingProxy(new Error('trap')), internal],
  [() => errorWithThrowingGetter('message', undefined), internal],
  [() => errorWithThrowingGetter('name', null), internal],
  [() => new RpcError(-32050, 'kept', throwingToJSON(undefined)), { code: -32050 }],
  [() => new RpcError('E_BAD' as unknown as number, 'kept', { n: 1 }), internal],
  [() => new RpcError(-32051, 'kept', 10n), { code: -32051 }],
];

export const POISON: readonly PoisonCase[] = [
  ...VALUES.map(([make, expected]) => ({ how: 'returns' as const, make, expected })),
  ...VALUES.map(([make, expected]) => ({ how: 'resolves' as const, make, expected })),
  ...THROWN.map(([make, expected]) => ({ how: 'throws' as const, make, expected })),
  ...THROWN.map(([make, expected]) => ({ how: 'rejects' as const, make, expected })),
];

/** Runs case `n` as a handler would: returns, throws, resolves or rejects its value. */
export function poisonHandler(n: number): unknown {
  const { how, make } = POISON[n % POISON.length]!;
  switch (how) {
    case 'returns':
      return make();
    case 'resolves':
      return Promise.resolve().then(make);
    case 'throws':
      throw make();
    case 'rejects':
      return Promise.resolve().then(() => {
        throw make();
      });
  }
}

/** What call `n` to `poison` must settle with. */
export const poisonExpected = (n: number): PoisonExpected => POISON[n % POISON.length]!.expected;
