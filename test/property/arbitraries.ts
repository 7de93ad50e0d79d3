/**
 * fast-check arbitraries for the property tests: frames a hostile or broken
 * peer might send (any text, any JSON, JSON-RPC-shaped objects with wrong
 * members, batches, deep nesting, huge numbers, `__proto__` keys, binary
 * frames), and the params of legitimate calls.
 */
import fc from 'fast-check';
import type { SimulatedClock } from 'xstate';
import { RpcError } from '../../src/index.js';
import { errorWithThrowingGetter, throwingProxy, type ProxyTrap } from '../helpers.js';

/** One WebSocket frame: text (always valid UTF-8, since JS strings encode to it) or binary. */
export type JunkFrame = { kind: 'text'; text: string } | { kind: 'binary'; bytes: Uint8Array };

/** Method names that exist on every object's prototype, and the protocol's own. */
const trickyMethods = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'echo', '$/cancelRequest', 'rpc.on', ''];

const anyId = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double(),
  fc.constant(null),
  fc.boolean(),
  fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, 1e308, -1e308, -0),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
);

const anyMember = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 8 }));

const errorMember = fc.oneof(
  fc.record(
    {
      code: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 4 })),
      message: fc.oneof(fc.string({ maxLength: 12 }), fc.integer()),
      data: anyMember,
    },
    { requiredKeys: [] },
  ),
  anyMember,
);

/** Objects shaped like JSON-RPC messages, each member present or not, right or wrong. */
export const jsonRpcShaped = fc.record(
  {
    jsonrpc: fc.constantFrom<unknown>('2.0', '2.0', '1.0', 2, null),
    id: anyId,
    method: fc.oneof(fc.constantFrom(...trickyMethods), fc.string({ maxLength: 10 }), fc.integer()),
    params: anyMember,
    result: anyMember,
    error: errorMember,
  },
  { requiredKeys: [] },
);

/** `[[[…]]]` deep enough that `JSON.stringify` of the parsed value overflows the stack. */
function deeplyNested(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** Puts an own `__proto__` member first in an object's JSON text (JSON.parse makes it an own property). */
function withProtoKey(objectText: string, protoValue: unknown): string {
  const inner = objectText.slice(1, -1);
  return `{"__proto__":${JSON.stringify(protoValue)}${inner ? `,${inner}` : ''}}`;
}

const handWritten = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '[]',
    '[1,2]',
    'null',
    '{}',
    '{"jsonrpc":"2.0","id":1e999,"result":1}',
    '{"jsonrpc":"2.0","id":123456789012345678901234567890,"result":1}',
    '{"jsonrpc":"2.0","id":-1e-400,"error":{"code":1e999,"message":"x"}}',
    '{"jsonrpc":"2.0","method":"echo","id":"a","params":' + deeplyNested(20_000) + '}',
    '{"jsonrpc":"2.0","method":"echo","params":' + deeplyNested(20_000) + '}',
    deeplyNested(50_000),
    '{"jsonrpc":"2.0","id":"x","result":1,"__proto__":{"id":"y"}}',
    '{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"__proto__":{"id":"z"}}}',
    '{"jsonrpc":"2.0","method":"__proto__","id":7,"params":[]}',
    '{"jsonrpc":"2.0","method":"constructor","id":8,"params":{}}',
    '[{"jsonrpc":"2.0","method":"echo","id":"b1","params":[1]},{"jsonrpc":"2.0","method":"nope","id":"b2"},5]',
  ),
  fc.integer({ min: 1, max: 2_000 }).map(deeplyNested),
  fc.tuple(jsonRpcShaped, anyMember).map(([frame, proto]) => withProtoKey(JSON.stringify(frame), proto)),
);

/** Any text frame: random text, random JSON, JSON-RPC-shaped objects, batches of them, hand-written nasties. */
export const junkText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.json({ maxDepth: 4 }),
  jsonRpcShaped.map((frame) => JSON.stringify(frame)),
  fc.array(fc.oneof(jsonRpcShaped, anyMember), { maxLength: 5 }).map((batch) => JSON.stringify(batch)),
  handWritten,
);

export const junkFrame: fc.Arbitrary<JunkFrame> = fc.oneof(
  { weight: 5, arbitrary: junkText.map((text) => ({ kind: 'text' as const, text })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 32 }).map((bytes) => ({ kind: 'binary' as const, bytes })) },
);

/** Params a legitimate call may carry: any JSON object or array. */
export const callParams = fc.oneof(
  fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
  fc.array(fc.jsonValue({ maxDepth: 3 }), { maxLength: 4 }),
);

/** What a value looks like after a trip through JSON (`-0` becomes `0`, for one). */
export function viaJson(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** Timers still set on a SimulatedClock (its own map; XState does not expose a count). */
export function simulatedTimers(clock: SimulatedClock): number {
  return (clock as unknown as { timeouts: Map<unknown, unknown> }).timeouts.size;
}

/** A call of an interleaving model that may carry an AbortController. */
interface AbortableCall {
  controller: AbortController | undefined;
  expected: string | undefined;
}

/**
 * The `abort` step of an interleaving: aborts the `pick`-th call made with a
 * signal (wrapping around); a call still pending in the model is then
 * expected to end `aborted`. Returns false when no call has a signal.
 */
export function abortOne(calls: readonly AbortableCall[], pick: number): boolean {
  const candidates = calls.filter((c) => c.controller !== undefined);
  if (candidates.length === 0) return false;
  const call = candidates[pick % candidates.length]!;
  const wasPending = call.expected === undefined && !call.controller!.signal.aborted;
  call.controller!.abort();
  if (wasPending) call.expected = 'aborted';
  return true;
}

/**
 * Hostile handler values, as recipes (plain data, so that fast-check can print
 * a counterexample) that `buildHostile` turns into the value: getters and
 * `toJSON` that throw anything, Proxies with throwing traps, Errors with
 * throwing `message`/`name`, symbols, functions, cycles, BigInt, sparse arrays,
 * strings of megabytes, deep nesting, and RpcErrors carrying any of these.
 */
export type ThrownRecipe =
  | { kind: 'undefined' | 'null' | 'symbol' | 'object' }
  | { kind: 'number'; n: number }
  | { kind: 'string'; s: string }
  | { kind: 'proxy'; traps: ProxyTrap[] }
  | { kind: 'error-getter'; property: 'message' | 'name' | 'stack' };

export type HostileRecipe =
  | { kind: 'json'; value: unknown }
  | { kind: 'undefined' | 'symbol' | 'function' | 'cycle' | 'bigint' | 'toJSON-undefined' }
  | { kind: 'getter' | 'toJSON'; thrown: ThrownRecipe }
  | { kind: 'thrown'; thrown: ThrownRecipe }
  | { kind: 'sparse'; length: number }
  | { kind: 'huge-string'; bytes: number }
  | { kind: 'deep'; depth: number }
  | { kind: 'nested'; inner: HostileRecipe }
  | { kind: 'rpc-error'; code: number | string; message: string; data: HostileRecipe };

const proxyTraps = fc.subarray<ProxyTrap>(['get', 'getPrototypeOf', 'ownKeys', 'has', 'getOwnPropertyDescriptor'], { minLength: 1 });

export const thrownRecipe: fc.Arbitrary<ThrownRecipe> = fc.oneof(
  fc.constantFrom<ThrownRecipe>({ kind: 'undefined' }, { kind: 'null' }, { kind: 'symbol' }, { kind: 'object' }),
  fc.double().map((n) => ({ kind: 'number' as const, n })),
  fc.string({ maxLength: 8 }).map((s) => ({ kind: 'string' as const, s })),
  proxyTraps.map((traps) => ({ kind: 'proxy' as const, traps })),
  fc.constantFrom('message', 'name', 'stack').map((property) => ({ kind: 'error-getter' as const, property })),
);

/** Hostile values; `maxStringBytes` bounds the huge strings (a NATS server refuses payloads past its max_payload). */
export function hostileRecipe(maxStringBytes = 3 * 1024 * 1024): fc.Arbitrary<HostileRecipe> {
  const { recipe } = fc.letrec<{ recipe: HostileRecipe }>((tie) => ({
    recipe: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.jsonValue({ maxDepth: 2 }).map((value) => ({ kind: 'json' as const, value })),
      fc.constantFrom<HostileRecipe>(
        { kind: 'undefined' },
        { kind: 'symbol' },
        { kind: 'function' },
        { kind: 'cycle' },
        { kind: 'bigint' },
        { kind: 'toJSON-undefined' },
      ),
      fc.record({ kind: fc.constantFrom('getter' as const, 'toJSON' as const, 'thrown' as const), thrown: thrownRecipe }),
      fc.integer({ min: 1, max: 100_000 }).map((length) => ({ kind: 'sparse' as const, length })),
      fc.integer({ min: 1, max: maxStringBytes }).map((bytes) => ({ kind: 'huge-string' as const, bytes })),
      fc.constantFrom(10, 1_000, 100_000).map((depth) => ({ kind: 'deep' as const, depth })),
      tie('recipe').map((inner) => ({ kind: 'nested' as const, inner })),
      fc
        .record({
          code: fc.oneof(fc.integer({ min: -32099, max: -32000 }), fc.constantFrom<number | string>(1.5, NaN, 'E_CODE')),
          message: fc.string({ maxLength: 8 }),
          data: tie('recipe'),
        })
        .map((r) => ({ kind: 'rpc-error' as const, ...r })),
    ),
  }));
  return recipe;
}

/** Builds the thrown value a recipe describes: a fresh one each time. */
export function buildThrown(recipe: ThrownRecipe): unknown {
  switch (recipe.kind) {
    case 'undefined':
      return undefined;
    case 'null':
      return null;
    case 'symbol':
      return Symbol('thrown');
    case 'object':
      return { thrown: true };
    case 'number':
      return recipe.n;
    case 'string':
      return recipe.s;
    case 'proxy':
      return throwingProxy(undefined, recipe.traps);
    case 'error-getter':
      return errorWithThrowingGetter(recipe.property, undefined);
  }
}

/** Builds the hostile value a recipe describes: a fresh one each time. */
export function buildHostile(recipe: HostileRecipe): unknown {
  switch (recipe.kind) {
    case 'json':
      return recipe.value;
    case 'undefined':
      return undefined;
    case 'symbol':
      return Symbol('result');
    case 'function':
      return () => 1;
    case 'cycle': {
      const cycle: Record<string, unknown> = { a: [1] };
      cycle.self = cycle;
      return cycle;
    }
    case 'bigint':
      return 2n ** 70n;
    case 'toJSON-undefined':
      return { toJSON: () => undefined };
    case 'getter': {
      const thrown = buildThrown(recipe.thrown);
      return Object.defineProperty({ ok: 1 }, 'bad', {
        enumerable: true,
        get() {
          throw thrown;
        },
      });
    }
    case 'toJSON': {
      const thrown = buildThrown(recipe.thrown);
      return {
        toJSON() {
          throw thrown;
        },
      };
    }
    case 'thrown':
      return buildThrown(recipe.thrown);
    case 'sparse':
      return Object.assign(new Array(recipe.length), { [recipe.length - 1]: 'last' });
    case 'huge-string':
      return 'x'.repeat(recipe.bytes);
    case 'deep': {
      let value: unknown = 'bottom';
      for (let i = 0; i < recipe.depth; i++) value = [value];
      return value;
    }
    case 'nested':
      return { nested: [buildHostile(recipe.inner)] };
    case 'rpc-error':
      return new RpcError(recipe.code as number, recipe.message, buildHostile(recipe.data));
  }
}
