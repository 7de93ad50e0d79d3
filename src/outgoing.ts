/**
 * Outgoing calls of one connection: one call actor per request, tracked in a
 * Map by id (never as children of the connection actor), plus a bounded memory
 * of recently settled ids so that a late or duplicate response is told apart
 * from an unknown one.
 *
 * Each call runs `callMachine`, by default on the light engine (a transition
 * table compiled from the machine, one shared deadline timer, see
 * `src/engine/`), or as a full XState actor with `engine: 'xstate'`. The
 * owner's side of the machine (writing the request, telling the peer about a
 * cancellation, settling the caller) is the same code for both.
 */
import { createActor, type Actor } from 'xstate';
import { callMachine, type CallEvent, type CallInput, type CallStatus } from '../machines/call.machine.js';
import { FlatActor, toInspectFunction, type ActorScope } from './engine/actor.js';
import { compileMachine } from './engine/compile.js';
import { schedulerFor } from './engine/deadlines.js';
import { Fifo } from './engine/fifo.js';
import { AbortError, CallstateError, ConnectionClosedError, NoRespondersError, RemoteError, TimeoutError } from './errors.js';
import type { ErrorObject } from './protocol/jsonrpc.js';
import { CANCEL_METHOD, encode, notificationFrame } from './protocol/jsonrpc.js';
import type { Clock, Engine, InspectOption, UnmatchedReason } from './types.js';

interface CallActor {
  send(event: CallEvent): void;
}

/** One pending call: its actor and what the caller waits on. */
interface PendingCall {
  actor: CallActor;
  /** The encoded request, until it is written. */
  frame: string | undefined;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  /** Set once the call's final state is reached (its actor may still be finishing the step). */
  settled: boolean;
}

type Ending = 'answered' | 'abandoned';
type CallContext = CallInput & { result?: unknown; error?: unknown };
type LightCall = FlatActor<CallContext, PendingCall>;

/** The call machine compiled once for every connection; its actions reach their connection through the actor's scope. */
const lightCall = compileMachine<CallContext>(callMachine, {
  actions: {
    writeRequest: ({ self }) => hostOf(self).writeRequest(self.owner as PendingCall),
    notifyPeerOfCancel: ({ context, self }) => hostOf(self).notifyPeerOfCancel(context.id),
    settleCaller: ({ context, self }, { status }: { status: CallStatus }) => hostOf(self).settle(context.id, self.owner as PendingCall, status, context),
  },
});
const QUEUED = lightCall.states.get('call.pending.queued')!;

/** Most `$/cancelRequest` notices in one batch frame: a server's default `maxBatch`. */
export const MAX_CANCEL_BATCH = 100;

const WRITTEN: CallEvent = Object.freeze({ type: 'request.written' });
const OPENED: CallEvent = Object.freeze({ type: 'connection.opened' });

function hostOf(actor: FlatActor<any, any>): OutgoingCalls {
  return actor.scope.host as OutgoingCalls;
}

export interface OutgoingOptions {
  /** Writes a text frame; `done` reports the write's outcome. Calls `done` in the order of the writes. */
  write: (frame: string, done?: (error?: Error) => void) => void;
  inspect: InspectOption;
  clock: Clock | undefined;
  /** How many settled ids to remember for late/duplicate detection. */
  settledMemory: number;
  /** Which interpreter runs each call. */
  engine: Engine;
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
  /** Calls whose request frame is being written, in write order (transports call back in that order). */
  private readonly writing = new Fifo<PendingCall>();
  private readonly scope: ActorScope<OutgoingCalls>;
  private readonly xstateLogic;
  private readonly xstateOptions: { inspect?: InspectOption; clock?: Clock };

  constructor(private readonly options: OutgoingOptions) {
    this.scope = { host: this, scheduler: schedulerFor(options.clock), inspect: toInspectFunction(options.inspect), parent: undefined, onDone: undefined };
    // `clock` only when given: an explicit undefined would replace XState's default.
    this.xstateOptions = {};
    if (options.inspect) this.xstateOptions.inspect = options.inspect;
    if (options.clock) this.xstateOptions.clock = options.clock;
    this.xstateLogic = callMachine.provide({
      actions: {
        writeRequest: ({ context }) => this.writeRequest(this.pending.get(context.id)!),
        notifyPeerOfCancel: ({ context }) => this.notifyPeerOfCancel(context.id),
        settleCaller: ({ context }, { status }) => this.settle(context.id, this.pending.get(context.id), status, context),
      },
    });
  }

  /** Reported as every call actor's parent to inspectors (light engine). */
  set parent(actor: ActorScope['parent']) {
    this.scope.parent = actor;
  }

  /** Number of calls not yet settled. */
  get size(): number {
    return this.pending.size;
  }

  /** Starts a call actor. The caller has validated the arguments and encoded the frame. */
  start(input: CallInput, frame: string, signal: AbortSignal | undefined): Promise<any> {
    return new Promise((resolve, reject) => {
      const call: PendingCall = { actor: undefined!, frame, resolve, reject, signal, onAbort: undefined, settled: false };
      this.pending.set(input.id, call);
      let start: () => void;
      if (this.options.engine === 'light') {
        // The frame carries the params; the context keeps them only for inspectors to show.
        const context = this.scope.inspect ? input : { id: input.id, method: input.method, timeout: input.timeout, connectionOpen: input.connectionOpen };
        const actor: LightCall = new FlatActor(lightCall, this.scope, context, call);
        call.actor = actor;
        start = () => actor.start();
      } else {
        const actor = createActor(this.xstateLogic, { input, ...this.xstateOptions });
        call.actor = actor;
        start = () => actor.start();
      }
      if (signal) {
        call.onAbort = () => call.actor.send({ type: 'call.cancel', reason: signal.reason });
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
      start();
    });
  }

  /** Sends a queued call now that the connection is open (nothing if it has settled meanwhile). */
  release(id: string): void {
    const call = this.pending.get(id);
    if (call && isQueued(call.actor)) call.actor.send(OPENED);
  }

  /** Fails every pending call with the same error. */
  failAll(error: ConnectionClosedError): void {
    for (const call of [...this.pending.values()]) call.actor.send({ type: 'connection.closed', error });
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
    if (isQueued(call.actor)) return 'unknown';
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
    call.actor.send({ type: 'response.error', error: new NoRespondersError(methodOf(call.actor), subject) });
    return undefined;
  }

  /** Why an answer for `id`, which no pending call has, matches nothing: a call that ended without one (late), with one (duplicate), or none remembered. */
  private unmatchedReason(id: string): UnmatchedReason {
    const ending = this.recent.get(id) ?? this.older.get(id);
    if (ending === undefined) return 'unknown';
    return ending === 'abandoned' ? 'late' : 'duplicate';
  }

  /** `writeRequest`: hands the frame to the transport; the shared callback tells the call when it is on the wire. */
  writeRequest(call: PendingCall): void {
    const frame = call.frame!;
    call.frame = undefined;
    this.writing.push(call);
    this.options.write(frame, this.written);
  }

  /** One callback for every request write: the transport calls back in write order. */
  private readonly written = (error?: Error): void => {
    const call = this.writing.shift();
    // The call may have settled (timeout, abort) before the socket finished the write.
    if (call === undefined || call.settled) return;
    call.actor.send(error ? { type: 'request.writeFailed', error } : WRITTEN);
  };

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

function isQueued(actor: CallActor): boolean {
  return actor instanceof FlatActor ? actor.state === QUEUED : (actor as Actor<typeof callMachine>).getSnapshot().matches({ pending: 'queued' });
}

function methodOf(actor: CallActor): string {
  return actor instanceof FlatActor ? (actor as LightCall).context.method : (actor as Actor<typeof callMachine>).getSnapshot().context.method;
}

function ignoreWriteError(): void {
  // A cancel notice that cannot be written has nobody left to tell.
}
