/**
 * Model-based test of the responder side: the shortest and simple paths of
 * `incomingCallMachine` replayed on a real server (`serve()`) called by a real
 * client over a real WebSocket on 127.0.0.1. After every step the live
 * incoming-call actor's state (through the server's `inspect`) must be the model's.
 *
 * How each event is caused for real:
 * - the `hasMethod` guard: the client calls a method the server has (`work`)
 *   or one it does not have (`missing`).
 * - done handler / error handler: the test resolves or rejects the promise the
 *   `work` handler returned.
 * - call.cancel: the caller aborts its signal, so the client sends `$/cancelRequest`.
 * - connection.closed: the client drops its socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EventObject } from 'xstate';
import { incomingCallMachine } from '../../machines/incomingCall.machine.js';
import {
  connect,
  ConnectionClosedError,
  RemoteError,
  serve,
  type Client,
  type HandlerContext,
  type Server,
  type UnmatchedEvent,
} from '../../src/index.js';
import { deferred, settle, until, type Deferred } from '../helpers.js';
import { follower, recorder } from './live.js';
import { coverageOf, describePath, generatePaths, machineElements, replayReport, type Variant } from './paths.js';

const invokeId = incomingCallMachine.root.states.handling!.invoke[0]!.id;
const DONE = `xstate.done.actor.${invokeId}`;
const ERROR = `xstate.error.actor.${invokeId}`;
const EVENTS = [
  { type: 'call.cancel' },
  { type: 'connection.closed' },
  { type: DONE, output: 3 },
  { type: ERROR, error: new Error('boom') },
] as EventObject[];

const input = { id: 'r1', method: 'work', params: [1] };
const VARIANTS: Variant[] = [
  { name: 'known method', input, machine: incomingCallMachine },
  { name: 'unknown method', input, machine: incomingCallMachine.provide({ guards: { hasMethod: () => false } }) },
];

const generated = generatePaths(VARIANTS, EVENTS);

let server: Server | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.terminate();
  await server?.close();
  [server, client] = [undefined, undefined];
});

const replayed = replayReport('incomingCall', generated);

describe(`incomingCall machine: ${generated.paths.length} paths replayed against the live server`, () => {
  it('every state and transition of the machine is reached by some path (received only decides, so no snapshot rests in it)', () => {
    const all = machineElements(incomingCallMachine);
    const covered = coverageOf(generated.paths, VARIANTS);
    expect([...covered.states].sort()).toEqual(all.states.filter((s) => s !== 'incomingCall.received').sort());
    expect(all.states).toContain('incomingCall.received');
    expect([...covered.transitions].sort()).toEqual([...all.transitions].sort());
  });

  it.each(generated.paths.map((path) => [`${path.variant}: ${describePath(path)}`, path] as const))('%s', async (_, path) => {
    const rec = recorder();
    const runs: Array<{ ctx: HandlerContext; answer: Deferred<unknown> }> = [];
    server = await serve({
      methods: {
        work: (_params: unknown, ctx: HandlerContext) => {
          const answer = deferred<unknown>();
          runs.push({ ctx, answer });
          return answer.promise;
        },
        ping: () => 'pong',
      },
      inspect: rec.inspect,
    });
    const c = (client = connect(server.url, { timeout: 60_000 }));
    const unmatched: UnmatchedEvent[] = [];
    c.on('unmatched', (event) => unmatched.push(event));
    await c.ready;
    const controller = new AbortController();
    const method = path.variant === 'known method' ? 'work' : 'missing';
    let outcome: { value?: unknown; error?: any } | undefined;
    void settle(c.request(method, [1], { signal: controller.signal })).then((o) => (outcome = o));
    const check = follower(rec, () => rec.actorsOf('incomingCall')[0], path);

    await check(0);
    if (path.variant === 'known method') await until(() => runs.length === 1, 'the handler to start');
    for (let i = 1; i < path.steps.length; i++) {
      const type = path.steps[i]!.event.type;
      if (type === DONE) runs[0]!.answer.resolve(3);
      else if (type === ERROR) runs[0]!.answer.reject(new Error('boom'));
      else if (type === 'call.cancel') controller.abort();
      else if (type === 'connection.closed') void c.terminate();
      else throw new Error(`no real action for ${type}`);
      await check(i);
    }

    const last = path.steps.at(-1)!.event.type;
    if (path.state.value === 'handling') {
      expect(runs[0]!.ctx.signal.aborted).toBe(false);
      expect(outcome).toBeUndefined();
      replayed.push(describePath(path));
      return;
    }
    await until(() => outcome !== undefined, 'the caller to settle');
    switch (path.state.value) {
      case 'replied':
        expect(outcome).toEqual({ value: 3 });
        break;
      case 'failed':
        expect(outcome!.error).toBeInstanceOf(RemoteError);
        expect(outcome!.error).toMatchObject(
          method === 'missing' ? { code: -32601, message: 'method not found: missing' } : { code: -32603, message: 'boom' },
        );
        expect(runs).toHaveLength(method === 'missing' ? 0 : 1);
        break;
      case 'cancelled':
        // Leaving `handling` stops the handler actor: the handler's signal aborts.
        expect(runs[0]!.ctx.signal.aborted).toBe(true);
        if (last === 'call.cancel') {
          expect(outcome!.error).toBeInstanceOf(DOMException);
          expect(outcome!.error.name).toBe('AbortError');
          // A cancelled call sends nothing, even when its handler finishes afterwards.
          runs[0]!.answer.resolve('too late');
          expect(await c.request('ping')).toBe('pong');
          expect(unmatched).toEqual([]);
        } else {
          expect(outcome!.error).toBeInstanceOf(ConnectionClosedError);
        }
        break;
      default:
        throw new Error(`unexpected final state ${String(path.state.value)}`);
    }
    replayed.push(describePath(path));
  });
});
