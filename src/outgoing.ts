/**
 * Outgoing calls of one connection: one call actor per request, tracked in a
 * Map by id (never as children of the connection actor), plus a bounded memory
 * of recently settled ids so that a late or duplicate response is told apart
 * from an unknown one.
 */
import { createActor, type Actor } from 'xstate';
import { callMachine, type CallStatus } from '../machines/call.machine.js';
import { AbortError, ConnectionClosedError, RemoteError, TimeoutError } from './errors.js';
import type { ErrorObject } from './protocol/jsonrpc.js';
import { CANCEL_METHOD, encode, notificationFrame } from './protocol/jsonrpc.js';
import type { Clock, InspectOption, UnmatchedReason } from './types.js';

type CallActor = Actor<typeof callMachine>;

interface PendingCall {
  actor: CallActor;
  frame: string;
  resolve: (value: any) => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

export interface OutgoingOptions {
  /** Writes a text frame; `done` reports the write's outcome. */
  write: (frame: string, done: (error?: Error) => void) => void;
  inspect: InspectOption;
  clock: Clock | undefined;
  /** How many settled ids to remember for late/duplicate detection. */
  settledMemory: number;
}

export class OutgoingCalls {
  private readonly pending = new Map<string, PendingCall>();
  /**
   * Recently settled ids and how they ended, oldest first (bounded). A call
   * that ended without any response (timeout, cancel, connection lost, write
   * failed) is 'abandoned': a response for it later is late, not a duplicate.
   */
  private readonly settled = new Map<string, 'answered' | 'abandoned'>();
  private readonly logic;
  /** Options for every call actor; `clock` only when given, since an explicit undefined replaces XState's default. */
  private readonly actorOptions: { inspect?: InspectOption; clock?: Clock };

  constructor(private readonly options: OutgoingOptions) {
    this.actorOptions = {};
    if (options.inspect) this.actorOptions.inspect = options.inspect;
    if (options.clock) this.actorOptions.clock = options.clock;
    this.logic = callMachine.provide({
      actions: {
        writeRequest: ({ context, self }) => {
          const call = this.pending.get(context.id);
          if (!call) return;
          options.write(call.frame, (error) => {
            // The call may have settled (timeout, abort) before the socket finished the write.
            if (self.getSnapshot().status !== 'active') return;
            self.send(error ? { type: 'request.writeFailed', error } : { type: 'request.written' });
          });
        },
        notifyPeerOfCancel: ({ context }) => {
          options.write(encode(notificationFrame(CANCEL_METHOD, { id: context.id })), ignoreWriteError);
        },
        settleCaller: ({ context }, { status }) => this.settle(context.id, status, context),
      },
    });
  }

  /** Number of calls not yet settled. */
  get size(): number {
    return this.pending.size;
  }

  /** Starts a call actor. The caller has validated the arguments and encoded the frame. */
  start(
    input: { id: string; method: string; params: unknown; timeout: number; connectionOpen: boolean },
    frame: string,
    signal: AbortSignal | undefined,
  ): Promise<any> {
    return new Promise((resolve, reject) => {
      const actor = createActor(this.logic, { input, ...this.actorOptions });
      const call: PendingCall = { actor, frame, resolve, reject, signal, onAbort: undefined };
      this.pending.set(input.id, call);
      if (signal) {
        call.onAbort = () => actor.send({ type: 'call.cancel', reason: signal.reason });
        signal.addEventListener('abort', call.onAbort, { once: true });
      }
      actor.start();
    });
  }

  /** Sends a queued call now that the connection is open (nothing if it has settled meanwhile). */
  release(id: string): void {
    const call = this.pending.get(id);
    if (call?.actor.getSnapshot().matches({ pending: 'queued' })) call.actor.send({ type: 'connection.opened' });
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
    if (!call) {
      const ending = this.settled.get(id);
      if (ending === undefined) return 'unknown';
      return ending === 'abandoned' ? 'late' : 'duplicate';
    }
    // A queued call has not been written yet: nothing can legitimately answer it.
    if (call.actor.getSnapshot().matches({ pending: 'queued' })) return 'unknown';
    if ('result' in outcome) {
      call.actor.send({ type: 'response.result', result: outcome.result });
    } else {
      const { code, message, data } = outcome.error;
      call.actor.send({ type: 'response.error', error: new RemoteError(code, message, data) });
    }
    return undefined;
  }

  private settle(id: string, status: CallStatus, context: { method: string; timeout: number; result?: unknown; error?: unknown }): void {
    const call = this.pending.get(id);
    if (!call) return;
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
          context.error instanceof RemoteError || context.error instanceof ConnectionClosedError
            ? context.error
            : new ConnectionClosedError(`call "${context.method}" (id ${id}) could not be written`, { cause: context.error }),
        );
        break;
    }
  }

  private remember(id: string, ending: 'answered' | 'abandoned'): void {
    if (this.options.settledMemory === 0) return;
    this.settled.set(id, ending);
    if (this.settled.size > this.options.settledMemory) {
      const oldest = this.settled.keys().next().value as string;
      this.settled.delete(oldest);
    }
  }
}

function ignoreWriteError(): void {
  // A cancel notice that cannot be written has nobody left to tell.
}
