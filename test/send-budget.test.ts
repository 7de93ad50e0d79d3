/** SendBudget on its own: a buffer read from a variable, time from a simulated clock. */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { SendBudget } from '../src/core/send-budget.js';

function budget() {
  const clock = new SimulatedClock();
  let amount = 0;
  const drops: string[] = [];
  const b = new SendBudget(
    { highWaterMark: 100, maxBufferedAmount: 400, drainTimeout: 1_000 },
    clock,
    () => amount,
    (why) => drops.push(why),
  );
  return { b, clock, drops, set: (n: number) => (amount = n) };
}

describe('SendBudget', () => {
  it('is full from highWaterMark on', () => {
    const { b, set } = budget();
    set(99);
    expect(b.full).toBe(false);
    set(100);
    expect(b.full).toBe(true);
  });

  it('never drops for one large frame written onto a buffer below the mark', () => {
    const { b, set, drops, clock } = budget();
    set(1_000);
    b.wrote(950);
    expect(drops).toEqual([]);
    set(0); // it drained
    clock.increment(1_000);
    expect(drops).toEqual([]);
  });

  it('drops at once when a frame written onto a full buffer takes it past maxBufferedAmount', () => {
    const { b, set, drops } = budget();
    set(401);
    b.wrote(10);
    expect(drops).toEqual(['401 bytes wait to be sent to a peer that is not reading (maxBufferedAmount 400)']);
  });

  it('watches on while the buffer shrinks, and drops when it stops shrinking for drainTimeout', () => {
    const { b, set, drops, clock } = budget();
    set(300);
    b.wrote(10);
    set(200); // read a little
    clock.increment(1_000);
    expect(drops).toEqual([]);
    clock.increment(1_000);
    expect(drops).toEqual(['the peer read nothing for 1000 ms while 200 bytes waited to be sent to it (drainTimeout)']);
  });

  it('watches on while bytes leave the buffer though it is no smaller (new frames filled it again), and drops once none do', () => {
    const clock = new SimulatedClock();
    let amount = 300;
    let sent = 0;
    const drops: string[] = [];
    const b = new SendBudget(
      { highWaterMark: 100, maxBufferedAmount: 400, drainTimeout: 1_000 },
      clock,
      () => amount,
      (why) => drops.push(why),
      () => sent,
    );
    b.wrote(10);
    sent = 200; // read 200 bytes,
    amount = 350; // and 250 more were written meanwhile
    clock.increment(1_000);
    expect(drops).toEqual([]);
    clock.increment(1_000);
    expect(drops).toEqual(['the peer read nothing for 1000 ms while 350 bytes waited to be sent to it (drainTimeout)']);
  });

  it('forgets the watch once the buffer is below the mark, and stop() ends it', () => {
    const { b, set, drops, clock } = budget();
    set(150);
    b.wrote(10);
    set(50);
    clock.increment(1_000);
    set(150);
    clock.increment(5_000);
    expect(drops).toEqual([]);
    b.wrote(10);
    b.stop();
    clock.increment(5_000);
    expect(drops).toEqual([]);
  });
});
