import { describe, expect, it } from 'vitest';
import { ClockTimers, Deadlines, type DeadlineEntry, type TimeSource } from '../../src/engine/deadlines.js';
import { Fifo } from '../../src/engine/fifo.js';

/** A clock the test moves by hand, counting the timers it holds. */
function manualTime() {
  let now = 0;
  let nextId = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  const time: TimeSource = {
    now: () => now,
    setTimeout: (callback, ms) => {
      timers.set(nextId, { at: now + ms, callback });
      return nextId++;
    },
    clearTimeout: (id) => void timers.delete(id as number),
  };
  return {
    time,
    timers,
    /** Moves time forward, firing due timers in order. */
    advance(ms: number) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = Math.max(now, due[1].at);
        due[1].callback();
      }
      now = end;
    },
    /** Fires every timer now, whatever it is due (a clock that runs early). */
    fireEarly() {
      for (const [id, t] of [...timers]) {
        timers.delete(id);
        t.callback();
      }
    },
  };
}

function entry(name: string, expired: string[]): DeadlineEntry {
  return {
    deadline: 0,
    deadlinePrev: undefined,
    deadlineNext: undefined,
    deadlineQueue: undefined,
    expire: () => expired.push(name),
  };
}

describe('Deadlines: many deadlines on one timer', () => {
  it('expires entries in deadline order across durations, holding one timer at a time', () => {
    const clock = manualTime();
    const deadlines = new Deadlines(clock.time);
    const expired: string[] = [];
    deadlines.add(entry('a@100', expired), 100);
    deadlines.add(entry('b@30', expired), 30);
    clock.advance(10);
    deadlines.add(entry('c@110', expired), 100);
    deadlines.add(entry('d@40', expired), 30);
    expect(clock.timers.size).toBe(1);
    expect(deadlines.size).toBe(4);

    clock.advance(19);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(['b@30']);
    clock.advance(10);
    expect(expired).toEqual(['b@30', 'd@40']);
    clock.advance(70);
    expect(expired).toEqual(['b@30', 'd@40', 'a@100', 'c@110']);
    expect(deadlines.size).toBe(0);
    expect(clock.timers.size).toBe(0);
    expect(deadlines.armed).toBe(false);
  });

  it('forgets removed entries (head, middle, tail) and disarms when none is left', () => {
    const clock = manualTime();
    const deadlines = new Deadlines(clock.time);
    const expired: string[] = [];
    const entries = ['a', 'b', 'c', 'd'].map((n) => entry(n, expired));
    for (const e of entries) deadlines.add(e, 50);
    deadlines.remove(entries[1]!);
    deadlines.remove(entries[0]!);
    deadlines.remove(entries[3]!);
    deadlines.remove(entries[3]!); // twice is harmless
    clock.advance(50);
    expect(expired).toEqual(['c']);
    deadlines.add(entries[0]!, 10);
    deadlines.remove(entries[0]!);
    expect(deadlines.size).toBe(0);
    expect(clock.timers.size).toBe(0);
  });

  it('never expires an entry early: a timer that fires before the deadline is armed again', () => {
    const clock = manualTime();
    const deadlines = new Deadlines(clock.time);
    const expired: string[] = [];
    deadlines.add(entry('a', expired), 100);
    clock.fireEarly();
    expect(expired).toEqual([]);
    expect(clock.timers.size).toBe(1);
    clock.advance(100);
    expect(expired).toEqual(['a']);
  });

  it('lets the other entries expire when one throws, and rethrows outside', async () => {
    const clock = manualTime();
    const deadlines = new Deadlines(clock.time);
    const expired: string[] = [];
    const thrown: unknown[] = [];
    const listener = (error: unknown) => thrown.push(error);
    process.prependListener('uncaughtException', listener);
    try {
      deadlines.add({ ...entry('bad', expired), expire: () => { throw new Error('bad entry'); } }, 10);
      deadlines.add(entry('good', expired), 10);
      clock.advance(10);
      expect(expired).toEqual(['good']);
      await new Promise((resolve) => setTimeout(resolve, 0));
    } finally {
      process.removeListener('uncaughtException', listener);
    }
    expect(thrown).toEqual([new Error('bad entry')]);
  });

  it('accepts entries added while others expire', () => {
    const clock = manualTime();
    const deadlines = new Deadlines(clock.time);
    const expired: string[] = [];
    const later = entry('later', expired);
    deadlines.add({ ...entry('first', expired), expire: () => (expired.push('first'), deadlines.add(later, 5)) }, 10);
    clock.advance(10);
    expect(expired).toEqual(['first']);
    clock.advance(5);
    expect(expired).toEqual(['first', 'later']);
    expect(deadlines.size).toBe(0);
  });
});

describe('ClockTimers: a clock without now()', () => {
  it('gives each entry its own clock timer and clears it on remove', () => {
    const clock = manualTime();
    const timers = new ClockTimers(clock.time);
    const expired: string[] = [];
    const a = entry('a', expired);
    timers.add(a, 10);
    timers.add(entry('b', expired), 20);
    timers.remove(a);
    clock.advance(20);
    expect(expired).toEqual(['b']);
    expect(timers.size).toBe(0);
    expect(clock.timers.size).toBe(0);
  });
});

describe('Fifo', () => {
  it('keeps order across many pushes and shifts, compacting as it goes', () => {
    const fifo = new Fifo<number>();
    const out: number[] = [];
    for (let i = 0; i < 5000; i++) {
      fifo.push(i);
      if (i % 3 === 0) out.push(fifo.shift()!);
    }
    while (fifo.size > 0) out.push(fifo.shift()!);
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(fifo.shift()).toBeUndefined();
  });
});
