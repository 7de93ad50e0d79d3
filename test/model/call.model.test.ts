/**
 * Model-based test of the outgoing call: every shortest and simple path of
 * `callMachine` is replayed against a real client over a real WebSocket on
 * 127.0.0.1, with a raw server the test drives. Each model event becomes a
 * real action, and the live call actor's state (seen through `inspect`) must
 * be the model's after every step; the promise must settle as the final state says.
 *
 * How each event is caused for real:
 * - call.release: the server completes the held opening handshake.
 * - request.written: nothing: the socket finishes the write by itself.
 * - request.writeFailed: the write must still be pending, so the server stops
 *   reading and the client first sends a 16 MB notification that fills the
 *   socket buffers; then the server drops the TCP connection, and the pending
 *   write fails.
 * - response.result / response.error: the server answers. In `sent` the request
 *   cannot have reached it (its write is held back as above), so it answers
 *   with the id the client's call actor shows: a response that overtakes the
 *   end of the write, which is what the model allows.
 * - connection.closed: in `queued` the server refuses the handshake; in `sent`
 *   the caller closes the client (the write is held, so only a local close can
 *   come first); in `awaiting` the server drops the socket.
 * - call.cancel: the caller's AbortController aborts.
 * - after callTimeout: the client's SimulatedClock advances by the timeout.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock, type EventObject } from 'xstate';
import { callMachine, type CallInput } from '../../machines/call.machine.js';
import { connect, ConnectionClosedError, RemoteError, TimeoutError, type Client, type UnmatchedEvent } from '../../src/index.js';
import { CALL_EVENTS, CALL_TIMEOUT_EVENT } from '../fixtures/call-events.js';
import { settle, until } from '../helpers.js';
import { follower, rawServer, recorder, type RawServer } from './live.js';
import { coverageOf, describePath, generatePaths, machineElements, replayReport, type ModelPath, type Variant } from './paths.js';

const TIMEOUT = 500;
/** Larger than the loopback socket buffers while the server does not read, so the writes behind it stay pending. */
const FILLER_BYTES = 16 * 1024 * 1024;

const EVENTS = CALL_EVENTS as EventObject[];

const input = (sendNow: boolean): CallInput => ({ id: 'c1', method: 'sum', params: [1, 2], timeout: TIMEOUT, sendNow });
const VARIANTS: Variant[] = [
  { name: 'made while connecting', input: input(false), machine: callMachine },
  { name: 'made on an open connection', input: input(true), machine: callMachine },
];

const generated = generatePaths(VARIANTS, EVENTS);

let server: RawServer | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.terminate();
  await server?.close();
  client = undefined;
  server = undefined;
});

const replayed = replayReport('call', generated);

/** The value of a step's state, as the key of the pending substate or the final state. */
const stateName = (value: unknown) => (typeof value === 'string' ? value : (value as { pending: string }).pending);

/** Whether the path needs the request's write held back: an event other than request.written happens in `sent`. */
function holdsWrite(path: ModelPath): boolean {
  return path.steps.some((step, i) => i > 0 && stateName(path.steps[i - 1]!.state.value) === 'sent' && step.event.type !== 'request.written');
}

describe(`call machine: ${generated.paths.length} paths replayed against the live client`, () => {
  it('every state and transition of the machine is reached by some path', () => {
    const all = machineElements(callMachine);
    const covered = coverageOf(generated.paths, VARIANTS);
    expect([...covered.states].sort()).toEqual([...all.states].sort());
    expect([...covered.transitions].sort()).toEqual([...all.transitions].sort());
    expect(generated.shortest).toBeGreaterThan(0);
    expect(generated.simple).toBeGreaterThanOrEqual(generated.shortest);
  });

  it.each(generated.paths.map((path) => [`${path.variant}: ${describePath(path)}`, path] as const))('%s', async (_, path) => {
    const hold = holdsWrite(path);
    server = await rawServer({ holdHandshake: true, stopReading: hold });
    const rec = recorder();
    const clock = new SimulatedClock();
    client = connect(server.url, { inspect: rec.inspect, clock, timeout: 60_000, closeTimeout: 60_000 });
    const unmatched: UnmatchedEvent[] = [];
    client.on('unmatched', (event) => unmatched.push(event));
    await server.handshakeWaiting();
    if ((path.input as CallInput).sendNow) {
      server.accept();
      await client.ready;
    }
    if (hold) client.notify('filler', { pad: 'x'.repeat(FILLER_BYTES) });

    const controller = new AbortController();
    let outcome: { value?: unknown; error?: any } | undefined;
    void settle(client.request('sum', [1, 2], { timeout: TIMEOUT, signal: controller.signal })).then((o) => (outcome = o));
    const callActor = () => rec.actorsOf('call')[0];
    const idOfCall = () => (callActor()!.getSnapshot() as { context: { id: string } }).context.id;
    const check = follower(rec, callActor, path);
    const s = server;
    const c = client;

    await check(0);
    for (let i = 1; i < path.steps.length; i++) {
      const from = stateName(path.steps[i - 1]!.state.value);
      const type = path.steps[i]!.event.type;
      switch (type) {
        case 'call.release':
          s.accept();
          break;
        case 'request.written':
          break;
        case 'request.writeFailed':
          s.drop();
          break;
        case 'response.result':
        case 'response.error': {
          const id = from === 'awaiting' ? (await s.received((f) => f.method === 'sum', 'the request')).id : idOfCall();
          s.send(type === 'response.result' ? { jsonrpc: '2.0', id, result: 3 } : { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } });
          break;
        }
        case 'connection.closed':
          if (from === 'queued') s.refuse();
          else if (from === 'sent') void c.close();
          else s.drop();
          break;
        case 'call.cancel':
          controller.abort();
          break;
        case CALL_TIMEOUT_EVENT:
          clock.increment(TIMEOUT);
          break;
        default:
          throw new Error(`no real action for ${type}`);
      }
      await check(i);
    }

    const final = stateName(path.state.value);
    const last = path.steps.at(-1)!.event.type;
    const written = path.steps.some((step) => step.event.type === 'request.written');
    if (!path.state.status || path.state.status === 'active') {
      expect(outcome).toBeUndefined();
      expect(client.pendingCalls).toBe(1);
      replayed.push(describePath(path));
      return;
    }
    await until(() => outcome !== undefined, 'the call to settle');
    expect(client.pendingCalls).toBe(0);
    switch (final) {
      case 'resolved':
        expect(outcome).toEqual({ value: 3 });
        break;
      case 'timedOut':
        expect(outcome!.error).toBeInstanceOf(TimeoutError);
        expect(outcome!.error).toMatchObject({ code: 'ERR_CALL_TIMEOUT', method: 'sum', timeout: TIMEOUT });
        break;
      case 'cancelled':
        expect(outcome!.error).toBeInstanceOf(DOMException);
        expect(outcome!.error.name).toBe('AbortError');
        break;
      case 'failed':
        if (last === 'response.error') {
          expect(outcome!.error).toBeInstanceOf(RemoteError);
          expect(outcome!.error).toMatchObject({ code: -32601, message: 'Method not found' });
        } else {
          expect(outcome!.error).toBeInstanceOf(ConnectionClosedError);
          expect(outcome!.error.code).toBe('ERR_CONNECTION_CLOSED');
          const because = { 'request.writeFailed': /could not be written/, 'connection.closed': /could not connect|closed locally|closed before the call settled/ };
          expect(outcome!.error.message).toMatch(because[last as keyof typeof because]);
        }
        break;
    }
    // A request the server has seen and that ended without an answer is cancelled there too.
    if (written && (final === 'timedOut' || final === 'cancelled')) {
      const notice = await s.received((f) => f.method === '$/cancelRequest', 'the $/cancelRequest notice');
      expect(notice.params).toEqual({ id: idOfCall() });
    }
    // The final state ignores a second answer on a live connection: it is reported, and the call does not move.
    if (written && last !== 'connection.closed') {
      const before = rec.stepsOf(callActor()!).length;
      s.send({ jsonrpc: '2.0', id: idOfCall(), result: 'again' });
      await until(() => unmatched.length > 0, 'the unmatched report');
      const answered = final === 'resolved' || final === 'failed';
      expect(unmatched[0]).toMatchObject({ reason: answered ? 'duplicate' : 'late', id: idOfCall() });
      expect(rec.stepsOf(callActor()!)).toHaveLength(before);
    }
    replayed.push(describePath(path));
  });
});
