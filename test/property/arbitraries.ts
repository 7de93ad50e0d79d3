/**
 * fast-check arbitraries for the property tests: frames a hostile or broken
 * peer might send (any text, any JSON, JSON-RPC-shaped objects with wrong
 * members, batches, deep nesting, huge numbers, `__proto__` keys, binary
 * frames), and the params of legitimate calls.
 */
import fc from 'fast-check';
import type { SimulatedClock } from 'xstate';

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
    { code: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 4 })), message: fc.oneof(fc.string({ maxLength: 12 }), fc.integer()), data: anyMember },
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
