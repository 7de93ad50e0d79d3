import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, SimulatedClock } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  backoffDelay,
  connectionMachine,
  MIN_RECONNECT_DELAY,
  type ConnectionEvent,
  type ConnectionInput,
} from '../../machines/connection.machine.js';

/** Starts a connection actor with spies for every action the owner provides; `log` records their order. */
function startConnection(input: Partial<ConnectionInput> = {}) {
  const log: string[] = [];
  const spy = (name: string) =>
    vi.fn(() => {
      log.push(name);
    });
  const actions = {
    openTransport: vi.fn(),
    reportLoss: spy('reportLoss'),
    reportReconnecting: spy('reportReconnecting'),
    reportOpen: spy('reportOpen'),
    dispatchMessage: spy('dispatchMessage'),
    closeTransport: spy('closeTransport'),
    reportClosing: spy('reportClosing'),
    reportClosed: spy('reportClosed'),
  };
  const clock = new SimulatedClock();
  const actor = createActor(connectionMachine.provide({ actions }), {
    input: { url: 'ws://127.0.0.1:1234', ...input },
    clock,
  });
  actor.start();
  return { actor, log, clock, ...actions };
}

/** The `event` an action implementation was called with. */
function eventOf(spy: ReturnType<typeof vi.fn>, call = 0): unknown {
  const args = spy.mock.calls[call] as unknown as [{ event: unknown }] | undefined;
  return args?.[0].event;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('connectionMachine: opening', () => {
  it('starts in connecting and does nothing until the transport reports', () => {
    const { actor, log } = startConnection();

    expect(actor.getSnapshot().value).toEqual({ connecting: 'opening' });
    expect(actor.getSnapshot().context).toEqual({
      url: 'ws://127.0.0.1:1234',
      alreadyOpen: false,
      closedLocally: false,
      reconnect: undefined,
      epoch: 1,
      attempt: 0,
      retryDelay: 0,
    });
    expect(log).toEqual([]);
  });

  it('opens on transport.opened and flushes the queued calls once', () => {
    const { actor, log, reportOpen } = startConnection();

    actor.send({ type: 'transport.opened' });

    expect(actor.getSnapshot().value).toBe('open');
    expect(reportOpen).toHaveBeenCalledOnce();
    expect(log).toEqual(['reportOpen']);
  });

  it('starts open when the transport is already open (a server-side socket)', () => {
    const { actor, log } = startConnection({ alreadyOpen: true });

    expect(actor.getSnapshot().value).toBe('open');
    expect(actor.getSnapshot().context.alreadyOpen).toBe(true);
    expect(log).toEqual(['reportOpen']);
  });

  it('does not route a message that arrives before the transport opened', () => {
    const { actor, dispatchMessage } = startConnection();

    actor.send({ type: 'message.received', data: '{}' });

    expect(actor.getSnapshot().value).toEqual({ connecting: 'opening' });
    expect(dispatchMessage).not.toHaveBeenCalled();
  });
});

describe('connectionMachine: open', () => {
  it('message.received in open calls dispatchMessage with the data', () => {
    const { actor, dispatchMessage } = startConnection({ alreadyOpen: true });
    const data = '{"jsonrpc":"2.0","id":"c1","result":3}';

    actor.send({ type: 'message.received', data });
    actor.send({ type: 'message.received', data: 'second' });

    expect(actor.getSnapshot().value).toBe('open');
    expect(dispatchMessage).toHaveBeenCalledTimes(2);
    expect(eventOf(dispatchMessage, 0)).toEqual({ type: 'message.received', data });
    expect(eventOf(dispatchMessage, 1)).toEqual({ type: 'message.received', data: 'second' });
  });

  it('transport.error in open keeps the error and stays open', () => {
    const { actor, reportClosing } = startConnection({ alreadyOpen: true });
    const error = new Error('ECONNRESET');

    actor.send({ type: 'transport.error', error });

    expect(actor.getSnapshot().value).toBe('open');
    expect(actor.getSnapshot().context.error).toBe(error);
    expect(reportClosing).not.toHaveBeenCalled();
  });

  it('transport.opened in open does not flush again', () => {
    const { actor, reportOpen } = startConnection({ alreadyOpen: true });

    actor.send({ type: 'transport.opened' });

    expect(reportOpen).toHaveBeenCalledOnce();
  });
});

describe('connectionMachine: closing', () => {
  it('connecting → closed on transport.closed records code and reason, then fails calls and reports', () => {
    const { actor, log, reportOpen, closeTransport } = startConnection();

    actor.send({ type: 'transport.closed', code: 1006, reason: '' });

    const snapshot = actor.getSnapshot();
    expect(snapshot.value).toBe('closed');
    expect(snapshot.status).toBe('done');
    expect(snapshot.context).toMatchObject({ closeCode: 1006, closeReason: '', closedLocally: false });
    expect(log).toEqual(['reportClosing', 'reportClosed']);
    expect(reportOpen).not.toHaveBeenCalled();
    expect(closeTransport).not.toHaveBeenCalled();
  });

  it('transport.error keeps the error in context and the following transport.closed closes', () => {
    const { actor, log } = startConnection();
    const error = new Error('connect ECONNREFUSED 127.0.0.1:1234');

    actor.send({ type: 'transport.error', error });
    expect(actor.getSnapshot().value).toEqual({ connecting: 'opening' });
    expect(actor.getSnapshot().context.error).toBe(error);
    expect(log).toEqual([]);

    actor.send({ type: 'transport.closed', code: 1006, reason: '' });
    expect(actor.getSnapshot().value).toBe('closed');
    expect(actor.getSnapshot().context).toMatchObject({ error, closeCode: 1006, closeReason: '' });
    expect(log).toEqual(['reportClosing', 'reportClosed']);
  });

  it('the peer closing an open connection fails pending calls and reports, without closing the transport again', () => {
    const { actor, log } = startConnection({ alreadyOpen: true });

    actor.send({ type: 'transport.closed', code: 1001, reason: 'going away' });

    expect(actor.getSnapshot().value).toBe('closed');
    expect(actor.getSnapshot().context).toMatchObject({ closeCode: 1001, closeReason: 'going away', closedLocally: false });
    expect(log).toEqual(['reportOpen', 'reportClosing', 'reportClosed']);
  });

  it('open → closing on connection.close: fails pending calls, then closes the transport', () => {
    const { actor, log, closeTransport, reportClosed } = startConnection({ alreadyOpen: true });
    log.length = 0;

    actor.send({ type: 'connection.close', code: 1000, reason: 'bye' });

    expect(actor.getSnapshot().value).toBe('closing');
    expect(actor.getSnapshot().context.closedLocally).toBe(true);
    expect(log).toEqual(['reportClosing', 'closeTransport']);
    expect(eventOf(closeTransport)).toEqual({ type: 'connection.close', code: 1000, reason: 'bye' });
    expect(reportClosed).not.toHaveBeenCalled();
  });

  it('closing → closed on transport.closed reports the close', () => {
    const { actor, log } = startConnection({ alreadyOpen: true });
    actor.send({ type: 'connection.close' });
    log.length = 0;

    actor.send({ type: 'transport.closed', code: 1000, reason: 'bye' });

    expect(actor.getSnapshot().value).toBe('closed');
    expect(actor.getSnapshot().status).toBe('done');
    expect(actor.getSnapshot().context).toMatchObject({ closeCode: 1000, closeReason: 'bye', closedLocally: true });
    // `closed` fails pending calls on entry whatever the way in, so after a local close
    // reportClosing runs a second time: the owner's implementation must be idempotent.
    expect(log).toEqual(['reportClosing', 'reportClosed']);
  });

  it('connection.close while connecting closes the transport without flushing', () => {
    const { actor, log } = startConnection();

    actor.send({ type: 'connection.close' });

    expect(actor.getSnapshot().value).toBe('closing');
    expect(actor.getSnapshot().context.closedLocally).toBe(true);
    expect(log).toEqual(['reportClosing', 'closeTransport']);
  });

  it('routes messages that arrive during the close handshake', () => {
    const { actor, dispatchMessage } = startConnection({ alreadyOpen: true });
    actor.send({ type: 'connection.close' });

    actor.send({ type: 'message.received', data: 'late response' });

    expect(actor.getSnapshot().value).toBe('closing');
    expect(dispatchMessage).toHaveBeenCalledOnce();
    expect(eventOf(dispatchMessage)).toEqual({ type: 'message.received', data: 'late response' });
  });

  it('a second connection.close while closing does nothing', () => {
    const { actor, closeTransport, reportClosing } = startConnection({ alreadyOpen: true });
    actor.send({ type: 'connection.close' });

    actor.send({ type: 'connection.close' });

    expect(actor.getSnapshot().value).toBe('closing');
    expect(closeTransport).toHaveBeenCalledOnce();
    expect(reportClosing).toHaveBeenCalledOnce();
  });

  it('transport.error while closing is kept and the close still completes', () => {
    const { actor } = startConnection({ alreadyOpen: true });
    actor.send({ type: 'connection.close' });
    const error = new Error('write EPIPE');

    actor.send({ type: 'transport.error', error });
    expect(actor.getSnapshot().value).toBe('closing');
    expect(actor.getSnapshot().context.error).toBe(error);

    actor.send({ type: 'transport.closed', code: 1006, reason: '' });
    expect(actor.getSnapshot().value).toBe('closed');
    expect(actor.getSnapshot().context.error).toBe(error);
  });

  it('events in closed are ignored', () => {
    const { actor, log } = startConnection({ alreadyOpen: true });
    actor.send({ type: 'transport.closed', code: 1000, reason: 'done' });
    const closed = actor.getSnapshot();
    log.length = 0;
    vi.spyOn(console, 'warn').mockImplementation(() => {});

    const events: ConnectionEvent[] = [
      { type: 'transport.opened' },
      { type: 'message.received', data: 'x' },
      { type: 'transport.error', error: new Error('late') },
      { type: 'connection.close' },
      { type: 'transport.closed', code: 1006, reason: 'again' },
    ];
    for (const event of events) actor.send(event);

    expect(actor.getSnapshot().value).toBe('closed');
    expect(actor.getSnapshot().context).toEqual(closed.context);
    expect(log).toEqual([]);
  });
});

describe('connectionMachine: graph', () => {
  it('every state node is reachable by the shortest paths', () => {
    const events: ConnectionEvent[] = [
      { type: 'transport.opened' },
      { type: 'transport.closed', code: 1000, reason: '' },
      { type: 'transport.error', error: 'boom' },
      { type: 'message.received', data: '{}' },
      { type: 'connection.close' },
    ];

    const shortest = getShortestPaths(connectionMachine, { input: { url: 'ws://x' }, events });

    const topLevel = (value: unknown) => (typeof value === 'string' ? value : Object.keys(value as object)[0]);
    const reached = new Set(shortest.map((path) => topLevel(path.state.value)));
    const all = Object.keys(connectionMachine.root.states);
    expect(all).toEqual(['connecting', 'open', 'closing', 'closed']);
    expect([...reached].sort()).toEqual([...all].sort());
    // Without a reconnect policy, waiting to reconnect is unreachable; with one, it is reached.
    expect(
      shortest.some((path) => topLevel(path.state.value) === 'connecting' && JSON.stringify(path.state.value).includes('waiting')),
    ).toBe(false);
    const withReconnect = getShortestPaths(connectionMachine, { input: { url: 'ws://x', reconnect: POLICY }, events });
    expect(withReconnect.some((path) => JSON.stringify(path.state.value) === '{"connecting":"waiting"}')).toBe(true);
    const closing = shortest.find((path) => path.state.value === 'closing' && !path.state.context.error);
    expect(closing?.steps.map((step) => step.event.type)).toEqual(['xstate.init', 'connection.close']);
  });
});

const POLICY = { initialDelay: 100, maxDelay: 1_000, factor: 2, jitter: 0, maxAttempts: 3, minUptime: 1_000 };

describe('connectionMachine: reconnecting', () => {
  it('backoffDelay doubles from initialDelay up to maxDelay, and jitter takes off up to its fraction', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(POLICY, attempt, 0.9))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    const jittered = { ...POLICY, jitter: 0.5 };
    expect(backoffDelay(jittered, 3, 0)).toBe(400);
    expect(backoffDelay(jittered, 3, 0.5)).toBe(300);
    expect(backoffDelay(jittered, 3, 0.999)).toBe(200);
  });

  it('backoffDelay never draws less than MIN_RECONNECT_DELAY, even when jitter 1 takes off nearly all of a delay', () => {
    const full = { ...POLICY, initialDelay: MIN_RECONNECT_DELAY, jitter: 1 };
    expect(backoffDelay(full, 1, 0.999)).toBe(MIN_RECONNECT_DELAY);
    expect(backoffDelay(full, 4, 0.999)).toBe(MIN_RECONNECT_DELAY);
    expect(backoffDelay(full, 4, 0.5)).toBe(40);
  });

  it('a lost open connection suspends its calls and waits out the backoff, then opens a new epoch', () => {
    const { actor, log, openTransport, clock } = startConnection({ reconnect: POLICY });
    actor.send({ type: 'transport.opened' });
    expect(actor.getSnapshot().context).toMatchObject({ epoch: 1, attempt: 0 });
    log.length = 0;

    actor.send({ type: 'transport.closed', code: 1006, reason: '' });
    expect(actor.getSnapshot().value).toEqual({ connecting: 'waiting' });
    expect(actor.getSnapshot().context).toMatchObject({ attempt: 1, retryDelay: 100, closeCode: 1006 });
    expect(log).toEqual(['reportLoss', 'reportReconnecting']);

    clock.increment(99);
    expect(actor.getSnapshot().value).toEqual({ connecting: 'waiting' });
    expect(openTransport).toHaveBeenCalledTimes(1);
    clock.increment(1);
    expect(actor.getSnapshot().value).toEqual({ connecting: 'opening' });
    expect(actor.getSnapshot().context.epoch).toBe(2);
    expect(openTransport).toHaveBeenCalledTimes(2);

    actor.send({ type: 'transport.opened' });
    expect(actor.getSnapshot().value).toBe('open');
    expect(log).toEqual(['reportLoss', 'reportReconnecting', 'reportOpen']);
    // Lost after staying open minUptime (the owner says how long it was open): the failed attempts start over.
    actor.send({ type: 'transport.closed', code: 1006, reason: '', uptime: POLICY.minUptime });
    expect(actor.getSnapshot().context).toMatchObject({ attempt: 1, retryDelay: 100 });
  });

  it('counts a connection lost within minUptime as a failed attempt: the delays grow and maxAttempts closes it', () => {
    const { actor, log, clock } = startConnection({ reconnect: POLICY });
    const delays: number[] = [];
    for (let opened = 1; opened <= POLICY.maxAttempts; opened++) {
      actor.send({ type: 'transport.opened' });
      actor.send({ type: 'transport.closed', code: 1006, reason: '', uptime: POLICY.minUptime - 1 });
      const { retryDelay } = actor.getSnapshot().context;
      delays.push(retryDelay);
      clock.increment(retryDelay);
    }
    expect(delays).toEqual([100, 200, 400]);
    actor.send({ type: 'transport.opened' });
    actor.send({ type: 'transport.closed', code: 1006, reason: '', uptime: POLICY.minUptime - 1 });
    expect(actor.getSnapshot().value).toBe('closed');
    expect(log.filter((action) => action === 'reportReconnecting')).toHaveLength(3);
  });

  it('failed attempts back off exponentially and give up after maxAttempts, failing what is pending', () => {
    const { actor, log, openTransport, clock } = startConnection({ reconnect: POLICY });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      actor.send({ type: 'transport.closed', code: 1006, reason: '' });
      expect(actor.getSnapshot().value).toEqual({ connecting: 'waiting' });
      const { retryDelay } = actor.getSnapshot().context;
      delays.push(retryDelay);
      clock.increment(retryDelay);
    }
    expect(delays).toEqual([100, 200, 400]);
    expect(openTransport).toHaveBeenCalledTimes(4);
    actor.send({ type: 'transport.closed', code: 1006, reason: '' });
    expect(actor.getSnapshot().value).toBe('closed');
    expect(actor.getSnapshot().context.attempt).toBe(3);
    expect(log.filter((name) => name !== 'reportReconnecting')).toEqual(['reportClosing', 'reportClosed']);
    expect(log.filter((name) => name === 'reportReconnecting')).toHaveLength(3);
  });

  it('close while waiting closes at once: no transport to close, no further attempt', () => {
    const { actor, log, openTransport, closeTransport, clock } = startConnection({ reconnect: POLICY });
    actor.send({ type: 'transport.opened' });
    actor.send({ type: 'transport.closed', code: 1006, reason: '' });
    log.length = 0;

    actor.send({ type: 'connection.close' });
    expect(actor.getSnapshot().value).toBe('closed');
    expect(actor.getSnapshot().context.closedLocally).toBe(true);
    expect(log).toEqual(['reportClosing', 'reportClosed']);
    clock.increment(10_000);
    expect(openTransport).toHaveBeenCalledTimes(1);
    expect(closeTransport).not.toHaveBeenCalled();
  });

  it('a local close is never followed by a reconnect', () => {
    const { actor, openTransport, clock } = startConnection({ reconnect: POLICY, alreadyOpen: false });
    actor.send({ type: 'transport.opened' });
    actor.send({ type: 'connection.close' });
    actor.send({ type: 'transport.closed', code: 1000, reason: '' });
    clock.increment(10_000);
    expect(actor.getSnapshot().value).toBe('closed');
    expect(openTransport).toHaveBeenCalledTimes(1);
  });
});
