/**
 * Outgoing calls of one connection, as Go's net/rpc client keeps them: a
 * pending map by id, `start` (make the call), `route` (match a response to
 * its call), `settle` (complete the call, once) and `failAll` (fail every
 * pending call with the reason when the connection ends). Calls are never
 * children of the connection actor.
 *
 * Beside the core, each in its own file: the send queue (what is written when:
 * the waiting line, in-flight and buffer limits, epochs; `send-queue.ts`), the
 * memory of settled ids (late and duplicate responses; `settled-ids.ts`), the
 * batcher of `$/cancelRequest` notices (`cancel-batcher.ts`) and the stacks of
 * the errors a caller sees (`call-site.ts`).
 *
 * Each call runs `callMachine` on the engine the connection was made with (the
 * light engine by default, or full XState, see `engine/runner.ts`); the owner's
 * side of the machine below is written once for both.
 */
import type { AnyActorRef } from 'xstate';
import { callLogic, type CallContext, type CallEvent, type CallInput, type CallStatus } from '../../machines/call.logic.js';
import { AbortWatch } from './abort-watch.js';
import { CancelBatcher } from './cancel-batcher.js';
import { callTable } from '../engine/generated/call.table.js';
import { defineRunner, type Actors, type RunningActor, type XStateEngine } from '../engine/runner.js';
import { ConnectionClosedError, ProtocolError, RemoteError } from '../errors.js';
import { retriesSpentError } from './connection-errors.js';
import { captureCallSite, failure, pointAt, unframed } from './call-site.js';
import { quotedText } from './peer-text.js';
import { ErrorCodes, type Id, type Message } from '../protocol/jsonrpc.js';
import { ignoreWriteError, SendQueue, type QueuedCall, type SendQueueOptions } from './send-queue.js';
import { IdTable } from './id-table.js';
import { ownIdHash } from './call-id.js';
import { SettledIds } from './settled-ids.js';
import type { Clock, Engine, InspectOption, UnmatchedReason } from '../types.js';

/** One pending call: its actor, what the caller waits on, and what the send queue keeps on it. */
interface PendingCall extends QueuedCall {
  actor: RunningActor<CallContext, CallEvent>;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  /** Set once the call's final state is reached (its actor may still be finishing the step). */
  settled: boolean;
  /** `$/cancelRequest` went to the peer for this call: a -32800 answer to it is expected. */
  cancelSent: boolean;
  /** Where the caller made the call (see `captureCallSite`): the stack its failure shows. */
  site: Error | undefined;
  /** A `retry` call's re-sends (`RequestOptions.retry`); undefined for a call never re-sent, as most are. */
  resends: Resends | undefined;
  /** When it was made, on `OutgoingOptions.now` (0 without it): its deadline runs from then (see `timeLeftOf`). */
  madeAt: number;
}

/** What a retry call keeps of its re-sends: one object, and only on retry calls, not three fields on every call. */
interface Resends {
  /** How many more times it may be re-sent after its connection was lost. */
  left: number;
  /** How many connections were lost while it was written on them. */
  losses: number;
  /** Its write failed on the current connection and it waits again: the loss that follows is one of its losses too. */
  writeFailed: boolean;
}

/** The owner's side of the call machine, for both engines; the light table is loaded here, once. */
const callRunner = defineRunner<CallInput, OutgoingCalls, PendingCall, CallContext, CallEvent>(callTable, callLogic, {
  actions: {
    writeRequest: (calls, call) => calls.writeRequest(call),
    notifyPeerOfCancel: (calls, _call, context) => calls.notifyPeerOfCancel(context.id),
    settleCaller: (calls, call, context, { status }: { status: CallStatus }) => calls.settle(call, status, context),
  },
});
const QUEUED = callRunner.state('pending.queued');

const WRITTEN: CallEvent = Object.freeze({ type: 'request.written' });
const RELEASE: CallEvent = Object.freeze({ type: 'call.release' });

/** The send queue's options (the write, the line's limits, the transport's state), and what the calls need besides. */
export interface OutgoingOptions extends Omit<SendQueueOptions<PendingCall>, 'release' | 'writeEnded'> {
  /** Capture each call's site when it is made, so that the error that settles it shows the caller's stack (about 3 µs a call). */
  callSiteStacks: boolean;
  inspect: InspectOption;
  clock: Clock | undefined;
  /** How many settled ids to remember for late/duplicate detection. */
  settledMemory: number;
  /** Which interpreter runs each call. */
  engine: Engine;
  /** XState (Node build): for `engine: 'xstate'`, and for inspectors to see the machine. */
  xstate: XStateEngine | undefined;
  /** A call settled: the transport may end what it holds for it (see `Transport.callSettled`). */
  settled?: (id: string) => void;
  /**
   * The time on the calls' clock, given where a request carries how long its call has left (NATS: see `TIMEOUT_MARK`
   * in transports/nats.ts): each call then notes when it was made. Default: none (calls note nothing).
   */
  now?: () => number;
}

export class OutgoingCalls {
  /** By id (an `IdTable`, not a `Map`: see id-table.ts), hashed as ids made here can be (`ownIdHash`). */
  private readonly pending = new IdTable<PendingCall>(ownIdHash);
  private readonly queue: SendQueue<PendingCall>;
  private readonly settledIds: SettledIds;
  private readonly cancels: CancelBatcher;
  /** The abort listeners of the calls made with a signal. */
  private readonly signals = new AbortWatch<PendingCall>(cancelCall);
  private readonly actors: Actors<CallInput, PendingCall, CallContext, CallEvent>;

  /** Whether each call's site is captured for its errors. */
  private readonly callSiteStacks: boolean;
  /** Tells the transport that a call settled (`OutgoingOptions.settled`). */
  private readonly settled: ((id: string) => void) | undefined;
  /** The clock's time, when calls note when they were made (`OutgoingOptions.now`). */
  private readonly now: (() => number) | undefined;

  constructor(options: OutgoingOptions) {
    const { write } = options;
    this.callSiteStacks = options.callSiteStacks;
    this.settled = options.settled;
    this.now = options.now;
    this.queue = new SendQueue<PendingCall>({ ...options, release: releaseCall, writeEnded: tellWriteEnded });
    this.settledIds = new SettledIds(options.settledMemory);
    this.cancels = new CancelBatcher((frame) => write(frame, ignoreWriteError));
    this.actors = callRunner.create(options.engine, this, { inspect: options.inspect, clock: options.clock, xstate: options.xstate });
  }

  /** Reported as every call actor's parent to inspectors (light engine). */
  set parent(actor: AnyActorRef | undefined) {
    this.actors.parent = actor;
  }

  /** Number of calls not yet settled. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * How long the call `id` has left before its timeout, in ms (a NATS request carries it: see nats.ts), undefined once
   * it settled. Its deadline runs from when it was made: a call that waited in line (behind `maxInFlight` or
   * `highWaterMark`, or for the connection to open) has that much less. Its whole timeout without `OutgoingOptions.now`.
   */
  timeLeftOf(id: string): number | undefined {
    const call = this.pending.get(id);
    if (call === undefined) return undefined;
    const { timeout } = call.actor.context;
    return this.now === undefined ? timeout : timeout - (this.now() - call.madeAt);
  }

  /** Whether the call `id` is still waiting for its answer. */
  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** Number of calls waiting in `queued`. */
  get queued(): number {
    return this.queue.waiting;
  }

  /** The transport's epoch, counted from 1: how many times the connection has opened. */
  get openings(): number {
    return this.queue.openings;
  }

  /**
   * Starts a call actor. The caller has validated the arguments and encoded
   * the frame. The call is written at once if the connection is open and has
   * room; otherwise it waits in `queued`, or rejects with `QueueFullError`
   * when the line is full. A call is re-sent after at most `retries` lost connections (0: never; see
   * `RequestOptions.retry`).
   */
  start(input: Omit<CallInput, 'sendNow' | 'retry'>, frame: string, signal: AbortSignal | undefined, retries = 0): Promise<any> {
    const site = this.callSiteStacks ? captureCallSite() : undefined;
    const sendNow = this.queue.mayWriteNow();
    const refusal = sendNow ? undefined : this.queue.refusal(`call "${input.method}"`, frame.length);
    if (refusal) return Promise.reject(pointAt(refusal, site));
    return new Promise((resolve, reject) => {
      const retry = retries > 0;
      const call: PendingCall = {
        actor: undefined!,
        frame,
        retry,
        place: undefined,
        inFlight: false,
        epoch: 0,
        writingAt: -1,
        resolve,
        reject,
        signal,
        settled: false,
        cancelSent: false,
        site,
        resends: retries > 0 ? { left: retries, losses: 0, writeFailed: false } : undefined,
        madeAt: this.now?.() ?? 0,
      };
      this.pending.set(input.id, call);
      // The frame carries the params; the context keeps them only for inspectors to show. Uninspected, `result`
      // and `error` have their slots from the start: recording either then writes in place, with no growth of
      // the object (about 300 bytes a call, issue 16).
      const context = this.actors.inspected
        ? { ...input, sendNow, retry }
        : { id: input.id, method: input.method, timeout: input.timeout, sendNow, retry, result: undefined, error: undefined };
      call.actor = this.actors.create(context, call);
      if (signal) this.signals.add(signal, call);
      call.actor.start();
      if (!sendNow && !call.settled) this.queue.wait(call);
    });
  }

  /**
   * Sends a notification frame now, or after what waits before it. Throws `ProtocolError` when the transport would
   * not carry it (too large), `QueueFullError` when the line is full.
   */
  notify(method: string, frame: string): void {
    this.queue.notify(method, frame);
  }

  /** A transport is open: a new epoch. What waits goes out, as far as there is room. */
  open(): void {
    this.queue.open();
  }

  /**
   * The open transport is lost and another will follow: each call written on
   * it fails with `error`, or, if marked retry, waits again in `queued`, ahead
   * of those already waiting. Calls already waiting keep waiting. A retry call
   * whose re-sends are used up fails too, saying so (see `retriesSpentError`): a
   * call that makes the server close each connection it comes on would take
   * every connection down with it until its deadline.
   */
  lost(error: ConnectionClosedError): void {
    this.queue.lost();
    const back: PendingCall[] = [];
    for (const call of this.pending.values()) {
      if (call.settled) continue;
      // A call in line is the one waiting in `queued`: it was never written on the lost transport, unless its write
      // failed there (a retry call waits again at once, first in line): that loss counts against its re-sends too.
      const waiting = this.queue.isWaiting(call);
      const { resends } = call;
      if (waiting && resends?.writeFailed !== true) continue;
      if (resends !== undefined) {
        resends.writeFailed = false;
        resends.losses++;
        if (resends.left-- === 0) {
          call.actor.send({ type: 'connection.closed', error: retriesSpentError(error, resends.losses) });
          continue;
        }
      }
      if (waiting) continue;
      call.actor.send({ type: 'connection.lost', error });
      if (!call.settled) back.push(call);
    }
    this.queue.putBack(back);
  }

  /** Fails every pending call with the same error; what waits in line is dropped. */
  failAll(error: ConnectionClosedError): void {
    this.queue.close(error);
    for (const call of this.pending.values()) call.actor.send({ type: 'connection.closed', error });
  }

  /**
   * Routes a response to its call. Returns why it matched no call, or
   * undefined when a call took it.
   */
  route(response: Extract<Message, { kind: 'result' | 'error' }>): UnmatchedReason | undefined {
    const id = response.frame.id;
    if (typeof id !== 'string') return 'unknown';
    const call = this.pending.get(id);
    if (!call) {
      // The peer's answer to this side's $/cancelRequest (LSP: -32800) is expected, not late.
      if (response.kind === 'error' && response.frame.error.code === ErrorCodes.RequestCancelled && this.settledIds.cancelAcknowledged(id))
        return undefined;
      return this.settledIds.reasonFor(id);
    }
    // A queued call has not been written yet: nothing can legitimately answer it.
    if (call.actor.in(QUEUED)) return 'unknown';
    if (response.kind === 'result') {
      call.actor.send({ type: 'response.result', result: response.frame.result });
    } else {
      const { code, message, data } = response.frame.error;
      call.actor.send({ type: 'response.error', error: unframed(() => new RemoteError(code, message, data)) });
    }
    return undefined;
  }

  /**
   * The peer answered with a message that is not a valid response (`detail` says why; `frame()` is its text)
   * and carries `id`. If it is the id of a call written and not yet settled (matched as `route` matches), that
   * call fails now with a `ProtocolError` saying so, instead of waiting for its deadline, and this returns true.
   */
  malformed(id: Id, detail: string, frame: () => string): boolean {
    if (typeof id !== 'string') return false;
    const call = this.pending.get(id);
    // A queued call has not been written yet: nothing can have answered it.
    if (!call || call.actor.in(QUEUED)) return false;
    const { method } = call.actor.context;
    const error = unframed(
      () => new ProtocolError(`call "${method}" (id ${id}) was answered with a malformed response (${detail}): ${quotedText(frame())}`),
    );
    brokenAnswers.add(error);
    call.actor.send({ type: 'response.error', error });
    return true;
  }

  /**
   * The channel failed the call `id` without an answer (NATS's no responders, an HTTP status, a network
   * error): it fails now, not at its deadline, with the error `reason` makes of its method. Returns why it
   * matched no call, as for a response (nothing is made then), or undefined when a call took it. `answered`: the
   * peer did answer it, with something that is no answer (NATS: on its reply subject): a later response is a
   * duplicate, as after `malformed`.
   */
  fail(id: string, reason: (method: string) => Error, answered = false): UnmatchedReason | undefined {
    const call = this.pending.get(id);
    if (!call) return this.settledIds.reasonFor(id);
    const error = reason(call.actor.context.method);
    if (answered) brokenAnswers.add(error);
    call.actor.send({ type: 'response.error', error });
    return undefined;
  }

  /** `writeRequest` (the call enters `sent`): hands its frame to the send queue, which writes it now. */
  writeRequest(call: PendingCall): void {
    this.queue.write(call);
  }

  /** `notifyPeerOfCancel`: tells the peer that the call it may be handling is abandoned (batched per tick). */
  notifyPeerOfCancel(id: string): void {
    const call = this.pending.get(id);
    if (call) call.cancelSent = true;
    this.cancels.cancel(id);
  }

  /**
   * Tells the peer now that every call written and not settled is abandoned (with the notices already waiting for the
   * end of the tick): the connection is about to close, and a peer that cannot see it close would run their handlers
   * on for nobody. A -32800 answer to them is expected, not late.
   */
  cancelWritten(): void {
    for (const call of this.pending.values()) {
      if (call.inFlight && !call.cancelSent) this.notifyPeerOfCancel(call.actor.context.id);
    }
    this.cancels.flushNow();
  }

  /** `settleCaller`: the call reached a final state; settle its promise and forget it. */
  settle(call: PendingCall, status: CallStatus, context: CallContext): void {
    if (call.settled) return;
    const { id, error } = context;
    call.settled = true;
    // Read before it leaves the line: a call that timed out waiting was never answered because it was never sent.
    const unsent = status === 'timedOut' && this.queue.isWaiting(call) ? this.queue.holdUp() : undefined;
    this.pending.delete(id);
    this.queue.forget(call);
    if (call.signal) this.signals.remove(call.signal, call);
    const answered = status === 'resolved' || (status === 'failed' && (error instanceof RemoteError || brokenAnswers.has(error as Error)));
    // A call that ended without any response is 'abandoned': a response for it later is late, not a duplicate.
    this.settledIds.remember(id, answered ? 'answered' : call.cancelSent ? 'cancelled' : 'abandoned');
    this.settled?.(id);
    if (status === 'resolved') call.resolve(context.result);
    else call.reject(failure(status, context, call.site, unsent, (call.resends?.losses ?? 0) > 0));
  }
}

/** The errors of calls answered with a malformed response (`malformed`): such a call was answered, a later response is a duplicate. */
const brokenAnswers = new WeakSet<Error>();

/** The call's signal aborted with `reason`. */
function cancelCall(call: PendingCall, reason: unknown): void {
  call.actor.send({ type: 'call.cancel', reason });
}

/** The send queue releases a waiting call: its machine leaves `queued` for `sent`, whose entry writes it. */
function releaseCall(call: PendingCall): void {
  call.actor.send(RELEASE);
}

/** The send queue reports how a call's write ended; returns whether the call waits again (a retry call whose write failed). */
function tellWriteEnded(call: PendingCall, error: Error | undefined, refused: boolean): boolean {
  // The call may have settled (timeout, abort) before the socket finished the write.
  if (call.settled) return false;
  call.actor.send(error ? { type: 'request.writeFailed', error } : WRITTEN);
  const again = error !== undefined && !call.settled && call.actor.in(QUEUED);
  // A write that failed (some of it may have gone: the header a server closes for) means its transport is going: the
  // loss that follows counts against the call's re-sends (see `lost`). One refused at once sent nothing.
  if (call.resends !== undefined) call.resends.writeFailed = again && !refused;
  return again;
}
