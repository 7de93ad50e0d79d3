/**
 * Model-based test of the outgoing call: every shortest and simple path of
 * `callMachine` is replayed against a real client over a real WebSocket on
 * 127.0.0.1, with a raw server the test drives. Each model event becomes a
 * real action, and the live call actor's state (seen through `inspect`) must
 * be the model's after every step; the promise must settle as the final state says.
 *
 * The client reconnects (once per loss: `maxAttempts` 1, a fixed delay timed
 * by its SimulatedClock), so a lost connection is a real `connection.lost`.
 * How each event is caused for real:
 * - call.release: the server completes the held opening handshake; after a
 *   loss, the clock first runs out the reconnect delay, so the client opens a
 *   new socket, whose handshake the server then completes.
 * - request.written: nothing: the socket finishes the write by itself.
 * - request.writeFailed: the write must still be pending, so the server stops
 *   reading and the client first sends a 16 MB notification that fills the
 *   socket buffers; then the server drops the TCP connection, and the pending
 *   write fails.
 * - connection.lost: the server drops the socket. In `sent` the write is held
 *   as above, and Node fails the pending write before it reports the close: the
 *   live call takes `request.writeFailed` there instead, which leads where the
 *   model's `connection.lost` does (`failed`; back to `queued` for a retry call,
 *   which the loss then leaves waiting). The replay accepts either event for that step.
 * - response.result / response.error: the server answers. In `sent` the request
 *   cannot have reached it (its write is held back as above), so it answers
 *   with the id the client's call actor shows: a response that overtakes the
 *   end of the write, which is what the model allows.
 * - connection.closed: in `queued` the server refuses handshakes until the
 *   client gives up; in `sent` and `awaiting` the caller closes the client (a
 *   dropped socket is a loss, and the client would reconnect).
 * - call.cancel: the caller's AbortController aborts.
 * - after callTimeout: the client's SimulatedClock advances to the deadline.
 *
 * A re-sent request goes out first on the new socket, ahead of anything that
 * could hold its write back. So what a path does in `sent` after a re-send
 * (cancel, deadline, close) happens inside the client's `open` listener, while
 * the request is handed to the socket and not yet written; an answer cannot
 * come that early, so those paths are listed, not replayed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock, type EventObject } from 'xstate';
import { callMachine, type CallInput } from '../../machines/call.machine.js';
import { connect, type Client, type UnmatchedEvent } from '../../src/index.js';
import { CALL_EVENTS, CALL_TIMEOUT_EVENT } from '../fixtures/call-events.js';
import { settle, until } from '../helpers.js';
import { expectOutcome } from './call-outcome.js';
import { follower, rawServer, recorder, type RawServer } from './live.js';
import { coverageOf, describePath, generatePaths, machineElements, replayReport, type ModelPath, type Variant } from './paths.js';

const TIMEOUT = 1_000;
/** Every reconnect attempt waits this long (jitter 0): well inside the call's timeout. */
const RECONNECT_DELAY = 100;
/** Larger than the loopback socket buffers while the server does not read, so the writes behind it stay pending. */
const FILLER_BYTES = 16 * 1024 * 1024;
/**
 * Above what the filler leaves in the socket's buffer: with the default (4 MiB)
 * a call made behind the filler would wait in `queued` for the buffer to drain,
 * and the test needs it written, its write pending behind the filler.
 */
const HIGH_WATER_MARK = 4 * FILLER_BYTES;

const EVENTS = CALL_EVENTS as EventObject[];

const input = (sendNow: boolean, retry: boolean): CallInput => ({
  id: 'c1',
  method: 'sum',
  params: [1, 2],
  timeout: TIMEOUT,
  sendNow,
  retry,
});
/** A call put back in `queued` after a loss has `sendNow` false: a vertex apart, from which paths go on to its re-send. */
const contextKey = (context: CallInput) => (context.sendNow ? 'sendNow' : '');
const VARIANTS: Variant[] = [
  { name: 'made while connecting', input: input(false, false), machine: callMachine, contextKey },
  { name: 'made on an open connection', input: input(true, false), machine: callMachine, contextKey },
  { name: 'retry, made while connecting', input: input(false, true), machine: callMachine, contextKey },
  { name: 'retry, made on an open connection', input: input(true, true), machine: callMachine, contextKey },
];

const generated = generatePaths(VARIANTS, EVENTS);

/** The value of a step's state, as its innermost key: `queued`, `sent`, `awaiting` (under `pending.inFlight`) or the final state. */
const stateName = (value: unknown): string =>
  typeof value === 'string' ? value : stateName(Object.values(value as Record<string, unknown>)[0]);
const stateAt = (path: ModelPath, i: number) => stateName(path.steps[i]!.state.value);

/** The steps at which the call is in `sent`: the first send, then a re-send after a loss. */
function sends(path: ModelPath): number[] {
  return path.steps.map((_, i) => i).filter((i) => stateAt(path, i) === 'sent');
}

/** Whether the path needs the first write held back: an event other than request.written happens in that `sent`. */
function holdsWrite(path: ModelPath): boolean {
  const first = sends(path)[0];
  const next = first === undefined ? undefined : path.steps[first + 1];
  return next !== undefined && next.event.type !== 'request.written';
}

function whyNotReplayable(path: ModelPath): string | undefined {
  const resend = sends(path)[1];
  const next = resend === undefined ? undefined : path.steps[resend + 1]?.event.type;
  if (next === 'response.result' || next === 'response.error') {
    return 'a re-sent request is written first on the new socket: no answer can come before its write ends';
  }
  return undefined;
}

const replayable = generated.paths.filter((path) => !whyNotReplayable(path));
const notReplayable = generated.paths.filter((path) => whyNotReplayable(path));

let server: RawServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.terminate();
  await server?.close();
  client = undefined;
  server = undefined;
});

const replayed = replayReport('call', generated, notReplayable.length);

describe(`call machine: ${replayable.length} paths replayed against the live client`, () => {
  it('every state and transition of the machine is reached by some replayed path', () => {
    const all = machineElements(callMachine);
    const covered = coverageOf(replayable, VARIANTS);
    expect([...covered.states].sort()).toEqual([...all.states].sort());
    expect([...covered.transitions].sort()).toEqual([...all.transitions].sort());
    // The retry transitions (holdForRelease) among them, and paths that go on after them.
    const holdForRelease = ['call.pending.inFlight.sent|request.writeFailed|0', 'call.pending.inFlight|connection.lost|0'];
    expect(all.transitions).toEqual(expect.arrayContaining(holdForRelease));
    expect(
      replayable.some((path) => /connection\.lost → call\.release → request\.written → response\.result/.test(describePath(path))),
    ).toBe(true);
    // The transitions written once on `inFlight` are replayed from each of its children, `sent` and `awaiting`.
    const fromInFlight = new Set(
      replayable.flatMap((path) =>
        path.steps.slice(1).flatMap((step, i) => {
          const from = stateAt(path, i);
          return from === 'sent' || from === 'awaiting' ? [`${from}: ${step.event.type} ⇒ ${stateName(step.state.value)}`] : [];
        }),
      ),
    );
    const shared = [
      'connection.lost ⇒ queued',
      'connection.lost ⇒ failed',
      'response.result ⇒ resolved',
      'response.error ⇒ failed',
      'call.cancel ⇒ cancelled',
    ];
    expect([...fromInFlight]).toEqual(expect.arrayContaining(['sent', 'awaiting'].flatMap((from) => shared.map((t) => `${from}: ${t}`))));
    expect(generated.shortest).toBeGreaterThan(0);
    expect(generated.simple).toBeGreaterThanOrEqual(generated.shortest);
  });

  it('lists the paths a real socket cannot take, and why', () => {
    const listed = notReplayable.map((path) => `${path.variant}: ${describePath(path)}: ${whyNotReplayable(path)}`);
    const why = 'a re-sent request is written first on the new socket: no answer can come before its write ends';
    const expected = ['request.writeFailed', 'connection.lost', 'request.written → connection.lost'].flatMap((lost) =>
      ['response.result ⇒ resolved', 'response.error ⇒ failed'].map(
        (answer) => `retry, made on an open connection: init → ${lost} → call.release → ${answer}: ${why}`,
      ),
    );
    expect(listed.sort()).toEqual(expected.sort());
  });

  it.each(replayable.map((path) => [`${path.variant}: ${describePath(path)}`, path] as const))('%s', async (_, path) => {
    const { sendNow, retry } = path.input as CallInput;
    const hold = holdsWrite(path);
    const s = (server = await rawServer({ holdHandshake: true, stopReading: (n) => hold && n === 0 }));
    const rec = recorder();
    const clock = new SimulatedClock();
    let elapsed = 0;
    const advance = (ms: number) => {
      elapsed += ms;
      clock.increment(ms);
    };
    const c = (client = connect(server.url, {
      inspect: rec.inspect,
      clock,
      timeout: 60_000,
      closeTimeout: 60_000,
      highWaterMark: HIGH_WATER_MARK,
      reconnect: { initialDelay: RECONNECT_DELAY, jitter: 0, maxAttempts: 1 },
    }));
    const unmatched: UnmatchedEvent[] = [];
    c.on('unmatched', (event) => unmatched.push(event));
    let reconnectings = 0;
    c.on('reconnecting', () => reconnectings++);
    await s.handshakeWaiting();
    if (sendNow) {
      s.accept();
      await c.ready;
    }
    if (hold) c.notify('filler', { pad: 'x'.repeat(FILLER_BYTES) });

    const controller = new AbortController();
    let outcome: { value?: unknown; error?: any } | undefined;
    void settle(c.request('sum', [1, 2], { timeout: TIMEOUT, signal: controller.signal, retry })).then((o) => (outcome = o));
    const callActor = () => rec.actorsOf('call')[0];
    const idOfCall = () => (callActor()!.getSnapshot() as { context: { id: string } }).context.id;
    const latest = () => s.connections.length - 1;
    /** After a loss: the reconnect delay runs out (unless it already has), and the client's new handshake waits. */
    const nextHandshake = async () => {
      if (s.handshakes() === 0) advance(RECONNECT_DELAY);
      await s.handshakeWaiting();
    };
    const check = follower(rec, callActor, path, (i) =>
      path.steps[i]!.event.type === 'connection.lost' && stateAt(path, i - 1) === 'sent' ? ['request.writeFailed'] : [],
    );

    /** Causes the event of step `i` for real. Synchronous for what it does in `sent`, so it can run inside the `open` listener. */
    const act = async (i: number): Promise<void> => {
      const from = stateAt(path, i - 1);
      const type = path.steps[i]!.event.type;
      switch (type) {
        case 'call.release': {
          const resend = c.epoch > 0;
          if (resend) await nextHandshake();
          const next = path.steps[i + 1];
          if (resend && next !== undefined && next.event.type !== 'request.written') {
            // The re-sent request is handed to the socket as the client opens: act before its write can end.
            const off = c.on('open', () => {
              off();
              void act(i + 1);
            });
            actedEarly.add(i + 1);
          }
          s.accept();
          break;
        }
        case 'request.written':
          break;
        case 'request.writeFailed':
        case 'connection.lost':
          // In `awaiting`, once the server has the request: it was seen, and its call is lost with the socket.
          if (from === 'awaiting') await s.received((f) => f.method === 'sum', 'the request', latest());
          s.drop();
          break;
        case 'response.result':
        case 'response.error': {
          const id = from === 'awaiting' ? (await s.received((f) => f.method === 'sum', 'the request', latest())).id : idOfCall();
          s.send(
            type === 'response.result'
              ? { jsonrpc: '2.0', id, result: 3 }
              : { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } },
          );
          break;
        }
        case 'connection.closed':
          if (from !== 'queued') void c.close();
          else {
            // The client tries once more (maxAttempts 1), then gives up: refuse the handshake waiting now, if any, then the next.
            if (c.epoch === 0) {
              s.refuse();
              await until(() => reconnectings === 1, 'the client to plan another attempt');
            }
            await nextHandshake();
            s.refuse();
          }
          break;
        case 'call.cancel':
          controller.abort();
          break;
        case CALL_TIMEOUT_EVENT:
          advance(TIMEOUT - elapsed);
          break;
        default:
          throw new Error(`no real action for ${type}`);
      }
    };
    const actedEarly = new Set<number>();

    await check(0);
    for (let i = 1; i < path.steps.length; i++) {
      if (!actedEarly.has(i)) await act(i);
      await check(i);
    }

    const final = stateName(path.state.value);
    const last = path.steps.at(-1)!.event.type;
    const lastFrom = path.steps.length > 1 ? stateAt(path, path.steps.length - 2) : undefined;
    const resent = sends(path).length > 1;
    const active = !path.state.status || path.state.status === 'active';
    if (active) {
      expect(outcome).toBeUndefined();
      expect(c.pendingCalls).toBe(1);
      expect(c.queuedCalls).toBe(final === 'queued' ? 1 : 0);
    } else {
      await until(() => outcome !== undefined, 'the call to settle');
      expect(c.pendingCalls).toBe(0);
      expectOutcome(outcome!, final, last, lastFrom, c.epoch, TIMEOUT);
    }
    // A request the server has seen and that ended without an answer is cancelled there too (a held write is never seen).
    if ((final === 'timedOut' || final === 'cancelled') && (lastFrom === 'awaiting' || (lastFrom === 'sent' && resent))) {
      const notice = await s.received((f) => f.method === '$/cancelRequest', 'the $/cancelRequest notice');
      expect(notice.params).toEqual({ id: idOfCall() });
    }
    // A settled call is never sent again: once the client has reconnected, the new socket gets nothing from it.
    if (!active && c.reconnecting) {
      await nextHandshake();
      s.accept();
      await until(() => c.state === 'open', 'the client to reconnect');
    }
    // A re-sent request carries the same id, on the new socket.
    if (resent) expect((await s.received((f) => f.method === 'sum', 'the re-sent request', 1)).id).toBe(idOfCall());
    const reading = !(hold && s.connections.length === 1);
    if (c.state === 'open' && reading) {
      // Everything the client wrote before the barrier has reached the server: the counts below are final.
      c.notify('barrier');
      await s.received((f) => f.method === 'barrier', 'the barrier', latest());
    }
    // The request reaches the server once on each socket it is sent on: the first (unless held), and the new one for a re-send.
    const firstSeen = !hold && sends(path).length > 0;
    if (firstSeen) await s.received((f) => f.method === 'sum', 'the request', 0);
    const sums = s.connections.map((frames) => frames.filter((f) => f.method === 'sum').map((f) => f.id));
    expect(sums[0] ?? []).toEqual(firstSeen ? [idOfCall()] : []);
    // Only a retry call is sent again after a loss, and only on the next socket.
    expect(sums.slice(1).flat()).toEqual(resent ? [idOfCall()] : []);

    // The final state ignores a second answer on a live connection: it is reported, and the call does not move.
    if (!active && c.state === 'open') {
      const before = rec.stepsOf(callActor()!).length;
      s.send({ jsonrpc: '2.0', id: idOfCall(), result: 'again' });
      await until(() => unmatched.length > 0, 'the unmatched report');
      const answered = final === 'resolved' || (final === 'failed' && last === 'response.error');
      expect(unmatched).toEqual([expect.objectContaining({ reason: answered ? 'duplicate' : 'late', id: idOfCall() })]);
      expect(rec.stepsOf(callActor()!)).toHaveLength(before);
    }
    replayed.push(describePath(path));
  });
});
