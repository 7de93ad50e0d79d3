/**
 * `peer.call.add([1, 2], options)`: the remote methods as functions, each the
 * same as `peer.request('add', [1, 2], options)`. One Proxy per peer; each
 * method's function is made on first use and cached, so a call through the
 * proxy allocates nothing more than `request` does.
 *
 * The proxy must not look like a promise: `await peer.call` would call a
 * method named `then`. Nor may logging or serializing it call anything:
 * `${peer.call}` would call `valueOf` and `toString` (two requests, whose
 * rejections nobody awaits) and `JSON.stringify` would call `toJSON`. So
 * `then`, `toString`, `valueOf`, `toJSON` and every symbol key
 * (`Symbol.toPrimitive`, `Symbol.iterator`, inspection) read as undefined; a
 * method of one of those names is called with `request('then', …)`.
 */
import type { AnyApi, CallProxy, NotProxiedName, PeerApi } from '../types.js';

type Request = PeerApi['request'];

/** Names JavaScript itself reads from an object it awaits, converts to a string or serializes: never remote methods here. */
const NOT_PROXIED: Record<NotProxiedName, true> = { then: true, toString: true, valueOf: true, toJSON: true };
const NOT_METHODS: ReadonlySet<string> = new Set(Object.keys(NOT_PROXIED));

/** Most functions cached per proxy: names past it (computed ones, say) get a new function on each access. */
const MAX_CACHED = 1_000;

export function callProxy<RemoteApi extends AnyApi>(request: Request): CallProxy<RemoteApi> {
  const cache = new Map<string, (params?: unknown, options?: never) => Promise<unknown>>();
  const target = Object.create(null) as object;
  return new Proxy(target, {
    get(_target, key) {
      if (typeof key === 'symbol' || NOT_METHODS.has(key)) return undefined;
      let fn = cache.get(key);
      if (fn === undefined) {
        fn = (params, options) => request(key, params, options);
        if (cache.size < MAX_CACHED) cache.set(key, fn);
      }
      return fn;
    },
    // Enumerable keys, `in` and writes mean nothing here: the remote side decides which methods exist.
    has: () => false,
    ownKeys: () => [],
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  }) as CallProxy<RemoteApi>;
}
