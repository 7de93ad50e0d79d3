import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, fromPromise, SimulatedClock, toPromise } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  incomingCallMachine,
  type HandlerInput,
  type IncomingCallEvent,
  type IncomingCallInput,
} from '../../machines/incomingCall.machine.js';

/** A handler whose promise the test settles by hand; records what each run received. */
function controlledHandler() {
  const runs: Array<{ input: HandlerInput; signal: AbortSignal; promise: Promise<unknown> }> = [];
  let settle: { resolve: (value: unknown) => void; reject: (error: unknown) => void } | undefined;
  const logic = fromPromise<unknown, HandlerInput>(({ input, signal }) => {
    const promise = new Promise((resolve, reject) => {
      settle = { resolve, reject };
    });
    runs.push({ input, signal, promise });
    return promise;
  });
  return {
    logic,
    runs,
    resolve: (value: unknown) => settle!.resolve(value),
    reject: (error: unknown) => settle!.reject(error),
  };
}

/** Starts an incoming-call actor with spies for the owner's actions and guard. */
function startIncoming(options: { hasMethod?: boolean; input?: Partial<IncomingCallInput> } = {}) {
  const log: string[] = [];
  const handler = controlledHandler();
  const hasMethod = vi.fn(() => {
    log.push('hasMethod');
    return options.hasMethod ?? true;
  });
  const sendResult = vi.fn(() => {
    log.push('sendResult');
  });
  const sendError = vi.fn(() => {
    log.push('sendError');
  });
  const machine = incomingCallMachine.provide({
    actors: { handler: handler.logic },
    actions: { sendResult, sendError },
    guards: { hasMethod },
  });
  const actor = createActor(machine, {
    input: { id: 7, method: 'sum', params: [1, 2], ...options.input },
    clock: new SimulatedClock(),
  });
  actor.start();
  return { actor, log, handler, hasMethod, sendResult, sendError };
}

/** The context an action or guard implementation was called with. */
function contextOf(spy: ReturnType<typeof vi.fn>): { id: unknown; method: string; result?: unknown; error?: unknown } {
  const args = spy.mock.calls[0] as unknown as [{ context: ReturnType<typeof contextOf> }];
  return args[0].context;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('incomingCallMachine: method lookup', () => {
  it('fails with sendError and never runs a handler when the method does not exist', () => {
    const { actor, log, handler, sendResult, sendError } = startIncoming({ hasMethod: false });

    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe('failed');
    expect(snapshot.status).toBe('done');
    expect(snapshot.context.error).toBeUndefined();
    expect(log).toEqual(['hasMethod', 'sendError']);
    expect(sendError).toHaveBeenCalledOnce();
    expect(contextOf(sendError)).toMatchObject({ id: 7, method: 'sum' });
    expect(sendResult).not.toHaveBeenCalled();
    expect(handler.runs).toHaveLength(0);
  });

  it('asks hasMethod about the requested method, then runs the handler with method, params and id', () => {
    const { actor, hasMethod, handler } = startIncoming({ input: { id: 'r1', method: 'echo', params: { a: 1 } } });

    expect(actor.getSnapshot().value).toBe('handling');
    expect(hasMethod).toHaveBeenCalledOnce();
    expect(contextOf(hasMethod)).toMatchObject({ id: 'r1', method: 'echo' });
    expect(handler.runs).toHaveLength(1);
    expect(handler.runs[0]?.input).toEqual({ method: 'echo', params: { a: 1 }, id: 'r1' });
    expect(handler.runs[0]?.signal.aborted).toBe(false);
  });
});

describe('incomingCallMachine: handler outcome', () => {
  it('replies with the result when the handler resolves', async () => {
    const { actor, log, handler, sendResult, sendError } = startIncoming();

    handler.resolve(3);
    await toPromise(actor);

    expect(actor.getSnapshot().value).toBe('replied');
    expect(actor.getSnapshot().context.result).toBe(3);
    expect(log).toEqual(['hasMethod', 'sendResult']);
    expect(contextOf(sendResult)).toMatchObject({ id: 7, result: 3 });
    expect(sendError).not.toHaveBeenCalled();
  });

  it('replies (with an undefined result) when the handler resolves with nothing', async () => {
    const { actor, handler, sendResult } = startIncoming();

    handler.resolve(undefined);
    await toPromise(actor);

    expect(actor.getSnapshot().value).toBe('replied');
    expect(actor.getSnapshot().context.result).toBeUndefined();
    expect(sendResult).toHaveBeenCalledOnce();
  });

  it('does not abort the signal of a handler that completed', async () => {
    const { actor, handler } = startIncoming();

    handler.resolve('ok');
    await toPromise(actor);

    expect(handler.runs[0]?.signal.aborted).toBe(false);
  });

  it('fails with sendError and keeps the thrown error when the handler rejects', async () => {
    const { actor, log, handler, sendResult, sendError } = startIncoming();
    const thrown = new TypeError('params must be numbers');

    handler.reject(thrown);
    await toPromise(actor);

    expect(actor.getSnapshot().value).toBe('failed');
    expect(actor.getSnapshot().context.error).toBe(thrown);
    expect(log).toEqual(['hasMethod', 'sendError']);
    expect(contextOf(sendError).error).toBe(thrown);
    expect(sendResult).not.toHaveBeenCalled();
  });
});

describe('incomingCallMachine: cancellation', () => {
  it.each([
    { type: 'call.cancel', reason: 'caller aborted' },
    { type: 'connection.closed', error: new Error('socket closed') },
  ] as IncomingCallEvent[])('$type during handling cancels, sends nothing and aborts the handler signal', (event) => {
    const { actor, log, handler, sendResult, sendError } = startIncoming();
    const signal = handler.runs[0]?.signal;
    expect(signal?.aborted).toBe(false);

    actor.send(event);

    expect(actor.getSnapshot().value).toBe('cancelled');
    expect(actor.getSnapshot().status).toBe('done');
    expect(signal?.aborted).toBe(true);
    expect(sendResult).not.toHaveBeenCalled();
    expect(sendError).not.toHaveBeenCalled();
    expect(log).toEqual(['hasMethod']);
  });

  it('a handler that settles after cancellation sends nothing', async () => {
    const { actor, handler, sendResult, sendError } = startIncoming();
    actor.send({ type: 'call.cancel' });

    handler.resolve('too late');
    // XState subscribed to the handler's promise first, so its reaction has run once ours does.
    await handler.runs[0]?.promise;

    expect(actor.getSnapshot().value).toBe('cancelled');
    expect(actor.getSnapshot().context.result).toBeUndefined();
    expect(sendResult).not.toHaveBeenCalled();
    expect(sendError).not.toHaveBeenCalled();
  });

  it('cancel after the reply was sent changes nothing', async () => {
    const { actor, handler, sendResult } = startIncoming();
    handler.resolve(1);
    await toPromise(actor);
    vi.spyOn(console, 'warn').mockImplementation(() => {});

    actor.send({ type: 'call.cancel' });

    expect(actor.getSnapshot().value).toBe('replied');
    expect(sendResult).toHaveBeenCalledOnce();
    expect(handler.runs[0]?.signal.aborted).toBe(false);
  });
});

describe('incomingCallMachine: graph', () => {
  it('every state node is reachable by the shortest paths (received is transient)', () => {
    const invokeId = incomingCallMachine.root.states.handling?.invoke[0]?.id;
    expect(invokeId).toBeDefined();
    const events = [
      { type: 'call.cancel' },
      { type: 'connection.closed' },
      { type: `xstate.done.actor.${invokeId}`, output: 3 },
      { type: `xstate.error.actor.${invokeId}`, error: new Error('boom') },
    ] as unknown as IncomingCallEvent[];
    const input = { id: 1, method: 'sum' };

    const withMethod = getShortestPaths(incomingCallMachine, { input, events });
    const withoutMethod = getShortestPaths(incomingCallMachine.provide({ guards: { hasMethod: () => false } }), {
      input,
      events,
    });

    const reached = new Set([...withMethod, ...withoutMethod].map((path) => String(path.state.value)));
    const all = Object.keys(incomingCallMachine.root.states);
    expect(all).toEqual(['received', 'handling', 'replied', 'failed', 'cancelled']);
    // `received` only decides where to go (an eventless `always`), so no snapshot ever rests in it.
    expect(incomingCallMachine.root.states.received?.always?.map((t) => t.target?.[0]?.key)).toEqual(['handling', 'failed']);
    expect([...reached].sort()).toEqual(all.filter((state) => state !== 'received').sort());
    expect(withoutMethod.map((path) => path.state.value)).toEqual(['failed']);
    const replied = withMethod.find((path) => path.state.value === 'replied');
    expect(replied?.state.context.result).toBe(3);
  });
});
