import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { callMachine, type CallEvent, type CallInput, type CallStatus } from '../../machines/call.machine.js';
import { CALL_EVENTS, CALL_TIMEOUT_EVENT } from '../fixtures/call-events.js';

const TIMEOUT = 500;

/** Starts a call actor on a simulated clock, with spies for every action the owner provides. */
function startCall(input: Partial<CallInput> = {}) {
  const clock = new SimulatedClock();
  const log: string[] = [];
  const writeRequest = vi.fn(() => {
    log.push('writeRequest');
  });
  const notifyPeerOfCancel = vi.fn(() => {
    log.push('notifyPeerOfCancel');
  });
  const settleCaller = vi.fn((_: unknown, params: { status: CallStatus }) => {
    log.push(`settleCaller:${params.status}`);
  });
  const machine = callMachine.provide({ actions: { writeRequest, notifyPeerOfCancel, settleCaller } });
  const actor = createActor(machine, {
    input: { id: 'c1', method: 'sum', params: [1, 2], timeout: TIMEOUT, sendNow: false, ...input },
    clock,
  });
  actor.start();
  return { actor, clock, log, writeRequest, notifyPeerOfCancel, settleCaller };
}

/** The context settleCaller saw when it ran, i.e. what the owner reads to settle the promise. */
function contextSeenBySettle(settleCaller: ReturnType<typeof startCall>['settleCaller']) {
  const args = settleCaller.mock.calls[0]?.[0] as { context: { result?: unknown; error?: unknown } } | undefined;
  return args?.context;
}

type PendingState = 'queued' | 'sent' | 'awaiting';

/** The state value of a pending state: `queued` directly under `pending`, `sent` and `awaiting` under `pending.inFlight`. */
function valueOf(state: PendingState) {
  return state === 'queued' ? { pending: 'queued' } : { pending: { inFlight: state } };
}

/** Brings a fresh call into the named pending state. */
function startIn(state: PendingState, input: Partial<CallInput> = {}) {
  const call = startCall({ sendNow: state !== 'queued', ...input });
  if (state === 'awaiting') call.actor.send({ type: 'request.written' });
  expect(call.actor.getSnapshot().value).toEqual(valueOf(state));
  return call;
}

type CallActor = ReturnType<typeof startCall>['actor'];

/** The call reached the final state `status`, with `result` and `error` in its context. */
function expectSettled(actor: CallActor, status: CallStatus, { result, error }: { result: unknown; error: unknown }) {
  const snapshot = actor.getSnapshot();
  expect(snapshot.value).toBe(status);
  expect(snapshot.status).toBe('done');
  expect(snapshot.context.result).toEqual(result);
  expect(snapshot.context.error).toEqual(error);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('callMachine: starting', () => {
  it('starts in queued and writes nothing while the connection is not open', () => {
    const { actor, writeRequest, settleCaller } = startCall({ sendNow: false });

    expect(actor.getSnapshot().value).toEqual({ pending: 'queued' });
    expect(actor.getSnapshot().status).toBe('active');
    expect(writeRequest).not.toHaveBeenCalled();
    expect(settleCaller).not.toHaveBeenCalled();
  });

  it('starts in sent when the connection is open (queued skipped)', () => {
    const { actor, writeRequest } = startCall({ sendNow: true });

    expect(actor.getSnapshot().value).toEqual({ pending: { inFlight: 'sent' } });
    expect(writeRequest).toHaveBeenCalledTimes(1);
  });

  it('copies its input into the context', () => {
    const { actor } = startCall({ id: 'x9', method: 'echo', params: { a: 1 }, timeout: 42 });

    expect(actor.getSnapshot().context).toEqual({
      id: 'x9',
      method: 'echo',
      params: { a: 1 },
      timeout: 42,
      sendNow: false,
    });
  });

  it('writes the request when the connection opens (queued → sent)', () => {
    const { actor, writeRequest } = startCall();

    actor.send({ type: 'call.release' });

    expect(actor.getSnapshot().value).toEqual({ pending: { inFlight: 'sent' } });
    expect(writeRequest).toHaveBeenCalledTimes(1);
    const args = writeRequest.mock.calls[0] as unknown as [{ context: { id: string; method: string } }];
    expect(args[0].context).toMatchObject({ id: 'c1', method: 'sum', params: [1, 2] });
  });

  it('moves from sent to awaiting once the request is written', () => {
    const { actor } = startCall({ sendNow: true });

    actor.send({ type: 'request.written' });

    expect(actor.getSnapshot().value).toEqual({ pending: { inFlight: 'awaiting' } });
  });

  it('does not write the request again when call.release arrives after it was sent', () => {
    const { actor, writeRequest } = startIn('awaiting');

    actor.send({ type: 'call.release' });

    expect(actor.getSnapshot().value).toEqual({ pending: { inFlight: 'awaiting' } });
    expect(writeRequest).toHaveBeenCalledTimes(1);
  });
});

describe('callMachine: settling', () => {
  it('resolves with the result from awaiting and settles the caller once with status resolved', () => {
    const { actor, log, settleCaller } = startCall();
    actor.send({ type: 'call.release' });
    actor.send({ type: 'request.written' });

    actor.send({ type: 'response.result', result: 3 });

    expectSettled(actor, 'resolved', { result: 3, error: undefined });
    expect(settleCaller).toHaveBeenCalledTimes(1);
    expect(settleCaller).toHaveBeenCalledWith(expect.anything(), { status: 'resolved' });
    expect(contextSeenBySettle(settleCaller)?.result).toBe(3);
    expect(log).toEqual(['writeRequest', 'settleCaller:resolved']);
  });

  it('a response that arrives before request.written resolves the call', () => {
    const { actor, settleCaller } = startIn('sent');

    actor.send({ type: 'response.result', result: 'early' });

    expectSettled(actor, 'resolved', { result: 'early', error: undefined });
    expect(settleCaller).toHaveBeenCalledOnce();
    expect(settleCaller).toHaveBeenCalledWith(expect.anything(), { status: 'resolved' });
  });

  it('request.written after an early response changes nothing', () => {
    const { actor, settleCaller } = startIn('sent');
    actor.send({ type: 'response.result', result: 'early' });
    vi.spyOn(console, 'warn').mockImplementation(() => {});

    actor.send({ type: 'request.written' });

    expect(actor.getSnapshot().value).toBe('resolved');
    expect(settleCaller).toHaveBeenCalledOnce();
  });

  it.each(['sent', 'awaiting'] as const)('fails with the remote error when response.error arrives in %s', (state) => {
    const { actor, settleCaller } = startIn(state);
    const remote = { code: -32601, message: 'Method not found' };

    actor.send({ type: 'response.error', error: remote });

    expectSettled(actor, 'failed', { result: undefined, error: remote });
    expect(settleCaller).toHaveBeenCalledOnce();
    expect(settleCaller).toHaveBeenCalledWith(expect.anything(), { status: 'failed' });
    expect(contextSeenBySettle(settleCaller)?.error).toBe(remote);
  });

  it('fails with the write error when the request cannot be written', () => {
    const { actor, log, settleCaller } = startIn('sent');
    const cause = new Error('socket hang up');

    actor.send({ type: 'request.writeFailed', error: cause });

    expectSettled(actor, 'failed', { result: undefined, error: cause });
    expect(settleCaller).toHaveBeenCalledWith(expect.anything(), { status: 'failed' });
    expect(log).toEqual(['writeRequest', 'settleCaller:failed']);
  });

  it.each(['queued', 'sent', 'awaiting'] as const)('connection.closed fails from every pending state (%s)', (state) => {
    const { actor, settleCaller, notifyPeerOfCancel } = startIn(state);
    const cause = new Error('connection closed');

    actor.send({ type: 'connection.closed', error: cause });

    expectSettled(actor, 'failed', { result: undefined, error: cause });
    expect(settleCaller).toHaveBeenCalledOnce();
    expect(settleCaller).toHaveBeenCalledWith(expect.anything(), { status: 'failed' });
    expect(notifyPeerOfCancel).not.toHaveBeenCalled();
  });

  it('ignores events once settled', () => {
    const { actor, settleCaller, notifyPeerOfCancel } = startIn('awaiting');
    actor.send({ type: 'response.result', result: 1 });
    vi.spyOn(console, 'warn').mockImplementation(() => {});

    actor.send({ type: 'call.cancel', reason: 'late' });
    actor.send({ type: 'response.error', error: 'late' });
    actor.send({ type: 'connection.closed', error: 'late' });

    expectSettled(actor, 'resolved', { result: 1, error: undefined });
    expect(settleCaller).toHaveBeenCalledOnce();
    expect(notifyPeerOfCancel).not.toHaveBeenCalled();
  });
});

describe('callMachine: cancelling', () => {
  it('cancel in awaiting notifies the peer; cancel in queued does not', () => {
    const awaiting = startIn('awaiting');
    awaiting.actor.send({ type: 'call.cancel', reason: 'aborted' });

    expect(awaiting.actor.getSnapshot().value).toBe('cancelled');
    expect(awaiting.notifyPeerOfCancel).toHaveBeenCalledOnce();
    expect(awaiting.log).toEqual(['writeRequest', 'notifyPeerOfCancel', 'settleCaller:cancelled']);

    const queued = startIn('queued');
    queued.actor.send({ type: 'call.cancel', reason: 'aborted' });

    expect(queued.actor.getSnapshot().value).toBe('cancelled');
    expect(queued.notifyPeerOfCancel).not.toHaveBeenCalled();
    expect(queued.writeRequest).not.toHaveBeenCalled();
    expect(queued.log).toEqual(['settleCaller:cancelled']);
  });

  it('cancel in sent notifies the peer, since the request may already be on the wire', () => {
    const { actor, log, notifyPeerOfCancel } = startIn('sent');

    actor.send({ type: 'call.cancel', reason: 'aborted' });

    expect(actor.getSnapshot().value).toBe('cancelled');
    expect(notifyPeerOfCancel).toHaveBeenCalledOnce();
    expect(log).toEqual(['writeRequest', 'notifyPeerOfCancel', 'settleCaller:cancelled']);
  });

  it.each(['queued', 'sent', 'awaiting'] as const)('cancelling records the reason as the error (%s)', (state) => {
    const { actor, settleCaller } = startIn(state);
    const reason = new Error('user aborted');

    actor.send({ type: 'call.cancel', reason });

    expectSettled(actor, 'cancelled', { result: undefined, error: reason });
    expect(settleCaller).toHaveBeenCalledOnce();
    expect(settleCaller).toHaveBeenCalledWith(expect.anything(), { status: 'cancelled' });
    expect(contextSeenBySettle(settleCaller)?.error).toBe(reason);
  });

  it('notifies the peer with the context of the call being cancelled', () => {
    const { actor, notifyPeerOfCancel } = startIn('awaiting');

    actor.send({ type: 'call.cancel' });

    const args = notifyPeerOfCancel.mock.calls[0] as unknown as [{ context: { id: string } }];
    expect(args[0].context.id).toBe('c1');
    expectSettled(actor, 'cancelled', { result: undefined, error: undefined });
  });
});

describe('callMachine: timeout', () => {
  it('times out from queued when the connection never opens', () => {
    const { actor, clock, writeRequest, settleCaller } = startCall();

    clock.increment(TIMEOUT - 1);
    expect(actor.getSnapshot().value).toEqual({ pending: 'queued' });
    expect(settleCaller).not.toHaveBeenCalled();

    clock.increment(1);
    expectSettled(actor, 'timedOut', { result: undefined, error: undefined });
    expect(settleCaller).toHaveBeenCalledOnce();
    expect(settleCaller).toHaveBeenCalledWith(expect.anything(), { status: 'timedOut' });
    expect(writeRequest).not.toHaveBeenCalled();
  });

  it.each(['sent', 'awaiting'] as const)('times out from %s when no response arrives, telling the peer to cancel', (state) => {
    const { actor, clock, log, notifyPeerOfCancel } = startIn(state);

    clock.increment(TIMEOUT - 1);
    expect(actor.getSnapshot().value).toEqual(valueOf(state));

    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('timedOut');
    expect(log).toEqual(['writeRequest', 'notifyPeerOfCancel', 'settleCaller:timedOut']);
    expect(notifyPeerOfCancel).toHaveBeenCalledOnce();
  });

  it('deadline runs across queued, sent and awaiting', () => {
    const { actor, clock, settleCaller } = startCall({ timeout: 500 });

    clock.increment(300);
    actor.send({ type: 'call.release' });
    clock.increment(100);
    actor.send({ type: 'request.written' });
    clock.increment(99);
    expect(actor.getSnapshot().value).toEqual({ pending: { inFlight: 'awaiting' } });

    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('timedOut');
    expect(settleCaller).toHaveBeenCalledOnce();
  });

  it('times out 500ms after creation when the connection opens at 300ms', () => {
    const { actor, clock } = startCall({ timeout: 500 });

    clock.increment(300);
    actor.send({ type: 'call.release' });
    clock.increment(200);

    expect(actor.getSnapshot().value).toBe('timedOut');
  });

  it('a response after timeout is ignored (stays timedOut)', () => {
    const { actor, clock, settleCaller } = startIn('awaiting');
    clock.increment(TIMEOUT);
    vi.spyOn(console, 'warn').mockImplementation(() => {});

    actor.send({ type: 'response.result', result: 'late' });

    expectSettled(actor, 'timedOut', { result: undefined, error: undefined });
    expect(actor.getSnapshot().context.result).toBeUndefined();
    expect(settleCaller).toHaveBeenCalledOnce();
  });

  it.each([
    ['resolved', { type: 'response.result', result: 1 }],
    ['failed', { type: 'response.error', error: 'boom' }],
    ['cancelled', { type: 'call.cancel', reason: 'stop' }],
  ] as const)('clears the timer when the call settles as %s', (status, event) => {
    const { actor, clock, settleCaller } = startIn('awaiting');
    clock.increment(TIMEOUT - 10);

    actor.send(event as CallEvent);
    clock.increment(TIMEOUT * 10);

    expect(actor.getSnapshot().value).toBe(status);
    expect(actor.getSnapshot().status).toBe('done');
    expect(settleCaller).toHaveBeenCalledOnce();
    expect(settleCaller).toHaveBeenCalledWith(expect.anything(), { status });
  });
});

describe('callMachine: connection lost (reconnecting)', () => {
  for (const state of ['sent', 'awaiting'] as const) {
    it(`a call in ${state} fails with the loss error unless marked retry`, () => {
      const { actor, log } = startIn(state);
      log.length = 0;
      const error = new Error('lost');
      actor.send({ type: 'connection.lost', error });
      expectSettled(actor, 'failed', { result: undefined, error });
      // The peer is gone with its socket: nobody to tell.
      expect(log).toEqual(['settleCaller:failed']);
    });

    it(`a retry call in ${state} waits in queued again and is written once more when released`, () => {
      const { actor, log } = startCall({ sendNow: true, retry: true });
      if (state === 'awaiting') actor.send({ type: 'request.written' });
      actor.send({ type: 'connection.lost', error: new Error('lost') });
      expect(actor.getSnapshot().value).toEqual({ pending: 'queued' });
      expect(actor.getSnapshot().context.sendNow).toBe(false);
      expect(log).toEqual(['writeRequest']);

      actor.send({ type: 'call.release' });
      actor.send({ type: 'request.written' });
      actor.send({ type: 'response.result', result: 3 });
      expectSettled(actor, 'resolved', { result: 3, error: undefined });
      expect(log).toEqual(['writeRequest', 'writeRequest', 'settleCaller:resolved']);
    });
  }

  it('a queued call ignores connection.lost: it was never written', () => {
    const { actor, log } = startIn('queued');
    actor.send({ type: 'connection.lost', error: new Error('lost') });
    expect(actor.getSnapshot().value).toEqual({ pending: 'queued' });
    expect(log).toEqual([]);
  });

  it('a retry call whose write failed waits in queued instead of failing', () => {
    const { actor } = startCall({ sendNow: true, retry: true });
    actor.send({ type: 'request.writeFailed', error: new Error('EPIPE') });
    expect(actor.getSnapshot().value).toEqual({ pending: 'queued' });
  });

  it('the deadline keeps running from creation across a loss: a requeued call times out without a cancel notice', () => {
    const { actor, clock, log } = startCall({ sendNow: true, retry: true });
    actor.send({ type: 'request.written' });
    clock.increment(300);
    actor.send({ type: 'connection.lost', error: new Error('lost') });
    clock.increment(199);
    expect(actor.getSnapshot().value).toEqual({ pending: 'queued' });
    clock.increment(1);
    expectSettled(actor, 'timedOut', { result: undefined, error: undefined });
    expect(log).toEqual(['writeRequest', 'settleCaller:timedOut']);
  });
});

describe('callMachine: inFlight (sent and awaiting share their transitions)', () => {
  it('writes the four shared transitions once, on inFlight, and none of them on sent or awaiting', () => {
    const inFlight = callMachine.root.states.pending!.states.inFlight!;
    const shared = ['connection.lost', 'response.result', 'response.error', 'call.cancel'];
    expect([...inFlight.transitions.keys()].sort()).toEqual([...shared].sort());
    expect([...inFlight.states.sent!.transitions.keys()].sort()).toEqual(['request.writeFailed', 'request.written']);
    expect([...inFlight.states.awaiting!.transitions.keys()]).toEqual([]);
  });

  const remote = { code: -32601, message: 'Method not found' };
  const lost = new Error('lost');
  const reason = new Error('user aborted');
  const shared = [
    ['response.result', { type: 'response.result', result: 3 }, 'resolved', { result: 3, error: undefined }, ['settleCaller:resolved']],
    ['response.error', { type: 'response.error', error: remote }, 'failed', { result: undefined, error: remote }, ['settleCaller:failed']],
    ['connection.lost', { type: 'connection.lost', error: lost }, 'failed', { result: undefined, error: lost }, ['settleCaller:failed']],
    [
      'call.cancel',
      { type: 'call.cancel', reason },
      'cancelled',
      { result: undefined, error: reason },
      ['notifyPeerOfCancel', 'settleCaller:cancelled'],
    ],
  ] as const;
  for (const state of ['sent', 'awaiting'] as const) {
    it.each(shared)(
      `%s from ${state}: settles as the parent's transition says, once, and clears the deadline`,
      (_, event, status, settled, actions) => {
        const { actor, clock, log, settleCaller } = startIn(state);
        log.length = 0;

        actor.send(event as CallEvent);
        clock.increment(TIMEOUT * 10);

        expectSettled(actor, status, settled);
        expect(log).toEqual(actions);
        expect(settleCaller).toHaveBeenCalledOnce();
      },
    );

    it(`connection.lost from ${state} with retry: back to queued (out of inFlight), written again only when released`, () => {
      const { actor, log } = startIn(state, { retry: true });
      log.length = 0;

      actor.send({ type: 'connection.lost', error: lost });

      expect(actor.getSnapshot().value).toEqual({ pending: 'queued' });
      expect(actor.getSnapshot().context.sendNow).toBe(false);
      expect(log).toEqual([]);
      actor.send({ type: 'call.release' });
      expect(actor.getSnapshot().value).toEqual({ pending: { inFlight: 'sent' } });
      expect(log).toEqual(['writeRequest']);
    });
  }

  it('moving from sent to awaiting inside inFlight neither writes again nor re-arms the deadline', () => {
    const { actor, clock, log } = startIn('sent');
    clock.increment(TIMEOUT - 1);

    actor.send({ type: 'request.written' });
    expect(actor.getSnapshot().value).toEqual({ pending: { inFlight: 'awaiting' } });
    clock.increment(1);

    expect(actor.getSnapshot().value).toBe('timedOut');
    expect(log).toEqual(['writeRequest', 'notifyPeerOfCancel', 'settleCaller:timedOut']);
  });
});

describe('callMachine: output of each final state', () => {
  it('resolved outputs { status: resolved, result }', () => {
    const { actor } = startIn('awaiting');
    actor.send({ type: 'response.result', result: 3 });
    expect(actor.getSnapshot().output).toEqual({ status: 'resolved', result: 3, error: undefined });
  });

  it('failed outputs { status: failed, error }', () => {
    const { actor } = startIn('awaiting');
    actor.send({ type: 'response.error', error: 'remote' });
    expect(actor.getSnapshot().output).toEqual({ status: 'failed', result: undefined, error: 'remote' });
  });

  it('timedOut outputs { status: timedOut }', () => {
    const { actor, clock } = startIn('awaiting');
    clock.increment(TIMEOUT);
    expect(actor.getSnapshot().output).toEqual({ status: 'timedOut', result: undefined, error: undefined });
  });

  it('cancelled outputs { status: cancelled, error: reason }', () => {
    const { actor } = startIn('awaiting');
    actor.send({ type: 'call.cancel', reason: 'stop' });
    expect(actor.getSnapshot().output).toEqual({ status: 'cancelled', result: undefined, error: 'stop' });
  });
});

describe('callMachine: graph', () => {
  /** Every state node's path below the root, e.g. `pending.queued`. */
  function allStatePaths(): Set<string> {
    const paths = new Set<string>();
    const visit = (node: { path: string[]; states: Record<string, unknown> }) => {
      for (const child of Object.values(node.states) as Array<typeof node>) {
        paths.add(child.path.join('.'));
        visit(child);
      }
    };
    visit(callMachine.root);
    return paths;
  }

  /** The state paths a state value stands for: `{ pending: { inFlight: 'sent' } }` → `pending`, `pending.inFlight`, `pending.inFlight.sent`. */
  function pathsOf(value: unknown, prefix: string[] = []): string[] {
    if (typeof value === 'string') return [[...prefix, value].join('.')];
    return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) => [
      [...prefix, key].join('.'),
      ...pathsOf(child, [...prefix, key]),
    ]);
  }

  it('every state node is reachable by the shortest paths from a closed connection', () => {
    const events = CALL_EVENTS;
    // Guard against a renamed delay or state: the delayed event must be the one the machine listens for.
    expect([...new Set(callMachine.root.states.pending?.after.map((t) => t.eventType))]).toEqual([CALL_TIMEOUT_EVENT]);

    const shortest = getShortestPaths(callMachine, {
      input: { id: 'c1', method: 'sum', timeout: TIMEOUT, sendNow: false },
      events,
    });

    const reached = new Set(shortest.flatMap((path) => pathsOf(path.state.value)));
    expect([...reached].sort()).toEqual([...allStatePaths()].sort());
    const timedOut = shortest.find((path) => path.state.value === 'timedOut');
    expect(timedOut?.steps.map((step) => step.event.type)).toEqual(['xstate.init', CALL_TIMEOUT_EVENT]);
  });
});
