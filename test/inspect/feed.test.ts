import { createActor, createMachine, fromPromise, SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';
import { callMachine, connectionMachine, incomingCallMachine } from '../../src/index.js';
import { inspectionFeed, leafState } from '../../src/tools/inspect/feed.js';
import type { PageEvent } from '../../src/tools/inspect/model.js';

function feed() {
  const events: PageEvent[] = [];
  return {
    events,
    inspect: inspectionFeed(
      (e) => events.push(e),
      () => 7,
    ),
  };
}

describe('inspectionFeed', () => {
  it('emits each state a call enters, once, with its method and id, and marks the final one done', () => {
    const { events, inspect } = feed();
    const call = createActor(callMachine, { input: { id: 'c1', method: 'echo', timeout: 1_000, sendNow: false }, inspect });
    call.start();
    call.send({ type: 'call.release' });
    call.send({ type: 'request.written' });
    call.send({ type: 'request.written' }); // ignored by the machine: same state, nothing emitted
    call.send({ type: 'response.result', result: 1 });
    const sid = call.sessionId;
    expect(events).toEqual(
      (['queued', 'sent', 'awaiting', 'resolved'] as const).map((state, i) => ({
        k: 'call',
        side: 'client',
        sid,
        method: 'echo',
        id: 'c1',
        state,
        cause: ['xstate.init', 'call.release', 'request.written', 'response.result'][i],
        done: state === 'resolved',
        at: 7,
      })),
    );
  });

  it('sees a timeout from the simulated clock, and puts incoming calls on the server side', () => {
    const { events, inspect } = feed();
    const clock = new SimulatedClock();
    const call = createActor(callMachine, { input: { id: 'c2', method: 'slow', timeout: 100, sendNow: true }, inspect, clock });
    call.start();
    call.send({ type: 'request.written' });
    clock.increment(100);
    expect(events.map((e) => e.k === 'call' && [e.state, e.done, e.side, e.cause])).toEqual([
      ['sent', false, 'client', 'xstate.init'],
      ['awaiting', false, 'client', 'request.written'],
      ['timedOut', true, 'client', 'xstate.after.callTimeout.call.pending'],
    ]);
    const pending = incomingCallMachine.provide({ actors: { handler: fromPromise(() => new Promise<unknown>(() => {})) } });
    const incoming = createActor(pending, { input: { id: 'i1', method: 'work' }, inspect });
    incoming.start();
    expect(events.at(-1)).toMatchObject({ k: 'call', side: 'server', method: 'work', id: 'i1' });
  });

  it('reports connection states and ignores actors of other machines', () => {
    const { events, inspect } = feed();
    createActor(createMachine({ id: 'other', initial: 'a', states: { a: {} } }), { inspect }).start();
    const connection = createActor(connectionMachine, { input: { url: 'ws://x' }, inspect });
    connection.start();
    connection.send({ type: 'transport.opened' });
    connection.send({ type: 'transport.closed', code: 1006, reason: '' });
    const sid = connection.sessionId;
    expect(events).toEqual(
      ['connecting', 'open', 'closed'].map((state) => ({ k: 'connection', side: 'client', sid, state, done: state === 'closed', at: 7 })),
    );
    // A connection the server accepted starts already open: the server's.
    const accepted = createActor(connectionMachine, { input: { url: 'ws://x', alreadyOpen: true }, inspect });
    accepted.start();
    expect(events.at(-1)).toMatchObject({ k: 'connection', side: 'server', sid: accepted.sessionId, state: 'open' });
  });

  it('shows a connection waiting to reconnect as reconnecting, and opening again as connecting', () => {
    const { events, inspect } = feed();
    const policy = { initialDelay: 10, maxDelay: 10, factor: 2, jitter: 0, maxAttempts: 3, minUptime: 0 };
    const clock = new SimulatedClock();
    const connection = createActor(connectionMachine, { input: { url: 'ws://x', reconnect: policy }, inspect, clock });
    connection.start();
    connection.send({ type: 'transport.opened' });
    connection.send({ type: 'transport.closed', code: 1006, reason: '' });
    clock.increment(10);
    connection.send({ type: 'transport.opened' });
    expect(events.map((e) => e.k === 'connection' && e.state)).toEqual(['connecting', 'open', 'reconnecting', 'connecting', 'open']);
  });

  it('names the innermost state of a nested value', () => {
    expect(leafState({ pending: 'queued' })).toBe('queued');
    expect(leafState({ a: { b: 'c' } })).toBe('c');
    expect(leafState('open')).toBe('open');
  });
});
