import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClockTimers, Deadlines, type DeadlineEntry, type TimeSource } from '../../src/engine/deadlines.js';
import { Fifo } from '../../src/core/fifo.js';

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
  function fireUntil(end: number, late: boolean) {
    if (late) now = end;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = Math.max(now, due[1].at);
      due[1].callback();
    }
    now = end;
  }
  return {
    time,
    timers,
    /** Moves time forward, firing due timers in order, each when it is due. */
    advance(ms: number) {
      fireUntil(now + ms, false);
    },
    /** Moves time forward first, then fires the timers due by then (a clock that runs late). */
    advanceLate(ms: number) {
      fireUntil(now + ms, true);
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

/** The scheduler's fields as a new entry has them. */
function entry0(): Omit<DeadlineEntry, 'expire'> {
  return { deadline: 0, deadlineMs: 0, deadlinePrev: undefined, deadlineNext: undefined, deadlineSlot: -1 };
}

function entry(name: string, expired: string[]): DeadlineEntry {
  return { ...entry0(), expire: () => expired.push(name) };
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

  it("with one call at a time, keeps its timer unref'd between calls instead of arming one per call (issue 16)", () => {
    const clock = manualTime();
    let armings = 0;
    const refs = new Map<unknown, boolean>();
    const time: TimeSource = {
      ...clock.time,
      setTimeout: (callback, ms) => {
        armings++;
        const id = clock.time.setTimeout(callback, ms);
        refs.set(id, true);
        return id;
      },
      ref: (id) => void refs.set(id, true),
      unref: (id) => void refs.set(id, false),
    };
    const deadlines = new Deadlines(time);
    const expired: string[] = [];
    for (let i = 0; i < 100; i++) {
      const e = entry(`call ${i}`, expired);
      deadlines.add(e, 1_000);
      expect(deadlines.armed).toBe(true);
      expect([...refs.entries()].filter(([id, held]) => held && clock.timers.has(id as number))).toHaveLength(1);
      clock.advance(1);
      deadlines.remove(e); // answered after 1 ms
      expect(deadlines.armed).toBe(false);
      // The timer is kept but holds nothing open.
      expect(clock.timers.size).toBe(1);
      expect([...refs.entries()].filter(([id, held]) => held && clock.timers.has(id as number))).toHaveLength(0);
    }
    expect(armings).toBe(1);

    // The kept timer fires at the first call's deadline, finds nothing due, and is re-armed for what waits then.
    const late = entry('late', expired);
    deadlines.add(late, 1_000); // due at 1,100
    clock.advance(900); // t = 1,000: the kept timer fires
    expect(expired).toEqual([]);
    expect(deadlines.armed).toBe(true);
    clock.advance(99);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(['late']);
    // A shorter deadline than the kept timer's is armed for at once.
    const short = entry('short', expired);
    deadlines.add(short, 1_000);
    deadlines.remove(short);
    deadlines.add(entry('sooner', expired), 10);
    clock.advance(10);
    expect(expired).toEqual(['late', 'sooner']);
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
      deadlines.add(
        {
          ...entry('bad', expired),
          expire: () => {
            throw new Error('bad entry');
          },
        },
        10,
      );
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

/**
 * An entry that counts how often the scheduler reads its deadline: the entries
 * a scheduler examines, whatever its structure, without timing anything.
 */
function countedEntry(name: string, expired: string[], reads: { count: number }): DeadlineEntry {
  let deadline = 0;
  return {
    get deadline() {
      reads.count++;
      return deadline;
    },
    set deadline(value: number) {
      deadline = value;
    },
    deadlineMs: 0,
    deadlinePrev: undefined,
    deadlineNext: undefined,
    deadlineSlot: -1,
    expire: () => expired.push(name),
  };
}

describe('Deadlines: chains that empty', () => {
  /** The keys `Deadlines` keeps of each duration's chain (a private field, read to check that it stays bounded). */
  const tailKeys = (deadlines: Deadlines) => (deadlines as unknown as { tails: Map<number, unknown> }).tails.size;

  it('keeps the key of a chain that empties (no Map table remade per call), and a new head on it still expires on time', () => {
    const clock = manualTime();
    const deadlines = new Deadlines(clock.time);
    const expired: string[] = [];
    for (let i = 0; i < 100; i++) {
      const e = entry(`e${i}`, expired);
      deadlines.add(e, 500);
      deadlines.remove(e);
    }
    expect(tailKeys(deadlines)).toBe(1);
    deadlines.add(entry('late', expired), 500);
    deadlines.add(entry('later', expired), 500);
    clock.advance(499);
    expect(expired).toEqual([]);
    clock.advance(1);
    expect(expired).toEqual(['late', 'later']);
    expect(deadlines.size).toBe(0);
  });

  it('sweeps the keys of empty chains once more than 64 pile up (timeouts that all differ)', () => {
    const clock = manualTime();
    const deadlines = new Deadlines(clock.time);
    const expired: string[] = [];
    let most = 0;
    for (let i = 0; i < 1000; i++) {
      const e = entry(`e${i}`, expired);
      deadlines.add(e, 1000 + i);
      deadlines.remove(e);
      most = Math.max(most, tailKeys(deadlines));
    }
    expect(most).toBeLessThanOrEqual(65);
    // Expiry is unchanged: two live chains among swept and kept keys.
    deadlines.add(entry('a', expired), 1010);
    deadlines.add(entry('b', expired), 1005);
    clock.advance(1010);
    expect(expired).toEqual(['b', 'a']);
  });
});

describe('Deadlines: cost with many distinct durations', () => {
  it('examines O(log n) entries to add, remove or expire one of n deadlines with distinct durations', () => {
    const n = 1024;
    const bound = 4 * Math.log2(n);
    const clock = manualTime();
    const deadlines = new Deadlines(clock.time);
    const expired: string[] = [];
    const reads = { count: 0 };
    // Added out of deadline order, so the structure is not a sorted list by luck.
    const order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    const entries = order.map((i) => countedEntry(`e${i}`, expired, reads));
    let most = 0;
    order.forEach((i, k) => {
      reads.count = 0;
      deadlines.add(entries[k]!, 1000 + i);
      most = Math.max(most, reads.count);
    });
    expect(most).toBeLessThanOrEqual(bound);

    reads.count = 0;
    deadlines.remove(entries[order.indexOf(n / 2)]!);
    expect(reads.count).toBeLessThanOrEqual(bound);

    // One millisecond at a time: each firing expires exactly one entry.
    most = 0;
    for (let t = 0; t < 1000 + n; t++) {
      reads.count = 0;
      clock.advance(1);
      most = Math.max(most, reads.count);
    }
    expect(expired).toHaveLength(n - 1);
    expect(most).toBeLessThanOrEqual(bound);
  });

  it('expires exactly the due entries, in deadline order, never early, each once (random adds, removes and clock moves)', () => {
    // Mostly distinct durations (quarter milliseconds too), some shared so chains form.
    const duration = fc.oneof(
      fc.integer({ min: 1, max: 12_000 }).map((q) => q / 4),
      fc.constantFrom(50, 100, 1000),
    );
    const command = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('add' as const),
          ms: duration,
          onExpire: fc.option(fc.record({ ms: duration, remove: fc.nat() })),
        }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
      // A late clock fires its timer after `ms` has passed, not when due: several entries are due at once.
      {
        weight: 2,
        arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }), late: fc.boolean() }),
      },
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 150 }), (commands) => {
        const clock = manualTime();
        const deadlines = new Deadlines(clock.time);
        /** Entries waiting, by name, with the deadline they were given. */
        const pending = new Map<string, { entry: DeadlineEntry; deadline: number }>();
        const log: Array<{ name: string; deadline: number; at: number }> = [];
        let names = 0;
        const add = (ms: number, onExpire: { ms: number; remove: number } | null) => {
          const name = `e${names++}`;
          const entry: DeadlineEntry = {
            ...entry0(),
            expire: () => {
              const waiting = pending.get(name);
              // Each once, and never once removed.
              expect(waiting).toBeDefined();
              pending.delete(name);
              log.push({ name, deadline: waiting!.deadline, at: clock.time.now() });
              if (onExpire !== null) {
                // An expiring entry adds one and removes another that is not yet due.
                const notDue = [...pending.keys()].filter((key) => pending.get(key)!.deadline > clock.time.now());
                if (notDue.length > 0) removeNamed(notDue[onExpire.remove % notDue.length]!);
                add(onExpire.ms, null);
              }
            },
          };
          pending.set(name, { entry, deadline: clock.time.now() + ms });
          deadlines.add(entry, ms);
        };
        const removeNamed = (name: string) => {
          deadlines.remove(pending.get(name)!.entry);
          pending.delete(name);
        };
        for (const step of commands) {
          if (step.kind === 'add') add(step.ms, step.onExpire);
          else if (step.kind === 'remove') {
            const waiting = [...pending.keys()];
            if (waiting.length > 0) removeNamed(waiting[step.pick % waiting.length]!);
          } else if (step.late) clock.advanceLate(step.ms);
          else clock.advance(step.ms);
          if (step.kind === 'advance') {
            // Every due entry has expired.
            for (const waiting of pending.values()) expect(waiting.deadline).toBeGreaterThan(clock.time.now());
          }
          expect(deadlines.size).toBe(pending.size);
          expect(deadlines.armed).toBe(pending.size > 0);
          expect(clock.timers.size).toBe(pending.size > 0 ? 1 : 0);
        }
        log.forEach((expiry, i) => {
          // Never early, and in deadline order.
          expect(expiry.at).toBeGreaterThanOrEqual(expiry.deadline);
          if (i > 0) expect(expiry.deadline).toBeGreaterThanOrEqual(log[i - 1]!.deadline);
        });
      }),
      { numRuns: 200 },
    );
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
