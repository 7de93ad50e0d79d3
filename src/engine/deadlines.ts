/**
 * Deadlines of many actors on one timer.
 *
 * A `setTimeout` per call costs about 0.43 KB of heap and a timer-list insert
 * and removal; with thousands of calls in flight that is most of a call's cost.
 * Here every deadline lives in a chain per duration: calls made with the same
 * timeout expire in the order they were made, so each chain is sorted by
 * deadline for free, adding is O(1) at its tail and removing is O(1) anywhere
 * behind its head (a doubly linked list threaded through the entries
 * themselves, so no node is allocated). `tails` finds a duration's chain.
 *
 * Only a chain's head can be the next deadline, so the heads alone sit in a
 * binary min-heap by deadline, each head knowing its slot. Timeouts are not
 * always a handful of constants (a budget passed down from upstream makes
 * every call's different, and every chain one entry long): scanning every
 * chain on each firing cost O(durations) per expiry, five times the CPU of
 * calls with one timeout. With the heap, a new duration or a new head costs
 * O(log durations), and one timer is armed for the heap's top.
 *
 *   chains, one per duration                  heap of their heads
 *
 *   10000 ms:  a ⇄ b ⇄ c ◀─ tails.get(10000)           d ◀── timer armed for d.deadline
 *     500 ms:  d ⇄ e     ◀─ tails.get(500)            / \
 *    1234 ms:  f         ◀─ tails.get(1234)          a   f
 *
 * With one or a few timeouts the heap holds one or a few heads: adding behind
 * a tail never touches it, and expiring a head moves the next entry of its
 * chain into the same slot. A firing expires its due entries in deadline order.
 *
 * Timers never fire early: when the timer runs before the earliest deadline
 * (a clock that fires on its own schedule), it is armed again for the rest.
 *
 * When the last entry leaves, a clock that can `unref` its timers keeps the
 * timer, unref'd (it holds no process open), instead of clearing it: with one
 * call at a time, the next call's deadline is later than the kept timer's, so
 * it only `ref`s it again. Clearing and arming per call cost a `setTimeout`
 * (about 350 bytes and a timer-list insert) and a `clearTimeout` each (issue 16).
 * The kept timer fires once, finds nothing due, and re-arms for what waits.
 *
 * A chain that empties keeps its key in `tails` (its value undefined) until
 * more than MAX_EMPTY_CHAINS have emptied, then those are swept out together:
 * deleting from a small Map shrinks its table, and the next insert grows it
 * again, a new table each time. With one timeout and calls one at a time, the
 * chain empties on every call: those tables were most of the garbage that a
 * client at 10,000 calls a second promoted into the old generation (issue 16).
 */

/** What the scheduler needs from a clock. XState's `SimulatedClock` has all of it. */
export interface TimeSource {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** With both: the timer of an empty scheduler is kept, unref'd, for the next entry, instead of cleared. */
  ref?(handle: unknown): void;
  unref?(handle: unknown): void;
}

/**
 * The fields an entry carries for the scheduler (kept on the entry to allocate
 * nothing). Start with `deadlineSlot = -1` and the links undefined.
 */
export interface DeadlineEntry {
  deadline: number;
  /** The duration it was added with: which chain it is in. */
  deadlineMs: number;
  deadlinePrev: DeadlineEntry | undefined;
  deadlineNext: DeadlineEntry | undefined;
  /** Its index in the heap while it heads its chain; -1 otherwise (behind a head, or not waiting). */
  deadlineSlot: number;
  /** Called once when the deadline passes (the entry has already been removed). */
  expire(): void;
}

/** Most empty chains whose keys are kept in `tails`. */
const MAX_EMPTY_CHAINS = 64;

export const realTime: TimeSource = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  // Node's timers; a browser's are numbers, with nothing to hold open: a kept timer there costs nothing.
  ref: (handle) => void (handle as Partial<NodeJS.Timeout>).ref?.(),
  unref: (handle) => void (handle as Partial<NodeJS.Timeout>).unref?.(),
};

/** The time on `clock` (a `SimulatedClock`'s, or any with `now()`); real time for none, or one without `now()`. */
export function clockNow(clock: object | undefined): () => number {
  const timeOf = clock as Partial<TimeSource> | undefined;
  return typeof timeOf?.now === 'function' ? () => timeOf.now!() : realTime.now;
}

export class Deadlines {
  /** The last entry of each duration's chain (undefined: the chain is empty, its key kept for a while). */
  private readonly tails = new Map<number, DeadlineEntry | undefined>();
  /** Keys of `tails` whose chain is empty. */
  private emptyChains = 0;
  /** Chain heads, a binary min-heap by deadline: `heap[0]` is due first. */
  private readonly heap: DeadlineEntry[] = [];
  private timer: unknown;
  /** When the armed timer is due (Infinity when none is armed). */
  private armedFor = Infinity;
  /** The timer is kept, unref'd, with nothing waiting (see the top of this file). */
  private idle = false;
  private entries = 0;

  constructor(private readonly time: TimeSource = realTime) {}

  /** Entries waiting for their deadline. */
  get size(): number {
    return this.entries;
  }

  /** Whether a timer is armed for what waits (none is when nothing waits; a kept, unref'd one does not count). */
  get armed(): boolean {
    return this.timer !== undefined && !this.idle;
  }

  /** Expires `entry` `ms` from now. */
  add(entry: DeadlineEntry, ms: number): void {
    const deadline = this.time.now() + ms;
    entry.deadline = deadline;
    entry.deadlineMs = ms;
    entry.deadlineNext = undefined;
    const tail = this.tails.get(ms);
    if (tail === undefined) {
      // A new chain: its head joins the heap.
      entry.deadlinePrev = undefined;
      entry.deadlineSlot = this.heap.length;
      this.heap.push(entry);
      this.siftUp(entry.deadlineSlot);
    } else {
      // Behind the tail: the head, and so the heap, stay as they are.
      tail.deadlineNext = entry;
      entry.deadlinePrev = tail;
      entry.deadlineSlot = -1;
    }
    const keys = this.tails.size;
    this.tails.set(ms, entry);
    // A new head on a kept key: that chain is no longer empty.
    if (tail === undefined && this.tails.size === keys) this.emptyChains--;
    this.entries++;
    if (this.idle) {
      this.idle = false;
      this.time.ref!(this.timer);
    }
    // Only a new head can be earlier than the armed timer.
    if (deadline < this.armedFor) this.arm(deadline);
  }

  /** Forgets `entry` (settled before its deadline). Its timer stays armed; a timer with nothing due re-arms itself. */
  remove(entry: DeadlineEntry): void {
    const { deadlinePrev: prev, deadlineNext: next, deadlineSlot: slot } = entry;
    if (prev !== undefined) {
      // Behind the head: unlinked in O(1), the heap is untouched.
      prev.deadlineNext = next;
      if (next === undefined) this.tails.set(entry.deadlineMs, prev);
      else next.deadlinePrev = prev;
    } else if (slot >= 0) {
      if (next === undefined) {
        this.chainEmptied(entry.deadlineMs);
        this.removeSlot(slot);
      } else {
        // The next of its chain takes its slot; its deadline is no earlier, so it can only sink.
        next.deadlinePrev = undefined;
        next.deadlineSlot = slot;
        this.heap[slot] = next;
        this.siftDown(slot);
      }
    } else {
      return; // not waiting (removed twice, or never added)
    }
    entry.deadlinePrev = entry.deadlineNext = undefined;
    entry.deadlineSlot = -1;
    if (--this.entries === 0) this.rest();
  }

  /** The chain of `ms` has no entry left: its key stays, unless too many empty ones have piled up (see the top of this file). */
  private chainEmptied(ms: number): void {
    this.tails.set(ms, undefined);
    if (++this.emptyChains <= MAX_EMPTY_CHAINS) return;
    for (const [key, tail] of this.tails) if (tail === undefined) this.tails.delete(key);
    this.emptyChains = 0;
  }

  /** Nothing waits: the timer is kept unref'd for the next entry where the clock allows, else cleared. */
  private rest(): void {
    const { ref, unref } = this.time;
    if (this.timer !== undefined && ref !== undefined && unref !== undefined) {
      this.idle = true;
      unref(this.timer);
    } else {
      this.disarm();
    }
  }

  private arm(deadline: number): void {
    if (this.timer !== undefined) this.time.clearTimeout(this.timer);
    this.idle = false;
    this.armedFor = deadline;
    this.timer = this.time.setTimeout(this.fire, Math.max(0, Math.ceil(deadline - this.time.now())));
  }

  private disarm(): void {
    if (this.timer !== undefined) this.time.clearTimeout(this.timer);
    this.timer = undefined;
    this.idle = false;
    this.armedFor = Infinity;
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.idle = false;
    this.armedFor = Infinity;
    const now = this.time.now();
    // Collect first, then expire: an expiring entry may add or remove others.
    const due: DeadlineEntry[] = [];
    const heap = this.heap;
    while (heap.length > 0 && heap[0]!.deadline <= now) {
      const entry = heap[0]!;
      this.remove(entry);
      due.push(entry);
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
    // Arm for the earliest head, unless an entry added meanwhile armed a timer as early.
    const first = heap[0];
    if (first !== undefined && first.deadline < this.armedFor) this.arm(first.deadline);
  };

  /** Takes the entry at `slot` out of the heap: the last entry fills the hole and moves up or down. */
  private removeSlot(slot: number): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (slot === heap.length) return;
    heap[slot] = last;
    last.deadlineSlot = slot;
    if (slot > 0 && last.deadline < heap[(slot - 1) >> 1]!.deadline) this.siftUp(slot);
    else this.siftDown(slot);
  }

  private siftUp(slot: number): void {
    const heap = this.heap;
    const entry = heap[slot]!;
    const deadline = entry.deadline;
    while (slot > 0) {
      const up = (slot - 1) >> 1;
      const parent = heap[up]!;
      if (parent.deadline <= deadline) break;
      heap[slot] = parent;
      parent.deadlineSlot = slot;
      slot = up;
    }
    heap[slot] = entry;
    entry.deadlineSlot = slot;
  }

  private siftDown(slot: number): void {
    const heap = this.heap;
    const length = heap.length;
    const entry = heap[slot]!;
    const deadline = entry.deadline;
    for (;;) {
      let down = 2 * slot + 1;
      if (down >= length) break;
      let child = heap[down]!;
      let childDeadline = child.deadline;
      if (down + 1 < length) {
        const right = heap[down + 1]!;
        const rightDeadline = right.deadline;
        if (rightDeadline < childDeadline) {
          down++;
          child = right;
          childDeadline = rightDeadline;
        }
      }
      if (deadline <= childDeadline) break;
      heap[slot] = child;
      child.deadlineSlot = slot;
      slot = down;
    }
    heap[slot] = entry;
    entry.deadlineSlot = slot;
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
export function schedulerFor(
  clock: { setTimeout(callback: () => void, ms: number): unknown; clearTimeout(handle: any): void; now?: () => number } | undefined,
) {
  if (clock === undefined) return shared;
  if (typeof clock.now === 'function') {
    const now = clock.now.bind(clock);
    return new Deadlines({
      now,
      setTimeout: (callback, ms) => clock.setTimeout(callback, ms),
      clearTimeout: (handle) => clock.clearTimeout(handle),
    });
  }
  return new ClockTimers(clock);
}

/** Timers the shared real-time scheduler holds (for leak checks). */
export function sharedDeadlines(): Deadlines {
  return shared;
}
