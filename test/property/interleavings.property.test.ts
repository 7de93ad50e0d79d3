/**
 * Property: any interleaving of calls, replies (once, twice, late), clock
 * advances, aborts, a local close and a dropped socket settles every call
 * exactly once, with the outcome its own history allows, and leaves nothing
 * pending: no outgoing call, no running handler, no timer.
 *
 * Real client and server on 127.0.0.1; the client's timeouts run on a
 * SimulatedClock, and the server's handlers are deferreds the test settles.
 * After every step the test waits until the wire is quiet, so the model (which
 * event reached each call first) is exact.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { sharedDeadlines } from '../../src/engine/deadlines.js';
import {
  connect,
  serve,
  ConnectionClosedError,
  RemoteError,
  RpcError,
  TimeoutError,
  type Peer,
  type Server,
  type UnmatchedEvent,
} from '../../src/index.js';
import { until } from '../helpers.js';
import { abortOne, simulatedTimers } from './arbitraries.js';

type Op =
  | { op: 'call'; timeout: number; withSignal: boolean }
  | { op: 'reply'; pick: number; asError: boolean }
  | { op: 'replyAgain'; pick: number }
  | { op: 'advance'; ms: number }
  | { op: 'abort'; pick: number }
  | { op: 'close' }
  | { op: 'drop' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({ op: fc.constant('call' as const), timeout: fc.constantFrom(50, 100, 150), withSignal: fc.boolean() }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('reply' as const), pick: fc.nat(), asError: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('replyAgain' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(25, 50, 100) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'close' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'drop' as const }) },
);

/** One sequence that ends a call in each possible way: timeout then a late answer, abort, result then a duplicate, error, close. */
const EVERY_OUTCOME: Op[] = [
  { op: 'call', timeout: 50, withSignal: false },
  { op: 'advance', ms: 50 },
  { op: 'replyAgain', pick: 0 },
  { op: 'call', timeout: 150, withSignal: true },
  { op: 'abort', pick: 0 },
  { op: 'call', timeout: 150, withSignal: false },
  { op: 'reply', pick: 0, asError: false },
  { op: 'replyAgain', pick: 2 },
  { op: 'call', timeout: 150, withSignal: false },
  { op: 'reply', pick: 0, asError: true },
  { op: 'call', timeout: 150, withSignal: false },
  { op: 'close' },
];

const queuedArb = fc.record({ timeout: fc.constantFrom(50, 100, 150), withSignal: fc.boolean() });

type Expected = 'resolved' | 'remote' | 'timeout' | 'aborted' | 'closed';

/** One call of the run: what the model says it must end with, and what it did. */
interface ModelCall {
  tag: number;
  timeout: number;
  createdAt: number;
  controller: AbortController | undefined;
  /** The request id, learned when the handler starts (calls made after close never reach the server). */
  id: string | undefined;
  expected: Expected | undefined;
  settlements: Array<{ value?: unknown; error?: any }>;
}

/** A handler the test settles: the server-side view of one call. */
interface Handler {
  id: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const handlers = new Map<number, Handler>();
let nextTag = 0;

function checkOutcome(call: ModelCall): void {
  expect(call.settlements).toHaveLength(1);
  const [{ value, error }] = call.settlements as [{ value?: unknown; error?: any }];
  switch (call.expected) {
    case 'resolved':
      expect(value).toEqual({ tag: call.tag });
      break;
    case 'remote':
      expect(error).toBeInstanceOf(RemoteError);
      expect([error.code, error.message, error.data]).toEqual([-32001, `refused ${call.tag}`, { tag: call.tag }]);
      break;
    case 'timeout':
      expect(error).toBeInstanceOf(TimeoutError);
      expect([error.code, error.id, error.timeout]).toEqual(['ERR_CALL_TIMEOUT', call.id, call.timeout]);
      break;
    case 'aborted':
      expect(error).toBe(call.controller!.signal.reason);
      expect(error.name).toBe('AbortError');
      break;
    case 'closed':
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.code).toBe('ERR_CONNECTION_CLOSED');
      break;
    default:
      throw new Error(`call ${call.tag} settled while the model has it pending`);
  }
}

describe.each(['light', 'xstate'] as const)('random interleavings of calls, replies, timeouts, aborts and closes (%s engine)', (engine) => {
  let server: Server;
  let latestPeer: Peer | undefined;

  beforeAll(async () => {
    server = await serve({
      engine,
      methods: {
        work: ({ tag }: { tag: number }, ctx) =>
          new Promise((resolve, reject) => {
            handlers.set(tag, { id: String(ctx.id), resolve, reject });
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          }),
      },
    });
    server.on('connection', (peer) => (latestPeer = peer));
  });
  afterAll(() => server.close());

  it('settles every call exactly once with the outcome its history allows, and leaves nothing pending', async () => {
    /** Outcomes and unmatched reasons seen over all runs: the generator must reach each of them. */
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(queuedArb, { maxLength: 2 }), fc.array(opArb, { minLength: 1, maxLength: 20 }), async (queued, ops) => {
        const clock = new SimulatedClock();
        latestPeer = undefined;
        const client = connect(server.url, { engine, clock, timeout: 1_000 });
        const unmatched: UnmatchedEvent[] = [];
        client.on('unmatched', (event) => unmatched.push(event));
        const calls: ModelCall[] = [];
        let open = true;
        const makeCall = (timeout: number, withSignal: boolean): ModelCall => {
          const call: ModelCall = {
            tag: nextTag++,
            timeout,
            createdAt: clock.now(),
            controller: withSignal ? new AbortController() : undefined,
            id: undefined,
            expected: open ? undefined : 'closed',
            settlements: [],
          };
          calls.push(call);
          client.request('work', { tag: call.tag }, { timeout: call.timeout, signal: call.controller?.signal }).then(
            (value) => call.settlements.push({ value }),
            (error) => call.settlements.push({ error }),
          );
          return call;
        };
        const started = async (call: ModelCall) => {
          await until(() => handlers.has(call.tag), 'the handler to start');
          call.id = handlers.get(call.tag)!.id;
        };
        // Calls made while the connection is still opening wait in `queued`, then go out in order.
        for (const { timeout, withSignal } of queued) makeCall(timeout, withSignal);
        await client.ready;
        for (const call of calls) await started(call);
        await until(() => latestPeer !== undefined, 'the server to accept');
        const serverPeer = latestPeer!;
        const pending = () => calls.filter((c) => c.expected === undefined);
        const settledCount = () => calls.reduce((n, c) => n + c.settlements.length, 0);
        /** Waits until every call the model has settled did settle, and the server runs only the model's pending calls. */
        const quiet = async (what: string) => {
          const settledInModel = calls.filter((c) => c.expected !== undefined).length;
          await until(() => settledCount() >= settledInModel, `calls to settle after ${what}`);
          await until(() => serverPeer.handlingCalls === pending().length, `the server to drop its handlers after ${what}`);
        };

        for (const step of ops) {
          switch (step.op) {
            case 'call': {
              const call = makeCall(step.timeout, step.withSignal);
              if (open) await started(call);
              break;
            }
            case 'reply': {
              const candidates = pending();
              if (candidates.length === 0) continue;
              const call = candidates[step.pick % candidates.length]!;
              const handler = handlers.get(call.tag)!;
              if (step.asError) handler.reject(new RpcError(-32001, `refused ${call.tag}`, { tag: call.tag }));
              else handler.resolve({ tag: call.tag });
              call.expected = step.asError ? 'remote' : 'resolved';
              break;
            }
            case 'replyAgain': {
              // A second (or late) response for a call that already ended, straight onto the wire.
              const candidates = calls.filter((c) => c.expected !== undefined && c.expected !== 'closed');
              if (!open || candidates.length === 0) continue;
              const call = candidates[step.pick % candidates.length]!;
              const before = unmatched.length;
              serverPeer.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: call.id, result: { tag: -1 } }));
              await until(() => unmatched.length > before, 'the extra response to be reported');
              const answered = call.expected === 'resolved' || call.expected === 'remote';
              expect(unmatched.slice(before)).toEqual([expect.objectContaining({ reason: answered ? 'duplicate' : 'late', id: call.id })]);
              break;
            }
            case 'advance': {
              clock.increment(step.ms);
              for (const call of pending()) if (clock.now() >= call.createdAt + call.timeout) call.expected = 'timeout';
              break;
            }
            case 'abort':
              if (!abortOne(calls, step.pick)) continue;
              break;
            case 'close':
            case 'drop': {
              if (!open) continue;
              for (const call of pending()) call.expected = 'closed';
              open = false;
              if (step.op === 'close') await client.close();
              else await serverPeer.terminate();
              await until(() => client.state === 'closed', 'the client to see the close');
              break;
            }
          }
          await quiet(step.op);
          for (const call of calls) {
            if (call.expected === undefined) expect(call.settlements).toEqual([]);
            else checkOutcome(call);
          }
          expect(client.pendingCalls).toBe(pending().length);
        }

        // End of the run: close, and everything must be released.
        for (const call of pending()) call.expected = 'closed';
        await client.close();
        await quiet('the final close');
        await Promise.resolve();
        for (const call of calls) checkOutcome(call);
        expect(client.pendingCalls).toBe(0);
        await until(() => serverPeer.handlingCalls === 0 && !server.connections.has(serverPeer), 'the server to release the connection');
        expect(simulatedTimers(clock)).toBe(0);
        expect([sharedDeadlines().size, sharedDeadlines().armed]).toEqual([0, false]);
        expect(unmatched.every((e) => e.reason === 'late' || e.reason === 'duplicate')).toBe(true);
        for (const call of calls) {
          seen.add(call.expected!);
          handlers.delete(call.tag);
        }
        for (const event of unmatched) seen.add(event.reason);
      }),
      // Random runs reach every outcome most of the time; this sequence reaches each of them every time.
      { numRuns: 50, examples: [[[], EVERY_OUTCOME]] },
    );
    expect([...seen].sort()).toEqual(['aborted', 'closed', 'duplicate', 'late', 'remote', 'resolved', 'timeout']);
  });
});
