/**
 * Values that break whoever reads them, for tests and for the soak's server
 * (bench/soak-poison.ts): no vitest here, so plain node can import it.
 */

/** A Proxy whose traps throw `thrown`: every trap, or only those named. Reading it, `instanceof`, `String()` can all throw. */
export function throwingProxy(thrown: unknown = undefined, traps: readonly ProxyTrap[] = PROXY_TRAPS): object {
  const trap = () => {
    throw thrown;
  };
  return new Proxy({}, Object.fromEntries(traps.map((name) => [name, trap])));
}

export type ProxyTrap = 'get' | 'getPrototypeOf' | 'ownKeys' | 'has' | 'getOwnPropertyDescriptor';
const PROXY_TRAPS: readonly ProxyTrap[] = ['get', 'getPrototypeOf', 'ownKeys', 'has', 'getOwnPropertyDescriptor'];

/** An Error one of whose properties is a getter that throws `thrown`. */
export function errorWithThrowingGetter(property: 'message' | 'name' | 'stack', thrown: unknown, message = 'original'): Error {
  const error = new Error(message);
  Object.defineProperty(error, property, {
    get() {
      throw thrown;
    },
  });
  return error;
}
