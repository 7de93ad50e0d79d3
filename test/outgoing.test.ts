/**
 * OutgoingCalls on its own (no socket): how a no-responders status from a
 * broker is matched, as a response would be, against pending and settled calls.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { NoRespondersError, TimeoutError } from '../src/errors.js';
import { OutgoingCalls } from '../src/outgoing.js';
import { settle } from './helpers.js';

function calls(clock = new SimulatedClock()) {
  const written: string[] = [];
  const outgoing = new OutgoingCalls({
    write: (frame, done) => (written.push(frame), done?.()),
    inspect: undefined,
    clock,
    settledMemory: 100,
    engine: 'light',
    maxInFlight: Infinity,
    maxQueued: 100,
    highWaterMark: 1024,
    bufferedAmount: () => 0,
    url: 'ws://test',
  });
  outgoing.open();
  const start = (id: string) => outgoing.start({ id, method: 'sum', timeout: 100 }, `{"id":"${id}"}`, undefined);
  return { outgoing, start, clock, written };
}

describe('OutgoingCalls.failNoResponders', () => {
  it('fails a pending call at once with NoRespondersError', async () => {
    const { outgoing, start } = calls();
    const call = settle(start('a'));
    expect(outgoing.failNoResponders('a', 'math.v1')).toBeUndefined();
    const { error } = await call;
    expect(error).toBeInstanceOf(NoRespondersError);
    expect([error.code, error.method, error.subject]).toEqual(['ERR_NO_RESPONDERS', 'sum', 'math.v1']);
    expect(outgoing.size).toBe(0);
  });

  it('reports a status for a settled call as a response would be: late after a timeout, duplicate after an answer', async () => {
    const { outgoing, start, clock } = calls();
    const answered = start('answered');
    expect(outgoing.route('answered', { result: 1 })).toBeUndefined();
    expect(await answered).toBe(1);
    const timedOut = settle(start('timedOut'));
    clock.increment(100);
    expect((await timedOut).error).toBeInstanceOf(TimeoutError);

    expect(outgoing.failNoResponders('answered', 's')).toBe('duplicate');
    expect(outgoing.failNoResponders('timedOut', 's')).toBe('late');
    expect(outgoing.failNoResponders('never-made', 's')).toBe('unknown');
    expect(outgoing.route('answered', { result: 2 })).toBe('duplicate');
    expect(outgoing.route('timedOut', { result: 2 })).toBe('late');
  });
});
