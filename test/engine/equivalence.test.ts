/**
 * The light engine must behave exactly as XState on the same machine: every
 * path that `xstate/graph` generates over the call, incoming-call and
 * connection machines is replayed on XState (the machine) and on the light
 * engine (its generated table in src/engine/generated/, with the machine's
 * logic), and the state after each event, the actions the owner sees (with
 * their params and the context they read), the final status and the output
 * must be the same.
 */
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, SimulatedClock, type AnyStateMachine, type InspectionEvent } from 'xstate';
import { getShortestPaths, getSimplePaths } from 'xstate/graph';
import { callLogic } from '../../machines/call.logic.js';
import { callMachine, type CallInput } from '../../machines/call.machine.js';
import { connectionLogic } from '../../machines/connection.logic.js';
import { connectionMachine, type ConnectionInput } from '../../machines/connection.machine.js';
import { incomingCallLogic } from '../../machines/incomingCall.logic.js';
import { incomingCallMachine, type IncomingCallInput } from '../../machines/incomingCall.machine.js';
import { FlatActor, type ActorScope } from '../../src/engine/actor.js';
import { Deadlines } from '../../src/engine/deadlines.js';
import { callTable } from '../../src/engine/generated/call.table.js';
import { connectionTable } from '../../src/engine/generated/connection.table.js';
import { incomingCallTable } from '../../src/engine/generated/incomingCall.table.js';
import { loadMachine, type MachineLogic } from '../../src/engine/load.js';
import type { MachineTable } from '../../src/engine/table.js';
import { CALL_EVENTS } from '../fixtures/call-events.js';

const HANDLER_ID = '0.incomingCall.handling';

type Event = { type: string; [key: string]: unknown };

interface Trace {
  /** State value and status after the start and after each event. */
  states: Array<{ value: unknown; status: string }>;
  /** Owner actions in order, with their params and the context fields they read. */
  actions: string[];
  output: unknown;
  inspected: Array<{ type: string; event?: string; value?: unknown; actorRef: unknown }>;
}

/** The owner's actions, recorded the same way for both engines. */
function recorder(names: string[], actions: string[]) {
  return Object.fromEntries(
    names.map((name) => [
      name,
      ({ context }: { context: any }, params: unknown) => {
        actions.push(`${name}${params === undefined ? '' : JSON.stringify(params)} ${JSON.stringify(context)}`);
      },
    ]),
  );
}

function inspectRecorder(into: Trace['inspected']) {
  return (event: InspectionEvent) => {
    if (event.type === '@xstate.event') into.push({ type: event.type, event: event.event.type, actorRef: event.actorRef });
    if (event.type === '@xstate.snapshot')
      into.push({ type: event.type, value: (event.snapshot as unknown as { value: unknown }).value, actorRef: event.actorRef });
  };
}

type Provide = (actions: string[]) => any;

function runXState(machine: AnyStateMachine, provided: Provide, input: unknown, events: Event[]): Trace {
  const trace: Trace = { states: [], actions: [], output: undefined, inspected: [] };
  const actor = createActor(machine.provide(provided(trace.actions)), {
    input,
    clock: new SimulatedClock(),
    inspect: inspectRecorder(trace.inspected),
  });
  actor.start();
  const record = () => trace.states.push({ value: actor.getSnapshot().value, status: actor.getSnapshot().status });
  record();
  for (const event of events) {
    actor.send(event as never);
    record();
  }
  trace.output = actor.getSnapshot().output;
  actor.stop();
  return ownEvents(trace, actor);
}

function runLight(
  table: MachineTable,
  logic: MachineLogic,
  provided: Provide,
  input: unknown,
  events: Event[],
): Trace & { timersLeft: number } {
  const trace: Trace = { states: [], actions: [], output: undefined, inspected: [] };
  const owner = provided(trace.actions);
  const compiled = loadMachine(table, { ...logic, ...owner, guards: { ...logic.guards, ...owner.guards } });
  const clock = new SimulatedClock();
  const deadlines = new Deadlines({
    now: () => clock.now(),
    setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
    clearTimeout: (id) => clock.clearTimeout(id as number),
  });
  const scope: ActorScope = { scheduler: deadlines, inspect: inspectRecorder(trace.inspected), parent: undefined, onDone: undefined };
  const actor = new FlatActor(compiled, scope, input, undefined).start();
  const record = () => trace.states.push({ value: actor.getSnapshot().value, status: actor.getSnapshot().status });
  record();
  for (const event of events) {
    actor.send(event);
    record();
  }
  trace.output = actor.getSnapshot().output;
  const timersLeft = actor.status === 'active' ? 0 : deadlines.size;
  actor.stop();
  return { ...ownEvents(trace, actor), timersLeft };
}

/** Only the actor's own inspection events (XState also reports the invoked handler as an actor of its own). */
function ownEvents(trace: Trace, actor: unknown): Trace {
  return {
    ...trace,
    inspected: trace.inspected.filter((e) => e.actorRef === actor).map(({ actorRef: _, ...rest }) => ({ ...rest, actorRef: undefined })),
  };
}

const callEvents = CALL_EVENTS as Event[];

const incomingEvents: Event[] = [
  { type: 'call.cancel', reason: 'stop' },
  { type: 'connection.closed' },
  { type: `xstate.done.actor.${HANDLER_ID}`, output: 42, actorId: HANDLER_ID },
  { type: `xstate.error.actor.${HANDLER_ID}`, error: 'boom', actorId: HANDLER_ID },
];

interface Case {
  name: string;
  machine: AnyStateMachine;
  table: MachineTable;
  logic: MachineLogic;
  input: unknown;
  events: Event[];
  xstate: Provide;
  light: Provide;
  /** How paths tell states apart (default: value and context); the connection's context (epochs, errors) would make them endless. */
  serializeState?: (state: any) => string;
}

const callInput = (sendNow: boolean, retry: boolean): CallInput => ({
  id: 'c1',
  method: 'sum',
  params: [1, 2],
  timeout: 500,
  sendNow,
  retry,
});
const callActions = ['writeRequest', 'notifyPeerOfCancel', 'settleCaller'];
const incomingInput: IncomingCallInput = { id: 7, method: 'echo', params: { a: 1 } };
const never = () => new Promise<never>(() => {});

const connectionActions = [
  'reportOpen',
  'dispatchMessage',
  'closeTransport',
  'reportClosing',
  'reportClosed',
  'openTransport',
  'reportLoss',
  'reportReconnecting',
];
// No jitter: the backoff delay (in the context the actions read) is then the same on both engines.
const policy = { initialDelay: 100, maxDelay: 1_000, factor: 2, jitter: 0, maxAttempts: 2, minUptime: 300 };
const connectionInputs: Array<[string, ConnectionInput]> = [
  ['client', { url: 'ws://x' }],
  ['client, reconnect', { url: 'ws://x', reconnect: policy }],
  ['server side, already open', { url: 'client 1', alreadyOpen: true }],
];
const connectionEvents: Event[] = [
  { type: 'transport.opened' },
  { type: 'transport.closed', code: 1006, reason: '' },
  // Open minUptime: the failed attempts start over.
  { type: 'transport.closed', code: 1006, reason: '', uptime: 300 },
  { type: 'transport.error', error: 'boom' },
  { type: 'message.received', data: '{}' },
  { type: 'connection.close', code: 1000 },
  { type: 'xstate.after.reconnectDelay.connection.connecting.waiting' },
];

const cases: Case[] = [
  ...[false, true].flatMap((open) =>
    [false, true].map((retry) => ({
      name: `call (connection ${open ? 'open' : 'not open'} at start${retry ? ', retry' : ''})`,
      machine: callMachine,
      table: callTable,
      logic: callLogic,
      input: callInput(open, retry),
      events: callEvents,
      xstate: (actions: string[]) => ({ actions: recorder(callActions, actions) }),
      light: (actions: string[]) => ({ actions: recorder(callActions, actions) }),
    })),
  ),
  ...[true, false].map((hasMethod) => ({
    name: `incomingCall (method ${hasMethod ? 'found' : 'missing'})`,
    machine: incomingCallMachine,
    table: incomingCallTable,
    logic: incomingCallLogic,
    input: incomingInput,
    events: incomingEvents,
    xstate: (actions: string[]) => ({
      actions: recorder(['sendResult', 'sendError', 'sendCancelled'], actions),
      guards: { hasMethod: () => hasMethod },
      actors: { handler: fromPromise(never) },
    }),
    light: (actions: string[]) => ({
      actions: recorder(['sendResult', 'sendError', 'sendCancelled'], actions),
      guards: { hasMethod: () => hasMethod },
      actors: { handler: never },
    }),
  })),
  ...connectionInputs.map(([name, input]) => ({
    name: `connection (${name})`,
    machine: connectionMachine,
    table: connectionTable,
    logic: connectionLogic,
    input,
    events: connectionEvents,
    xstate: (actions: string[]) => ({ actions: recorder(connectionActions, actions) }),
    light: (actions: string[]) => ({ actions: recorder(connectionActions, actions) }),
    serializeState: (state: { value: unknown; context: { attempt: number } }) => `${JSON.stringify(state.value)} ${state.context.attempt}`,
  })),
];

describe('light engine ≡ XState on every generated path', () => {
  for (const c of cases) {
    it(`${c.name}: same states, actions, outputs and inspection events`, () => {
      const options = { input: c.input, events: c.events, ...(c.serializeState ? { serializeState: c.serializeState } : {}) };
      const machine = c.machine.provide(c.xstate([]));
      const paths = [...getShortestPaths(machine, options), ...getSimplePaths(machine, options)];
      expect(paths.length).toBeGreaterThan(1);
      const finals = new Set<string>();
      for (const path of paths) {
        const events = path.steps.slice(1).map((step) => step.event as Event);
        const expected = runXState(c.machine, c.xstate, c.input, events);
        const actual = runLight(c.table, c.logic, c.light, c.input, events);
        expect({ ...actual, timersLeft: undefined }, `path ${events.map((e) => e.type).join(' → ')}`).toEqual({
          ...expected,
          timersLeft: undefined,
        });
        expect(actual.timersLeft).toBe(0);
        finals.add(JSON.stringify(actual.states.at(-1)));
      }
      // The paths reached at least one final state besides wherever they started.
      expect([...finals].some((f) => f.includes('"done"'))).toBe(true);
    });
  }

  it('reports events in both engines even when no transition is enabled', () => {
    const events = [{ type: 'response.result', result: 1 }, { type: 'call.release' }];
    const c = cases[0]!;
    const expected = runXState(c.machine, c.xstate, c.input, events);
    const actual = runLight(c.table, c.logic, c.light, c.input, events);
    expect(actual.inspected).toEqual(expected.inspected);
    expect(actual.states.map((s) => s.value)).toEqual([{ pending: 'queued' }, { pending: 'queued' }, { pending: { inFlight: 'sent' } }]);
  });
});
