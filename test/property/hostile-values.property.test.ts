/**
 * Property: whatever a handler returns, throws, resolves or rejects with
 * (values whose getters, `toJSON` or Proxy traps throw anything, Errors whose
 * `message` or `name` throw, symbols, functions, cycles, BigInt, sparse arrays,
 * megabyte strings, deep nesting), every call is answered exactly once, with
 * its result as JSON carries it or a RemoteError with an integer code; the
 * responder keeps serving and releases every call. Over a real WebSocket on
 * both engines, and on a NATS responder against a real nats-server.
 *
 * On the code before issue 11, a reply that threw escaped as an uncaught
 * exception (the light engine rethrows from a microtask; XState reports it
 * from a timer): it is caught here and fails the property, as does the call's
 * timeout, instead of the worker dying.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, serve, RemoteError, type Client, type NatsServer, type Server, type UnmatchedEvent } from '../../src/index.js';
import { collectUncaught, settle, until } from '../helpers.js';
import { startNatsServer, type NatsServerProcess } from '../nats-helpers.js';
import { buildHostile, hostileRecipe, type HostileRecipe } from './arbitraries.js';

const NUM_RUNS = 60;
const NATS_RUNS = 30;
/** Long enough for a few megabytes on loopback; a call unanswered on the old code fails the run after it. */
const CALL_TIMEOUT = 5_000;

type Mode = 'return' | 'throw' | 'resolve' | 'reject';
interface Plan {
  recipe: HostileRecipe;
  mode: Mode;
}

const plans = fc.array(fc.record({ recipe: hostileRecipe(), mode: fc.constantFrom<Mode>('return', 'throw', 'resolve', 'reject') }), {
  minLength: 1,
  maxLength: 4,
});

/** Everything thrown or rejected without a handler while a property runs. */
const uncaught = collectUncaught();

/** Plans of the calls in flight, by key: the `hostile` method runs the one its params name. */
const running = new Map<string, Plan>();
let keys = 0;

const methods = {
  hostile: ({ key }: { key: string }) => {
    const { recipe, mode } = running.get(key)!;
    const value = buildHostile(recipe);
    switch (mode) {
      case 'return':
        return value;
      case 'throw':
        throw value;
      case 'resolve':
        return new Promise((resolve) => setImmediate(resolve, value));
      case 'reject':
        return new Promise((_, reject) => setImmediate(reject, value));
    }
  },
  echo: (params: unknown) => params,
};

/** What the caller must get: the result as JSON carries it (`null` for what JSON drops), or an error with this code (any integer when undefined). */
function expectedOutcome({ recipe, mode }: Plan): { value: unknown } | { code: number | undefined } {
  if (mode === 'throw' || mode === 'reject') {
    return { code: recipe.kind === 'rpc-error' ? (Number.isSafeInteger(recipe.code) ? (recipe.code as number) : -32603) : -32603 };
  }
  const value = buildHostile(recipe);
  try {
    // A promise reads `then` of what it resolves with: a Proxy's get trap throwing there rejects the call.
    if ((typeof value === 'object' && value !== null) || typeof value === 'function') void (value as { then?: unknown }).then;
    const text: string | undefined = JSON.stringify(value);
    return { value: text === undefined ? null : JSON.parse(text) };
  } catch {
    return { code: -32603 };
  }
}

/** Makes the planned calls at once and checks each one's answer. */
async function callAll(client: Client, list: Plan[]): Promise<void> {
  const calls = list.map((plan) => {
    const key = `k${++keys}`;
    running.set(key, plan);
    return settle(client.request('hostile', { key }, { timeout: CALL_TIMEOUT })).finally(() => running.delete(key));
  });
  const outcomes = await Promise.all(calls);
  outcomes.forEach((outcome, i) => {
    const expected = expectedOutcome(list[i]!);
    if ('value' in expected) {
      expect(outcome.error).toBeUndefined();
      expect(outcome.value).toEqual(expected.value);
    } else {
      expect(outcome.error).toBeInstanceOf(RemoteError);
      expect(Number.isInteger(outcome.error.code)).toBe(true);
      expect(typeof outcome.error.message).toBe('string');
      if (expected.code !== undefined) expect(outcome.error.code).toBe(expected.code);
    }
  });
}

describe.each(['light', 'xstate'] as const)('a WebSocket server (engine %s) whose handlers return or throw hostile values', (engine) => {
  let server: Server;
  let client: Client;
  const unmatched: UnmatchedEvent[] = [];

  beforeAll(async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods, engine });
    client = connect(server.url);
    client.on('unmatched', (event) => unmatched.push(event));
    await client.ready;
  });
  afterAll(async () => {
    await client.close();
    await server.close();
  });

  it('answers every call exactly once, keeps serving, and releases every call', async () => {
    await fc.assert(
      fc.asyncProperty(plans, async (list) => {
        await callAll(client, list);
        expect(await client.request('echo', ['still up'])).toEqual(['still up']);
        await until(() => [...server.connections].every((peer) => peer.handlingCalls === 0), 'the server to release every call');
        // A second answer to a call would be reported as a duplicate.
        expect(unmatched).toEqual([]);
        expect(uncaught).toEqual([]);
        expect(client.state).toBe('open');
      }),
      { numRuns: NUM_RUNS, endOnFailure: true },
    );
  });
});

describe.each(['light', 'xstate'] as const)('a NATS responder (engine %s) whose handlers return or throw hostile values', (engine) => {
  let nats: NatsServerProcess;
  let responder: NatsServer;
  let client: Client;
  const unmatched: UnmatchedEvent[] = [];
  // A reply past nats-server's max_payload (1 MiB by default) cannot be published: strings stay well below it.
  const natsPlans = fc.array(
    fc.record({ recipe: hostileRecipe(256 * 1024), mode: fc.constantFrom<Mode>('return', 'throw', 'resolve', 'reject') }),
    { minLength: 1, maxLength: 4 },
  );

  beforeAll(async () => {
    nats = await startNatsServer();
    responder = await serve({ nats: nats.url, subject: `hostile.${engine}`, methods, engine });
    client = connect(nats.url, { subject: `hostile.${engine}` });
    client.on('unmatched', (event) => unmatched.push(event));
    await client.ready;
  });
  afterAll(async () => {
    await client?.close();
    await responder?.close();
    await nats?.stop();
  });

  it('answers every call exactly once, keeps serving, and releases every call', async () => {
    await fc.assert(
      fc.asyncProperty(natsPlans, async (list) => {
        await callAll(client, list);
        expect(await client.request('echo', ['still up'])).toEqual(['still up']);
        await until(() => responder.handlingCalls === 0, 'the responder to release every call');
        expect(unmatched).toEqual([]);
        expect(uncaught).toEqual([]);
      }),
      { numRuns: NATS_RUNS, endOnFailure: true },
    );
  });
});
