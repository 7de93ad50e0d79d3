/**
 * Deadlines of many actors on one timer.
 *
 * A `setTimeout` per call costs about 0.43 KB of heap and a timer-list insert
 * and removal; with thousands of calls in flight that is most of a call's cost.
 * Here every deadline lives in a FIFO per duration: calls made with the same
 * timeout expire in the order they were made, so each FIFO is sorted by
 * deadline for free, adding is O(1) at the tail and removing is O(1) anywhere
 * (a doubly linked list threaded through the entries themselves, so no node is
 * allocated). One timer is armed for the earliest head among the FIFOs.
 *
 *   queue(10000): [a]⇄[b]⇄[c]        timer ──▶ min(head deadlines)
 *   queue(500):   [d]⇄[e]
 *
 * Timers never fire early: when the timer runs before the earliest deadline
 * (a clock that fires on its own schedule), it is armed again for the rest.
 */

/** What the scheduler needs from a clock. XState's `SimulatedClock` has all of it. */
export interface TimeSource {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The fields an entry carries for the scheduler (kept on the entry to allocate nothing). */
export interface DeadlineEntry {
  deadline: number;
  deadlinePrev: DeadlineEntry | undefined;
  deadlineNext: DeadlineEntry | undefined;
  deadlineQueue: DeadlineFifo | undefined;
  /** Called once when the deadline passes (the entry has already been removed). */
  expire(): void;
}

interface DeadlineFifo {
  readonly ms: number;
  head: DeadlineEntry | undefined;
  tail: DeadlineEntry | undefined;
}

export const realTime: TimeSource = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class Deadlines {
  private readonly fifos = new Map<number, DeadlineFifo>();
  private timer: unknown;
  /** When the armed timer is due (Infinity when none is armed). */
  private armedFor = Infinity;
  private entries = 0;

  constructor(private readonly time: TimeSource = realTime) {}

  /** Entries waiting for their deadline. */
  get size(): number {
    return this.entries;
  }

  /** Whether a timer is armed (none is when nothing waits). */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Expires `entry` `ms` from now. */
  add(entry: DeadlineEntry, ms: number): void {
    const deadline = this.time.now() + ms;
    entry.deadline = deadline;
    let fifo = this.fifos.get(ms);
    if (fifo === undefined) {
      fifo = { ms, head: undefined, tail: undefined };
      this.fifos.set(ms, fifo);
    }
    entry.deadlineQueue = fifo;
    entry.deadlineNext = undefined;
    entry.deadlinePrev = fifo.tail;
    if (fifo.tail === undefined) fifo.head = entry;
    else fifo.tail.deadlineNext = entry;
    fifo.tail = entry;
    this.entries++;
    // Only a new head can be earlier than the armed timer.
    if (deadline < this.armedFor) this.arm(deadline);
  }

  /** Forgets `entry` (settled before its deadline). Its timer stays armed; a timer with nothing due re-arms itself. */
  remove(entry: DeadlineEntry): void {
    const fifo = entry.deadlineQueue;
    if (fifo === undefined) return;
    const { deadlinePrev: prev, deadlineNext: next } = entry;
    if (prev === undefined) fifo.head = next;
    else prev.deadlineNext = next;
    if (next === undefined) fifo.tail = prev;
    else next.deadlinePrev = prev;
    entry.deadlineQueue = entry.deadlinePrev = entry.deadlineNext = undefined;
    if (--this.entries === 0) {
      this.fifos.clear();
      this.disarm();
    }
  }

  private arm(deadline: number): void {
    if (this.timer !== undefined) this.time.clearTimeout(this.timer);
    this.armedFor = deadline;
    this.timer = this.time.setTimeout(this.fire, Math.max(0, Math.ceil(deadline - this.time.now())));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.time.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.time.now();
    // Collect first, then expire: an expiring entry may add or remove others.
    const due: DeadlineEntry[] = [];
    for (const [ms, fifo] of this.fifos) {
      let entry = fifo.head;
      while (entry !== undefined && entry.deadline <= now) {
        const next: DeadlineEntry | undefined = entry.deadlineNext;
        this.remove(entry);
        due.push(entry);
        entry = next;
      }
      if (fifo.head === undefined) this.fifos.delete(ms);
    }
    for (const entry of due) {
      try {
        entry.expire();
      } catch (error) {
        // One entry's failure must not keep the others from expiring.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
    this.rearm();
  };

  /** Arms the timer for the earliest head, if any entry waits and none is armed earlier. */
  private rearm(): void {
    let earliest = Infinity;
    for (const [ms, fifo] of this.fifos) {
      if (fifo.head === undefined) this.fifos.delete(ms);
      else if (fifo.head.deadline < earliest) earliest = fifo.head.deadline;
    }
    if (earliest < this.armedFor) this.arm(earliest);
  }
}

/** A clock without `now()` (only XState's `setTimeout`/`clearTimeout`): one clock timer per entry. */
export class ClockTimers {
  private readonly handles = new Map<DeadlineEntry, unknown>();

  constructor(private readonly clock: { setTimeout(callback: () => void, ms: number): unknown; clearTimeout(handle: any): void }) {}

  get size(): number {
    return this.handles.size;
  }

  add(entry: DeadlineEntry, ms: number): void {
    const handle = this.clock.setTimeout(() => {
      this.handles.delete(entry);
      entry.expire();
    }, ms);
    this.handles.set(entry, handle);
  }

  remove(entry: DeadlineEntry): void {
    const handle = this.handles.get(entry);
    if (handle === undefined) return;
    this.handles.delete(entry);
    this.clock.clearTimeout(handle);
  }
}

/** Every connection's calls share one timer, unless a clock of their own is given. */
const shared = new Deadlines(realTime);

/** The scheduler for calls timed by `clock` (the shared real-time one when none is given). */
export function schedulerFor(clock: { setTimeout(callback: () => void, ms: number): unknown; clearTimeout(handle: any): void; now?: () => number } | undefined) {
  if (clock === undefined) return shared;
  if (typeof clock.now === 'function') {
    const now = clock.now.bind(clock);
    return new Deadlines({ now, setTimeout: (callback, ms) => clock.setTimeout(callback, ms), clearTimeout: (handle) => clock.clearTimeout(handle) });
  }
  return new ClockTimers(clock);
}

/** Timers the shared real-time scheduler holds (for leak checks). */
export function sharedDeadlines(): Deadlines {
  return shared;
}
