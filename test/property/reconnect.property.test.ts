/**
 * Property: with `reconnect`, any interleaving of calls (plain or `retry`,
 * some abortable), replies, clock advances, aborts and dropped sockets settles
 * every call exactly once, with the outcome its history allows, never replays
 * a plain call, re-sends a retry call only after a loss, and leaves nothing
 * pending: no outgoing or queued call, no running handler, no timer.
 *
 * Real client and server on 127.0.0.1; the client's timeouts and backoff run
 * on a SimulatedClock (timeouts are multiples of 25 ms after creation, the
 * backoff is 10 ms, so no two ever fall due together).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, ConnectionClosedError, TimeoutError, type Peer, type Server } from '../../src/index.js';
import { DEFAULT_RETRIES } from '../../src/validate.js';
import { until } from '../helpers.js';
import { abortOne, simulatedTimers } from './arbitraries.js';

type Op =
  | { op: 'call'; timeout: number; retry: boolean; withSignal: boolean }
  | { op: 'reply'; pick: number }
  | { op: 'advance'; ms: number }
  | { op: 'abort'; pick: number }
  | { op: 'drop' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('call' as const),
      timeout: fc.constantFrom(50, 100, 150),
      retry: fc.boolean(),
      withSignal: fc.boolean(),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('reply' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('advance' as const), ms: fc.constantFrom(25, 50, 100) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.constant({ op: 'drop' as const }) },
);

const BACKOFF = 10;

/** A retry call lost, re-sent and answered; a plain one lost; one made during the outage; one timing out while queued. */
const EVERY_OUTCOME: Op[] = [
  { op: 'call', timeout: 150, retry: true, withSignal: false },
  { op: 'call', timeout: 150, retry: false, withSignal: true },
  { op: 'drop' },
  { op: 'call', timeout: 50, retry: false, withSignal: false },
  { op: 'call', timeout: 100, retry: false, withSignal: true },
  { op: 'abort', pick: 1 },
  { op: 'advance', ms: 25 },
  { op: 'reply', pick: 0 },
  { op: 'reply', pick: 0 },
  { op: 'drop' },
  { op: 'call', timeout: 50, retry: true, withSignal: false },
  { op: 'advance', ms: 50 },
];

/** A retry call lost on every connection it was written on, once more than it may be re-sent (`retry: true`: 2). */
const RETRIES_SPENT: Op[] = [
  { op: 'call', timeout: 100, retry: true, withSignal: false },
  { op: 'drop' },
  { op: 'advance', ms: 25 },
  { op: 'drop' },
  { op: 'advance', ms: 25 },
  { op: 'drop' },
];

type Expected = 'resolved' | 'timeout' | 'aborted' | 'lost';

interface ModelCall {
  tag: number;
  timeout: number;
  retry: boolean;
  createdAt: number;
  controller: AbortController | undefined;
  /** Written on the current connection (its handler runs there). */
  written: boolean;
  /** Connections lost after it was written on them: a retry call is re-sent after at most `DEFAULT_RETRIES` (`retry: true`). */
  losses: number;
  expected: Expected | undefined;
  settlements: Array<{ value?: unknown; error?: any }>;
}

/** Running handlers by call tag, and how many times each call reached the server. */
const handlers = new Map<number, (value: unknown) => void>();
const arrivals = new Map<number, number>();
let nextTag = 0;

function checkOutcome(call: ModelCall): void {
  expect(call.settlements, `call ${call.tag}`).toHaveLength(1);
  const [{ value, error }] = call.settlements as [{ value?: unknown; error?: any }];
  switch (call.expected) {
    case 'resolved':
      expect(value).toEqual({ tag: call.tag });
      break;
    case 'timeout':
      expect(error).toBeInstanceOf(TimeoutError);
      break;
    case 'aborted':
      expect(error).toBe(call.controller!.signal.reason);
      break;
    case 'lost':
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.message).toMatch(/was lost after the call was written/);
      if (call.retry) expect(error.message).toMatch(/is not sent again \(retry: at most 2 re-sends\)$/);
      break;
    default:
      throw new Error(`call ${call.tag} settled while the model has it pending`);
  }
}

describe.each(['light', 'xstate'] as const)(
  'random interleavings with reconnect: drops, retry calls, queued calls (%s engine)',
  (engine) => {
    let server: Server;
    let latestPeer: Peer | undefined;

    beforeAll(async () => {
      server = await serve({
        engine,
        heartbeat: 0,
        methods: {
          work: ({ tag }: { tag: number }, ctx) =>
            new Promise((resolve, reject) => {
              arrivals.set(tag, (arrivals.get(tag) ?? 0) + 1);
              handlers.set(tag, resolve);
              ctx.signal.addEventListener('abort', () => {
                handlers.delete(tag);
                reject(ctx.signal.reason);
              });
            }),
        },
      });
      server.on('connection', (peer) => (latestPeer = peer));
    });
    afterAll(() => server.close());

    it('settles every call once as its history allows, never replays a plain call, and leaves nothing pending', async () => {
      const seen = new Set<string>();
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 20 }), async (ops) => {
          const clock = new SimulatedClock();
          latestPeer = undefined;
          const client = connect(server.url, {
            engine,
            clock,
            heartbeat: 0,
            timeout: 1_000,
            reconnect: { initialDelay: BACKOFF, maxDelay: BACKOFF, jitter: 0 },
          });
          await client.ready;
          await until(() => latestPeer !== undefined, 'the server to accept');
          const calls: ModelCall[] = [];
          let connected = true;
          let reconnectAt = Infinity;
          let drops = 0;
          const pending = () => calls.filter((c) => c.expected === undefined);
          const settledCount = () => calls.reduce((n, c) => n + c.settlements.length, 0);
          /** Waits until the model's pending calls that are written run on the server, and every call the model settled did settle. */
          const quiet = async (what: string) => {
            const settledInModel = calls.length - pending().length;
            await until(() => settledCount() >= settledInModel, `calls to settle after ${what}`);
            for (const call of pending())
              if (call.written) await until(() => handlers.has(call.tag), `call ${call.tag} to run after ${what}`);
            const running = pending().filter((c) => c.written).length;
            await until(
              () => (connected ? latestPeer!.handlingCalls === running : true),
              `the server to run only the pending calls after ${what}`,
            );
          };

          for (const step of ops) {
            switch (step.op) {
              case 'call': {
                const call: ModelCall = {
                  tag: nextTag++,
                  timeout: step.timeout,
                  retry: step.retry,
                  createdAt: clock.now(),
                  controller: step.withSignal ? new AbortController() : undefined,
                  written: connected,
                  losses: 0,
                  expected: undefined,
                  settlements: [],
                };
                calls.push(call);
                client
                  .request('work', { tag: call.tag }, { timeout: call.timeout, retry: call.retry, signal: call.controller?.signal })
                  .then(
                    (value) => call.settlements.push({ value }),
                    (error) => call.settlements.push({ error }),
                  );
                break;
              }
              case 'reply': {
                const candidates = pending().filter((c) => c.written);
                if (candidates.length === 0) continue;
                const call = candidates[step.pick % candidates.length]!;
                handlers.get(call.tag)!({ tag: call.tag });
                handlers.delete(call.tag);
                call.expected = 'resolved';
                break;
              }
              case 'advance': {
                clock.increment(step.ms);
                const now = clock.now();
                // A deadline passes whether the connection is up or not (it never falls due with the reconnect).
                for (const call of pending()) if (call.createdAt + call.timeout <= now) call.expected = 'timeout';
                if (!connected && reconnectAt <= now) {
                  await until(() => client.state === 'open', 'the reconnect');
                  connected = true;
                  reconnectAt = Infinity;
                  // What still waits goes out on the new connection.
                  for (const call of pending()) call.written = true;
                }
                break;
              }
              case 'abort':
                if (!abortOne(calls, step.pick)) continue;
                break;
              case 'drop': {
                if (!connected) continue;
                const peer = latestPeer!;
                for (const call of pending()) {
                  if (!call.written) continue;
                  // A retry call lost once more than it may be re-sent fails as a plain call does ("… not sent again").
                  if (call.retry && ++call.losses <= DEFAULT_RETRIES) call.written = false;
                  else call.expected = 'lost';
                }
                connected = false;
                drops++;
                reconnectAt = clock.now() + BACKOFF;
                await peer.terminate();
                await until(() => client.reconnecting, 'the client to see the loss');
                handlers.clear();
                break;
              }
            }
            await quiet(step.op);
            for (const call of calls) {
              if (call.expected === undefined) expect(call.settlements, `call ${call.tag} after ${step.op}`).toEqual([]);
              else checkOutcome(call);
            }
            expect(client.pendingCalls).toBe(pending().length);
            expect(client.queuedCalls).toBe(pending().filter((c) => !c.written).length);
          }

          // End: let every deadline pass (reconnecting on the way), then close; everything must be released.
          clock.increment(BACKOFF);
          if (!connected) await until(() => client.state === 'open', 'the last reconnect');
          clock.increment(1_000);
          for (const call of pending()) call.expected = 'timeout';
          await until(() => settledCount() === calls.length, 'every call to settle');
          for (const call of calls) checkOutcome(call);
          await client.close();
          expect([client.pendingCalls, client.queuedCalls]).toEqual([0, 0]);
          expect(simulatedTimers(clock)).toBe(0);
          for (const call of calls) {
            const times = arrivals.get(call.tag) ?? 0;
            // A plain call reaches the server at most once; a retry call at most once per connection it waited through.
            expect(times, `arrivals of call ${call.tag}`).toBeLessThanOrEqual(call.retry ? drops + 1 : 1);
            seen.add(`${call.retry ? 'retry' : 'plain'} ${call.expected}${times > 1 ? ' re-sent' : ''}`);
            arrivals.delete(call.tag);
            handlers.delete(call.tag);
          }
          await until(() => server.connections.size === 0, 'the server to release the connection');
        }),
        { numRuns: 30, examples: [[EVERY_OUTCOME], [RETRIES_SPENT]] },
      );
      for (const outcome of [
        'plain lost',
        'retry resolved re-sent',
        'retry lost re-sent',
        'plain timeout',
        'plain aborted',
        'plain resolved',
      ])
        expect(seen).toContain(outcome);
    }, 60_000);
  },
);
