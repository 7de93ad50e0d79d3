/**
 * A light actor's snapshots are what inspectors and tools read of an XState
 * actor's: `machine` (the machine it was compiled from, so `machine.id` tells a
 * call from a connection), `matches`, `hasTag`, `can`, `getMeta`, and a
 * `toJSON` equal to XState's for the same state. Both engines run the same
 * machine through the same events (every generated path), and their snapshots
 * are compared after each step.
 */
import { describe, expect, it } from 'vitest';
import { assign, createActor, createMachine, fromPromise, SimulatedClock, type AnyStateMachine, type InspectionEvent } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { callMachine, type CallInput } from '../../machines/call.machine.js';
import { incomingCallMachine, type IncomingCallInput } from '../../machines/incomingCall.machine.js';
import { FlatActor, type ActorScope } from '../../src/engine/actor.js';
import { compileMachine } from '../../src/engine/compile.js';
import { Deadlines } from '../../src/engine/deadlines.js';
import { CALL_EVENTS } from '../fixtures/call-events.js';

type Event = { type: string; [key: string]: unknown };

const HANDLER_ID = '0.incomingCall.handling';
const noop = () => {};

function lightActor(machine: AnyStateMachine, provided: object, input: unknown, inspect?: (event: InspectionEvent) => void) {
  const clock = new SimulatedClock();
  const deadlines = new Deadlines({
    now: () => clock.now(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (id) => clock.clearTimeout(id as number),
  });
  const scope: ActorScope = { scheduler: deadlines, inspect, parent: undefined, onDone: undefined };
  return new FlatActor(compileMachine(machine, provided as never), scope, input, undefined);
}

/** Every partial state value a snapshot could be asked to match: each prefix of each state's path, nested. */
function matchCandidates(machine: AnyStateMachine): unknown[] {
  const values: unknown[] = [];
  const walk = (node: any, path: string[]) => {
    for (const [key, child] of Object.entries(node.states as Record<string, any>)) {
      const p = [...path, key];
      values.push(p.reduceRight<unknown>((inner, k) => (inner === undefined ? k : { [k]: inner }), undefined));
      walk(child, p);
    }
  };
  walk(machine.root, []);
  return values;
}

interface Case {
  name: string;
  machine: AnyStateMachine;
  input: unknown;
  events: Event[];
  xstate: object;
  light: object;
}

const callActions = { writeRequest: noop, notifyPeerOfCancel: noop, settleCaller: noop };
const callInput = (sendNow: boolean): CallInput => ({ id: 'c1', method: 'sum', params: [1, 2], timeout: 500, sendNow, retry: false });
const never = () => new Promise<never>(() => {});
const incomingInput: IncomingCallInput = { id: 7, method: 'echo', params: { a: 1 } };

const cases: Case[] = [
  ...[false, true].map((open) => ({
    name: `call (connection ${open ? 'open' : 'not open'})`,
    machine: callMachine,
    input: callInput(open),
    events: CALL_EVENTS as Event[],
    xstate: { actions: callActions },
    light: { actions: callActions },
  })),
  ...[true, false].map((hasMethod) => ({
    name: `incomingCall (method ${hasMethod ? 'found' : 'missing'})`,
    machine: incomingCallMachine,
    input: incomingInput,
    events: [
      { type: 'call.cancel', reason: 'stop' },
      { type: 'connection.closed' },
      { type: `xstate.done.actor.${HANDLER_ID}`, output: 42, actorId: HANDLER_ID },
      { type: `xstate.error.actor.${HANDLER_ID}`, error: 'boom', actorId: HANDLER_ID },
    ],
    xstate: {
      actions: { sendResult: noop, sendError: noop },
      guards: { hasMethod: () => hasMethod },
      actors: { handler: fromPromise(never) },
    },
    light: { actions: { sendResult: noop, sendError: noop }, guards: { hasMethod: () => hasMethod }, actors: { handler: never } },
  })),
];

/**
 * XState's serialization, but for `children`: XState lists the invoked handler
 * there as a child actor; the light engine runs it as a promise and has none.
 */
function json(snapshot: { toJSON(): unknown }) {
  return JSON.parse(JSON.stringify({ ...(snapshot.toJSON() as object), children: {} }));
}

describe('light snapshots carry what XState snapshots carry', () => {
  for (const c of cases) {
    it(`${c.name}: machine, value, matches, can and toJSON as XState's after every event of every path`, () => {
      const paths = [
        ...getShortestPaths(c.machine.provide(c.xstate as never), { input: c.input, events: c.events }),
        ...getSimplePaths(c.machine.provide(c.xstate as never), { input: c.input, events: c.events }),
      ];
      expect(paths.length).toBeGreaterThan(1);
      const candidates = matchCandidates(c.machine);
      for (const path of paths) {
        const events = path.steps.slice(1).map((step) => step.event as Event);
        const xstate = createActor(c.machine.provide(c.xstate as never), { input: c.input, clock: new SimulatedClock() }).start();
        const light = lightActor(c.machine, c.light, c.input).start();
        const compare = (where: string) => {
          const expected = xstate.getSnapshot();
          const actual = light.getSnapshot();
          expect(actual.machine, where).toBe(c.machine);
          expect(actual.machine!.id, where).toBe(c.machine.id);
          expect(actual.value, where).toEqual(expected.value);
          expect(json(actual), where).toEqual(json(expected));
          expect(Object.keys(actual), where).toEqual(Object.keys(expected));
          expect(Object.keys(actual.toJSON()), where).toEqual(Object.keys(expected.toJSON() as object));
          expect(actual.getMeta(), where).toEqual(expected.getMeta());
          expect([...actual.tags], where).toEqual([...expected.tags]);
          for (const value of candidates)
            expect(actual.matches(value), `${where}: matches(${JSON.stringify(value)})`).toBe(expected.matches(value as never));
          for (const event of c.events) expect(actual.can(event), `${where}: can(${event.type})`).toBe(expected.can(event as never));
        };
        compare('after start');
        for (const [i, event] of events.entries()) {
          xstate.send(event as never);
          light.send(event);
          compare(
            `after ${events
              .slice(0, i + 1)
              .map((e) => e.type)
              .join(' → ')}`,
          );
        }
        xstate.stop();
        light.stop();
      }
    });
  }

  it("inspection snapshots name their machine: 'call' and 'incomingCall', not the connection's", () => {
    for (const c of [cases[0]!, cases[2]!]) {
      const seen: Array<{ id: string; value: unknown }> = [];
      const inspect = (event: InspectionEvent) => {
        if (event.type === '@xstate.snapshot') seen.push({ id: (event.snapshot as any).machine.id, value: (event.snapshot as any).value });
      };
      const light = lightActor(c.machine, c.light, c.input, inspect).start();
      light.send(c.events[0]!);
      expect(seen.length).toBeGreaterThan(1);
      expect(new Set(seen.map((s) => s.id))).toEqual(new Set([c.machine.id]));
    }
  });

  const tagged = createMachine({
    id: 'tagged',
    initial: 'outer',
    context: { n: 0 },
    states: {
      outer: {
        tags: ['busy'],
        meta: { label: 'outer' },
        initial: 'inner',
        states: {
          inner: {
            tags: ['deep'],
            meta: { label: 'inner' },
            on: {
              next: { target: 'second', guard: ({ context }) => context.n > 0 },
              bump: { actions: assign({ n: ({ context }) => context.n + 1 }) },
            },
          },
          second: { on: { noop: {} } },
        },
        on: { finish: 'done' },
      },
      done: { type: 'final' },
    },
    output: ({ context }) => ({ n: context.n }),
  });

  it('matches nested values, has the tags and meta of every active state, and answers can with guards on the snapshot context', () => {
    const xstate = createActor(tagged).start();
    // Inspected, so each assign makes a new context and an old snapshot keeps its own (see FlatSnapshot).
    const light = lightActor(tagged, {}, undefined, () => {}).start();
    const first = light.getSnapshot();
    expect(first.matches({ outer: 'inner' })).toBe(true);
    expect(first.matches('outer')).toBe(true);
    expect(first.matches({ outer: 'second' })).toBe(false);
    expect(first.hasTag('busy') && first.hasTag('deep')).toBe(true);
    expect(first.getMeta()).toEqual({ 'tagged.outer': { label: 'outer' }, 'tagged.outer.inner': { label: 'inner' } });
    expect(first.getMeta()).toEqual(xstate.getSnapshot().getMeta());
    // The guard reads context.n, 0 here: no transition; a targetless one with actions counts, as in XState.
    expect([
      first.can({ type: 'next' }),
      first.can({ type: 'bump' }),
      first.can({ type: 'finish' }),
      first.can({ type: 'nothing' }),
    ]).toEqual([false, true, true, false]);
    for (const actor of [xstate, light]) actor.send({ type: 'bump' } as never);
    // The old snapshot still answers for its own context; the new one for the new context.
    expect(first.can({ type: 'next' })).toBe(false);
    expect(light.getSnapshot().can({ type: 'next' })).toBe(true);
    for (const actor of [xstate, light]) actor.send({ type: 'next' } as never);
    const second = light.getSnapshot();
    expect(second.matches({ outer: 'second' })).toBe(true);
    expect(second.hasTag('deep')).toBe(false);
    // A targetless transition without actions is no transition, as XState's can says.
    expect(second.can({ type: 'noop' })).toBe(xstate.getSnapshot().can({ type: 'noop' } as never));
    expect(second.can({ type: 'noop' })).toBe(false);
    expect(second.toJSON()).toEqual(xstate.getSnapshot().toJSON());
    for (const actor of [xstate, light]) actor.send({ type: 'finish' } as never);
    expect(light.getSnapshot().toJSON()).toEqual(xstate.getSnapshot().toJSON());
    expect(light.getSnapshot()).toMatchObject({ status: 'done', output: { n: 1 } });
    expect(JSON.stringify(light.getSnapshot())).toBe(JSON.stringify(xstate.getSnapshot()));
  });

  it('carries the error an action threw, with status error, as XState does', async () => {
    const boom = new Error('boom');
    const failing = createMachine({
      id: 'failing',
      initial: 'a',
      states: {
        a: {
          on: {
            go: {
              actions: () => {
                throw boom;
              },
            },
          },
        },
      },
    });
    const light = lightActor(failing, {}, undefined).start();
    const thrown = new Promise((resolve) => process.once('uncaughtException', resolve));
    light.send({ type: 'go' });
    expect(light.getSnapshot()).toMatchObject({ status: 'error', error: boom });
    expect(light.getSnapshot().toJSON()).toMatchObject({ status: 'error', error: boom });
    expect(await thrown).toBe(boom);
  });
});
