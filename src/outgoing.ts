/**
 * Outgoing calls of one connection: one call actor per request, tracked in a
 * Map by id (never as children of the connection actor), plus a bounded memory
 * of recently settled ids so that a late or duplicate response is told apart
 * from an unknown one.
 *
 * Calls that cannot be written at once wait in `queued`, in a line, in order:
 * while the connection is not open (connecting, reconnecting), while
 * `maxInFlight` calls are in flight, and while the socket's buffer holds
 * `highWaterMark` bytes or more. Notifications made meanwhile join the same
 * line, so that everything leaves in the order it was made. The line holds at
 * most `maxQueued`; beyond that a call rejects at once with `QueueFullError`.
 * Each open transport is an epoch: a write completing from an earlier epoch
 * changes nothing, and a call written on a lost epoch is re-sent only if its
 * caller marked it `retry`.
 *
 * Each call runs `callMachine`, by default on the light engine (a transition
 * table compiled from the machine, one shared deadline timer, see
 * `src/engine/`), or as a full XState actor with `engine: 'xstate'`. The
 * owner's side of the machine (writing the request, telling the peer about a
 * cancellation, settling the caller) is the same code for both.
 */
import type { AnyActorRef } from 'xstate';
import { callMachine, type CallContext, type CallEvent, type CallInput, type CallStatus } from '../machines/call.machine.js';
import { defineRunner, type Actors, type RunningActor } from './engine/runner.js';
import { DEFAULT_MAX_BATCH } from './limits.js';
import { Fifo } from './engine/fifo.js';
import { Line, type LinePlace } from './engine/line.js';
import {
  AbortError,
  CallstateError,
  ConnectionClosedError,
  NoRespondersError,
  QueueFullError,
  RemoteError,
  TimeoutError,
} from './errors.js';
import type { ErrorObject } from './protocol/jsonrpc.js';
import { CANCEL_METHOD, encode, notificationFrame } from './protocol/jsonrpc.js';
import type { Clock, Engine, InspectOption, UnmatchedReason } from './types.js';

/** One pending call: its actor and what the caller waits on. */
interface PendingCall {
  actor: RunningActor<CallContext, CallEvent>;
  /** The encoded request, until it is written (kept for a `retry` call, which may be written again). */
  frame: string | undefined;
  retry: boolean;
  /** Its place in the waiting line, while it waits in `queued`. */
  place: LinePlace<Waiting> | undefined;
  /** Written and not settled: it counts against `maxInFlight`. */
  inFlight: boolean;
  /** The epoch it was last written on. */
  epoch: number;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Set once the call's final state is reached (its actor may still be finishing the step). */
  settled: boolean;
}

/** A notification made while calls wait: it keeps its place among them. */
interface WaitingNotice {
  notice: string;
}
type Waiting = PendingCall | WaitingNotice;

type Ending = 'answered' | 'abandoned';

/** The owner's side of the call machine, for both engines; the light table is compiled here, once. */
const callRunner = defineRunner<CallInput, OutgoingCalls, PendingCall, CallContext, CallEvent>(callMachine, {
  actions: {
    writeRequest: (calls, call) => calls.writeRequest(call),
    notifyPeerOfCancel: (calls, _call, context) => calls.notifyPeerOfCancel(context.id),
    settleCaller: (calls, call, context, { status }: { status: CallStatus }) => calls.settle(context.id, call, status, context),
  },
});
const QUEUED = callRunner.state('pending.queued');

/** Most `$/cancelRequest` notices in one batch frame: a server's default `maxBatch`. */
const MAX_CANCEL_BATCH = DEFAULT_MAX_BATCH;

const WRITTEN: CallEvent = Object.freeze({ type: 'request.written' });
const RELEASE: CallEvent = Object.freeze({ type: 'call.release' });
/** How often a line held only by a full socket buffer looks again, when no write of its own will call back, in ms. */
const DRAIN_POLL = 10;

export interface OutgoingOptions {
  /**
   * Writes a text frame; `done` reports the write's outcome, in the order of the writes. Returns false,
   * without calling `done`, when the transport refused the frame at once (not open): it was not written.
   */
  write: (frame: string, done?: (error?: Error) => void) => boolean;
  inspect: InspectOption;
  clock: Clock | undefined;
  /** How many settled ids to remember for late/duplicate detection. */
  settledMemory: number;
  /** Which interpreter runs each call. */
  engine: Engine;
  /** Most calls written and not yet settled; more wait in `queued`. */
  maxInFlight: number;
  /** Most calls and notifications waiting in the line; more reject with `QueueFullError`. */
  maxQueued: number;
  /** While the socket holds this many bytes not yet sent, calls wait in `queued`. */
  highWaterMark: number;
  /** Bytes the current transport holds not yet sent. */
  bufferedAmount: () => number;
  /** Shown in errors: where the connection goes. */
  url: string;
}

export class OutgoingCalls {
  private readonly pending = new Map<string, PendingCall>();
  /**
   * Recently settled ids and how they ended, in two generations: ids go into
   * `recent`; when it holds `settledMemory` ids it becomes `older` and the
   * previous `older` is dropped whole. So the last `settledMemory` ids (and at
   * most twice as many) are remembered, with no per-id eviction: deleting
   * from a Map one key at a time leaves holes that cost on every insert.
   * A call that ended without any response (timeout, cancel, connection lost,
   * write failed) is 'abandoned': a response for it later is late, not a duplicate.
   */
  private recent = new Map<string, Ending>();
  private older = new Map<string, Ending>();
  /** Calls whose request frame is being written on this epoch's transport, in write order (transports call back in that order). */
  private writing = new Fifo<PendingCall>();
  /** Calls and notifications waiting to be written, in order. */
  private readonly line = new Line<Waiting>();
  private queuedNotices = 0;
  /** Calls written and not settled. */
  private inFlight = 0;
  /** Whether a transport is open to write on. */
  private isOpen = false;
  private epoch = 0;
  private pumpScheduled = false;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly actors: Actors<CallInput, PendingCall, CallContext, CallEvent>;

  constructor(private readonly options: OutgoingOptions) {
    this.actors = callRunner.create(options.engine, this, { inspect: options.inspect, clock: options.clock });
  }

  /** Reported as every call actor's parent to inspectors (light engine). */
  set parent(actor: AnyActorRef | undefined) {
    this.actors.parent = actor;
  }

  /** Number of calls not yet settled. */
  get size(): number {
    return this.pending.size;
  }

  /** Number of calls waiting in `queued`. */
  get queued(): number {
    return this.line.size - this.queuedNotices;
  }

  /** The transport's epoch, counted from 1: how many times the connection has opened. */
  get openings(): number {
    return this.epoch;
  }

  /**
   * Starts a call actor. The caller has validated the arguments and encoded
   * the frame. The call is written at once if the connection is open and has
   * room; otherwise it waits in `queued`, or rejects with `QueueFullError`
   * when the line is full.
   */
  start(input: Omit<CallInput, 'sendNow'>, frame: string, signal: AbortSignal | undefined): Promise<any> {
    const sendNow = this.line.size === 0 && this.hasRoom();
    if (!sendNow && this.line.size >= this.options.maxQueued) return Promise.reject(this.queueFull(`call "${input.method}"`));
    return new Promise((resolve, reject) => {
      const retry = input.retry === true;
      const call: PendingCall = {
        actor: undefined!,
        frame,
        retry,
        place: undefined,
        inFlight: false,
        epoch: 0,
        resolve,
        reject,
        signal,
        onAbort: undefined,
        settled: false,
      };
      this.pending.set(input.id, call);
      // The frame carries the params; the context keeps them only for inspectors to show.
      const context = this.actors.inspected ? { ...input, sendNow, retry } : { id: input.id, method: input.method, timeout: input.timeout, sendNow, retry };
      call.actor = this.actors.create(context, call);
      if (signal) {
        call.onAbort = () => call.actor.send({ type: 'call.cancel', reason: signal.reason });
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
      call.actor.start();
      if (!sendNow && !call.settled) call.place = this.line.push(call);
    });
  }

  /** Sends a notification frame now, or after what waits before it. Throws `QueueFullError` when the line is full. */
  notify(method: string, frame: string): void {
    if (this.line.size === 0 && this.isOpen && !this.isSaturated()) {
      this.options.write(frame, ignoreWriteError);
      return;
    }
    if (this.line.size >= this.options.maxQueued) throw this.queueFull(`notification "${method}"`);
    this.line.push({ notice: frame });
    this.queuedNotices++;
  }

  /** A transport is open: a new epoch. What waits goes out, as far as there is room. */
  open(): void {
    this.isOpen = true;
    this.epoch++;
    const writing = (this.writing = new Fifo<PendingCall>());
    const epoch = this.epoch;
    // One callback for every request write of this epoch: the transport calls back in write order.
    this.written = (error?: Error): void => {
      this.writeEnded(writing.shift(), epoch, error);
      // A completed write frees room in the socket's buffer.
      if (this.line.size > 0) this.schedulePump();
    };
    this.pump();
  }

  /** The transport reports how the write of `call`'s request on `epoch` ended. */
  private writeEnded(call: PendingCall | undefined, epoch: number, error: Error | undefined): void {
    // A failed write means this transport is going: nothing more is written on it (its close follows, then
    // the next epoch, if any). Pumping on would write a retry call again at once, and fail again, without end.
    if (error && epoch === this.epoch) this.isOpen = false;
    // The call may have settled (timeout, abort) before the socket finished the write, or be waiting in line
    // again since a loss (this callback is then the late news of the old write).
    if (call === undefined || call.settled || call.epoch !== epoch || call.place !== undefined) return;
    call.actor.send(error ? { type: 'request.writeFailed', error } : WRITTEN);
    // A retry call whose write failed waits again, first in line.
    if (error && !call.settled && call.actor.in(QUEUED)) this.putBack([call]);
  }

  /**
   * The open transport is lost and another will follow: each call written on
   * it fails with `error`, or, if marked retry, waits again in `queued`, ahead
   * of those already waiting. Calls already waiting keep waiting.
   */
  lost(error: ConnectionClosedError): void {
    this.isOpen = false;
    const back: PendingCall[] = [];
    for (const call of [...this.pending.values()]) {
      // A call in line is the one waiting in `queued`: it was never written on the lost transport.
      if (call.place || call.settled) continue;
      call.actor.send({ type: 'connection.lost', error });
      if (!call.settled) back.push(call);
    }
    this.putBack(back);
  }

  /** Fails every pending call with the same error; what waits in line is dropped. */
  failAll(error: ConnectionClosedError): void {
    this.isOpen = false;
    clearTimeout(this.drainTimer);
    for (const waiting of this.line.drain()) if ('actor' in waiting) waiting.place = undefined;
    this.queuedNotices = 0;
    for (const call of [...this.pending.values()]) call.actor.send({ type: 'connection.closed', error });
  }

  /** Calls that went back to `queued` after being written: they wait first, in the order given. */
  private putBack(calls: PendingCall[]): void {
    for (let i = calls.length - 1; i >= 0; i--) {
      const call = calls[i]!;
      this.leaveFlight(call);
      call.place = this.line.unshift(call);
    }
  }

  /** Whether one more call may be written now. */
  private hasRoom(): boolean {
    return this.isOpen && this.inFlight < this.options.maxInFlight && !this.isSaturated();
  }

  private isSaturated(): boolean {
    return this.options.bufferedAmount() >= this.options.highWaterMark;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(this.pump);
  }

  /** Writes what waits, first to last, while there is room. */
  private readonly pump = (): void => {
    this.pumpScheduled = false;
    while (this.isOpen && this.line.size > 0) {
      const first = this.line.peek()!;
      if (!('actor' in first)) {
        if (this.isSaturated()) break;
        this.line.shift();
        this.queuedNotices--;
        this.options.write(first.notice, ignoreWriteError);
        continue;
      }
      if (!this.hasRoom()) break;
      this.line.shift();
      first.place = undefined;
      first.actor.send(RELEASE);
    }
    // Held only by the socket's buffer, with no write of ours left to call back when it drains: look again soon.
    if (this.isOpen && this.line.size > 0 && this.writing.size === 0 && this.isSaturated() && this.drainTimer === undefined) {
      this.drainTimer = setTimeout(() => {
        this.drainTimer = undefined;
        this.pump();
      }, DRAIN_POLL);
      this.drainTimer.unref?.();
    }
  };

  private leaveFlight(call: PendingCall): void {
    if (!call.inFlight) return;
    call.inFlight = false;
    this.inFlight--;
    if (this.line.size > 0 && this.isOpen) this.schedulePump();
  }

  private queueFull(what: string): QueueFullError {
    const { maxQueued, maxInFlight, url } = this.options;
    const why = !this.isOpen
      ? 'it is not open'
      : this.inFlight >= maxInFlight
        ? `${maxInFlight} calls are in flight (maxInFlight)`
        : this.isSaturated()
          ? "its socket's buffer is full (highWaterMark)"
          : 'earlier calls still wait';
    return new QueueFullError(
      `${what} was not sent: ${this.line.size} calls and notifications already wait on the connection to ${url} (maxQueued ${maxQueued}), because ${why}`,
      maxQueued,
    );
  }

  /**
   * Routes a response to its call. Returns why it matched no call, or
   * undefined when a call took it.
   */
  route(id: string | number | null, outcome: { result: unknown } | { error: ErrorObject }): UnmatchedReason | undefined {
    if (typeof id !== 'string') return 'unknown';
    const call = this.pending.get(id);
    if (!call) return this.unmatchedReason(id);
    // A queued call has not been written yet: nothing can legitimately answer it.
    if (call.actor.in(QUEUED)) return 'unknown';
    if ('result' in outcome) {
      call.actor.send({ type: 'response.result', result: outcome.result });
    } else {
      const { code, message, data } = outcome.error;
      call.actor.send({ type: 'response.error', error: new RemoteError(code, message, data) });
    }
    return undefined;
  }

  /** The channel says no one listens on `subject`: the call fails now, not at its deadline. */
  failNoResponders(id: string, subject: string): UnmatchedReason | undefined {
    const call = this.pending.get(id);
    if (!call) return this.unmatchedReason(id);
    call.actor.send({ type: 'response.error', error: new NoRespondersError(call.actor.context.method, subject) });
    return undefined;
  }

  /** Why an answer for `id`, which no pending call has, matches nothing: a call that ended without one (late), with one (duplicate), or none remembered. */
  private unmatchedReason(id: string): UnmatchedReason {
    const ending = this.recent.get(id) ?? this.older.get(id);
    if (ending === undefined) return 'unknown';
    return ending === 'abandoned' ? 'late' : 'duplicate';
  }

  /** `writeRequest`: hands the frame to the transport; the epoch's shared callback tells the call when it is on the wire. */
  writeRequest(call: PendingCall): void {
    const frame = call.frame!;
    if (!call.retry) call.frame = undefined;
    if (!call.inFlight) {
      call.inFlight = true;
      this.inFlight++;
    }
    call.epoch = this.epoch;
    this.writing.push(call);
    if (this.options.write(frame, this.written)) return;
    // Refused at once (the transport is closing): this call, and no earlier one still being written, was not written.
    this.writing.pop();
    this.writeEnded(call, this.epoch, new Error('the transport is closing: the request was not written'));
  }

  /** The callback of every request write on the current epoch (see `open`). */
  private written: (error?: Error) => void = () => {};

  /**
   * `notifyPeerOfCancel`: tells the peer that the call it may be handling is
   * abandoned. Notices made in the same tick (a burst of timeouts, a close)
   * go out together as JSON-RPC batch frames of at most MAX_CANCEL_BATCH
   * notices, instead of a frame each.
   */
  notifyPeerOfCancel(id: string): void {
    if (this.cancelNotices.push(id) === 1) queueMicrotask(this.flushCancelNotices);
  }

  private cancelNotices: string[] = [];

  private readonly flushCancelNotices = (): void => {
    const ids = this.cancelNotices;
    this.cancelNotices = [];
    // In batches no longer than a server's default maxBatch accepts.
    for (let start = 0; start < ids.length; start += MAX_CANCEL_BATCH) {
      const frames = ids.slice(start, start + MAX_CANCEL_BATCH).map((id) => notificationFrame(CANCEL_METHOD, { id }));
      this.options.write(encode(frames.length === 1 ? frames[0]! : frames), ignoreWriteError);
    }
  };

  /** `settleCaller`: the call reached a final state; settle its promise and forget it. */
  settle(id: string, call: PendingCall | undefined, status: CallStatus, context: { method: string; timeout: number; result?: unknown; error?: unknown }): void {
    if (!call || call.settled) return;
    call.settled = true;
    this.pending.delete(id);
    if (call.place) {
      this.line.remove(call.place);
      call.place = undefined;
    }
    this.leaveFlight(call);
    if (call.onAbort) call.signal!.removeEventListener('abort', call.onAbort);
    const answered = status === 'resolved' || (status === 'failed' && context.error instanceof RemoteError);
    this.remember(id, answered ? 'answered' : 'abandoned');
    switch (status) {
      case 'resolved':
        call.resolve(context.result);
        break;
      case 'timedOut':
        call.reject(new TimeoutError(context.method, id, context.timeout));
        break;
      case 'cancelled':
        call.reject(context.error !== undefined ? context.error : new AbortError(`call "${context.method}" (id ${id}) was aborted`));
        break;
      case 'failed':
        call.reject(
          context.error instanceof CallstateError
            ? context.error
            : new ConnectionClosedError(`call "${context.method}" (id ${id}) could not be written`, { cause: context.error }),
        );
        break;
    }
  }

  private remember(id: string, ending: Ending): void {
    const capacity = this.options.settledMemory;
    if (capacity === 0) return;
    this.recent.set(id, ending);
    if (this.recent.size >= capacity) {
      this.older = this.recent;
      this.recent = new Map();
    }
  }
}

function ignoreWriteError(): void {
  // A cancel notice that cannot be written has nobody left to tell.
}
