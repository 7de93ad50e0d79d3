/**
 * The engine seam: owner implementations written once run the same on the
 * light engine and on XState, and see their host, the actor's owner data, the
 * context and the params; `in` and `onDone` answer the same on both.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { callLogic, type CallContext, type CallEvent, type CallInput } from '../../machines/call.logic.js';
import {
  incomingCallLogic,
  type IncomingCallContext,
  type IncomingCallEvent,
  type IncomingCallInput,
} from '../../machines/incomingCall.logic.js';
import { callTable } from '../../src/engine/generated/call.table.js';
import { incomingCallTable } from '../../src/engine/generated/incomingCall.table.js';
import { defineRunner } from '../../src/engine/runner.js';
import { XSTATE } from '../../src/engine/xstate.js';

interface Host {
  name: string;
  seen: string[];
}
interface Owner {
  label: string;
}

const calls = defineRunner<CallInput, Host, Owner, CallContext, CallEvent>(callTable, callLogic, {
  actions: {
    writeRequest: (host, owner, context) => host.seen.push(`${host.name} write ${owner.label} ${context.id}`),
    notifyPeerOfCancel: (host, owner, context) => host.seen.push(`${host.name} cancel ${owner.label} ${context.id}`),
    settleCaller: (host, owner, context, params: { status: string }) =>
      host.seen.push(`${host.name} settle ${owner.label} ${context.id} ${params.status}`),
  },
});
const QUEUED = calls.state('pending.queued');
const AWAITING = calls.state('pending.inFlight.awaiting');

const incoming = defineRunner<IncomingCallInput, Host, Owner, IncomingCallContext, IncomingCallEvent>(
  incomingCallTable,
  incomingCallLogic,
  {
    guards: { hasMethod: (host, context) => host.seen.push(`${host.name} has ${context.method}`) > 0 },
    actors: {
      handler: (host, input: { method: string; params: unknown }, scope) => {
        host.seen.push(`${host.name} run ${input.method} ${JSON.stringify(input.params)} signal ${scope.signal.aborted}`);
        return Promise.resolve('answer');
      },
    },
    actions: {
      sendResult: (host, owner, context) => host.seen.push(`${host.name} result ${owner.label} ${JSON.stringify(context.result)}`),
      sendError: (host, owner) => host.seen.push(`${host.name} error ${owner.label}`),
      sendCancelled: (host, owner) => host.seen.push(`${host.name} cancelled ${owner.label}`),
    },
  },
);
const CANCELLED = incoming.state('cancelled');

/** The incoming-call machine with a handler that answers at once: what it returns, or what it throws. */
const atOnce = defineRunner<IncomingCallInput, Host, Owner, IncomingCallContext, IncomingCallEvent>(incomingCallTable, incomingCallLogic, {
  guards: { hasMethod: () => true },
  actors: {
    handler: (host, input: { method: string; params: unknown }) => {
      host.seen.push(`run ${input.method}`);
      if (input.method === 'throws') throw new Error('at once');
      if (input.method === 'thenable') return { then: (resolve: (value: unknown) => void) => resolve('later') };
      return input.params;
    },
  },
  actions: {
    sendResult: (host, owner, context) => host.seen.push(`result ${owner.label} ${JSON.stringify(context.result)}`),
    sendError: (host, owner, context) => host.seen.push(`error ${owner.label} ${(context.error as Error).message}`),
    sendCancelled: (host, owner) => host.seen.push(`cancelled ${owner.label}`),
  },
});

describe.each(['light', 'xstate'] as const)('a runner on the %s engine', (engine) => {
  it('runs the owner actions with their host, owner, context and params, and tells states apart', () => {
    const host: Host = { name: 'conn', seen: [] };
    const clock = new SimulatedClock();
    const actors = calls.create(engine, host, { clock, xstate: XSTATE });
    const queued = actors.create({ id: 'q', method: 'm', timeout: 100, sendNow: false }, { label: 'first' });
    const sent = actors.create({ id: 's', method: 'm', timeout: 100, sendNow: true }, { label: 'second' });
    queued.start();
    sent.start();
    expect([queued.in(QUEUED), sent.in(QUEUED), sent.context.id]).toEqual([true, false, 's']);
    sent.send({ type: 'request.written' });
    expect(sent.in(AWAITING)).toBe(true);
    sent.send({ type: 'response.result', result: 3 });
    clock.increment(100);
    expect(host.seen).toEqual(['conn write second s', 'conn settle second s resolved', 'conn settle first q timedOut']);
  });

  it('runs promise actors with their input and signal, and reports each actor done with its owner', async () => {
    const host: Host = { name: 'conn', seen: [] };
    const done: string[] = [];
    const actors = incoming.create(engine, host, {
      xstate: XSTATE,
      onDone: (owner, actor) => done.push(`${owner.label} ${actor.in(CANCELLED) ? 'cancelled' : 'ended'}`),
    });
    const answered = actors.create({ id: 1, method: 'echo', params: [1] }, { label: 'a' });
    const cancelled = actors.create({ id: 2, method: 'echo', params: [2] }, { label: 'b' });
    answered.start();
    cancelled.start();
    cancelled.send({ type: 'call.cancel', reason: 'stop' });
    await new Promise((resolve) => setImmediate(resolve));
    // XState starts an invoked actor once the step is over, the light engine within it: the order across actors differs.
    expect([...host.seen].sort()).toEqual([
      'conn cancelled b',
      'conn has echo',
      'conn has echo',
      'conn result a "answer"',
      'conn run echo [1] signal false',
      'conn run echo [2] signal false',
    ]);
    expect(done).toEqual(['b cancelled', 'a ended']);
  });

  it('ends a promise actor that returns or throws at once as one that settles later (the light engine within the step)', async () => {
    const host: Host = { name: 'conn', seen: [] };
    const done: string[] = [];
    const actors = atOnce.create(engine, host, { xstate: XSTATE, onDone: (owner) => done.push(owner.label) });
    const value = actors.create({ id: 1, method: 'echo', params: [1] }, { label: 'value' });
    const thrown = actors.create({ id: 2, method: 'throws', params: [] }, { label: 'thrown' });
    const thenable = actors.create({ id: 3, method: 'thenable', params: [] }, { label: 'thenable' });
    value.start();
    thrown.start();
    thenable.start();
    // A thenable is a promise: it is followed, never taken for the output, and ends no sooner than a microtask later.
    expect(done).toEqual(engine === 'light' ? ['value', 'thrown'] : []);
    await new Promise((resolve) => setImmediate(resolve));
    expect(done).toEqual(['value', 'thrown', 'thenable']);
    expect(host.seen.filter((line) => !line.startsWith('run'))).toEqual([
      'result value [1]',
      'error thrown at once',
      'result thenable "later"',
    ]);
  });
});

describe('defineRunner', () => {
  it('refuses a state path that is not an atomic state of the machine', () => {
    expect(() => calls.state('pending')).toThrow('machine "call" has no atomic state "pending"');
  });

  it('refuses, when the table loads, an action the table names and nobody implements', () => {
    expect(() => defineRunner(callTable, callLogic, { actions: { writeRequest: () => {}, settleCaller: () => {} } })).toThrow(
      'machine "call": action "notifyPeerOfCancel" without implementation',
    );
  });

  it("refuses engine 'xstate' without XState (the browser build)", () => {
    expect(() => calls.create('xstate', { name: 'conn', seen: [] }, {})).toThrow(
      new TypeError("engine 'xstate' needs the Node build of callstate"),
    );
  });
});
