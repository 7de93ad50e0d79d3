/**
 * The shared deadline timer's own cost (issue 11, defect 8): 80k calls over 8 s
 * of simulated time (10 a millisecond, about 10k in flight), half settled
 * before their deadline and half expiring, once with one timeout for every call
 * and once with every call's timeout different (a budget passed down from
 * upstream). A simulated clock moves time, so only the scheduler's CPU is
 * measured, not the waiting.
 *
 *   node --import tsx bench/deadlines.ts
 */
import { Deadlines, type DeadlineEntry, type TimeSource } from '../src/engine/deadlines.js';

const CALLS = 80_000;
const PER_MS = 10;

class Call implements DeadlineEntry {
  deadline = 0;
  deadlineMs = 0;
  deadlinePrev: DeadlineEntry | undefined = undefined;
  deadlineNext: DeadlineEntry | undefined = undefined;
  deadlineSlot = -1;
  expired = false;
  expire(): void {
    this.expired = true;
  }
}

/** A clock that holds the scheduler's one timer and fires it when the loop reaches it. */
function simulatedTime() {
  let now = 0;
  let timer: { at: number; callback: () => void } | undefined;
  const time: TimeSource = {
    now: () => now,
    setTimeout: (callback, ms) => (timer = { at: now + ms, callback }),
    clearTimeout: (handle) => {
      if (handle === timer) timer = undefined;
    },
  };
  return {
    time,
    advanceTo(t: number) {
      now = t;
      while (timer !== undefined && timer.at <= now) {
        const { callback } = timer;
        timer = undefined;
        callback();
      }
    },
  };
}

/** Runs the 80k calls; `timeoutOf(i)` is call i's timeout. Returns CPU ms. */
function run(timeoutOf: (i: number) => number, scheduler?: Deadlines): { cpuMs: number; expired: number } {
  const clock = simulatedTime();
  const deadlines = scheduler ?? new Deadlines(clock.time);
  const calls = Array.from({ length: CALLS }, () => new Call());
  // Every other call settles at a random point before its deadline.
  const settleAt: Call[][] = [];
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  const start = process.cpuUsage();
  let i = 0;
  for (let t = 0; i < CALLS || deadlines.size > 0; t++) {
    clock.advanceTo(t);
    for (const call of settleAt[t] ?? []) deadlines.remove(call);
    settleAt[t] = [];
    for (let k = 0; k < PER_MS && i < CALLS; k++, i++) {
      const call = calls[i]!;
      const ms = timeoutOf(i);
      deadlines.add(call, ms);
      if (i % 2 === 0) (settleAt[t + 1 + Math.floor(random() * (ms - 1))] ??= []).push(call);
    }
  }
  const cpu = process.cpuUsage(start);
  return { cpuMs: (cpu.user + cpu.system) / 1000, expired: calls.filter((c) => c.expired).length };
}

/** No scheduler at all: what the loop itself costs, to subtract. */
const loopOnly = { size: 0, add() {}, remove() {} } as unknown as Deadlines;

const cases: Array<[string, (i: number) => number, Deadlines?]> = [
  ['loop alone (no scheduler)', () => 1000, loopOnly],
  ['one timeout (1000 ms)', () => 1000],
  ['all distinct (500–1500 ms)', (i) => 500 + ((i * 7919) % CALLS) / (CALLS / 1000)],
];
for (const [name, timeoutOf, scheduler] of cases) {
  run(timeoutOf, scheduler); // warm up
  // The least of seven runs: the machine's noise only ever adds.
  const runs = Array.from({ length: 7 }, () => run(timeoutOf, scheduler));
  const cpuMs = Math.min(...runs.map((r) => r.cpuMs));
  console.log(`${name.padEnd(28)} ${cpuMs.toFixed(0).padStart(6)} ms CPU  (${runs[0]!.expired} expired of ${CALLS})`);
}
