/**
 * Incoming calls of one connection: one incoming-call actor per request, the
 * handler run as its invoked promise actor (whose signal becomes `ctx.signal`),
 * and replies collected per batch when the request came in a JSON-RPC batch.
 */
import { createActor, fromPromise, type Actor } from 'xstate';
import { incomingCallMachine, type HandlerInput } from '../machines/incomingCall.machine.js';
import { RpcError } from './errors.js';
import { encode, errorFrame, ErrorCodes, resultFrame, type Frame, type Id, type RequestFrame } from './protocol/jsonrpc.js';
import type { HandlerContext, InspectOption } from './types.js';

type AnyHandler = (params: any, ctx: HandlerContext<any>) => unknown;

/** Collects the replies to one batch and writes them as one array frame. */
export class BatchReply {
  private readonly frames: Frame[] = [];
  private expected = 0;
  private sealed = false;
  private written = false;

  constructor(private readonly write: (text: string) => void) {}

  expect(): void {
    this.expected++;
  }

  add(frame: Frame): void {
    this.frames.push(frame);
    this.flushIfDone();
  }

  /** A request that will never be answered (cancelled): stop waiting for it. */
  drop(): void {
    this.expected--;
    this.flushIfDone();
  }

  /** Every message of the batch has been seen. */
  seal(): void {
    this.sealed = true;
    this.flushIfDone();
  }

  private flushIfDone(): void {
    if (this.written || !this.sealed || this.frames.length < this.expected) return;
    this.written = true;
    if (this.frames.length > 0) this.write(encode(this.frames));
  }
}

interface IncomingEntry {
  actor: Actor<typeof incomingCallMachine>;
  batch: BatchReply | undefined;
}

export interface IncomingOptions {
  methods: Record<string, AnyHandler>;
  /** What handlers see as `ctx.peer`. */
  peer: HandlerContext<any>['peer'];
  /** Writes a reply frame (ignored once the connection is gone); `id` is the request's, for transports that route replies by it. */
  write: (text: string, id: Id) => void;
  inspect: InspectOption;
  /** Include the handler error's stack in the error response's `data`. */
  exposeErrorStack: boolean;
}

const hasOwn = Object.prototype.hasOwnProperty;

export class IncomingCalls {
  private readonly inFlight = new Map<Id, IncomingEntry>();
  private readonly logic;

  constructor(private readonly options: IncomingOptions) {
    const { methods } = options;
    this.logic = incomingCallMachine.provide({
      guards: {
        // Own function properties only: `__proto__`, `toString` and friends are not methods.
        hasMethod: ({ context }) =>
          hasOwn.call(methods, context.method) && typeof methods[context.method] === 'function',
      },
      actors: {
        handler: fromPromise<unknown, HandlerInput>(({ input, signal }) =>
          // Called through a promise chain so a handler that throws synchronously is an error response too.
          Promise.resolve().then(() =>
            methods[input.method]!(input.params, { signal, peer: options.peer, id: input.id, method: input.method }),
          ),
        ),
      },
      actions: {
        sendResult: ({ context }) =>
          this.replyEncodable(context.id, resultFrame(context.id, context.result), (error) =>
            errorFrame(context.id, {
              code: ErrorCodes.InternalError,
              message: `the result of "${context.method}" cannot be encoded as JSON: ${error.message}`,
            }),
          ),
        sendError: ({ context }) => {
          const error = context.failure === 'methodNotFound'
            ? { code: ErrorCodes.MethodNotFound, message: `method not found: ${context.method}` }
            : this.toErrorObject(context.error);
          // The thrown value's data cannot travel as JSON: answer without it rather than not at all.
          this.replyEncodable(context.id, errorFrame(context.id, error), () =>
            errorFrame(context.id, { code: error.code, message: error.message }),
          );
        },
      },
    });
  }

  /** Number of incoming calls still being handled. */
  get size(): number {
    return this.inFlight.size;
  }

  /** Handles one request. Returns false when a request with the same id is already in flight. */
  receive(frame: RequestFrame, batch?: BatchReply): boolean {
    if (this.inFlight.has(frame.id)) return false;
    const actor = createActor(this.logic, {
      input: { id: frame.id, method: frame.method, params: frame.params },
      inspect: this.options.inspect,
    });
    const entry: IncomingEntry = { actor, batch };
    batch?.expect();
    this.inFlight.set(frame.id, entry);
    actor.subscribe({
      complete: () => {
        this.inFlight.delete(frame.id);
        // Cancelled calls send nothing; a batch must not wait for them.
        if (batch && actor.getSnapshot().matches('cancelled')) batch.drop();
      },
    });
    actor.start();
    return true;
  }

  /** The caller sent `$/cancelRequest`. Returns whether a call was in flight. */
  cancel(id: Id, reason?: unknown): boolean {
    const entry = this.inFlight.get(id);
    if (!entry) return false;
    entry.actor.send({ type: 'call.cancel', reason });
    return true;
  }

  /** The connection is gone: abort every handler. */
  cancelAll(): void {
    for (const entry of [...this.inFlight.values()]) entry.actor.send({ type: 'connection.closed' });
  }

  /** Replies with `frame`, or with the fallback when `frame` cannot be encoded as JSON. */
  private replyEncodable(id: Id, frame: Frame, fallback: (error: Error) => Frame): void {
    let text: string;
    try {
      text = encode(frame);
    } catch (error) {
      frame = fallback(error as Error);
      text = encode(frame);
    }
    const batch = this.inFlight.get(id)?.batch;
    if (batch) batch.add(frame);
    else this.options.write(text, id);
  }

  private toErrorObject(error: unknown): { code: number; message: string; data?: unknown } {
    if (error instanceof RpcError) {
      return error.data === undefined
        ? { code: error.code, message: String(error.message) }
        : { code: error.code, message: String(error.message), data: error.data };
    }
    const isError = error instanceof Error;
    const name = isError ? error.name : typeof error;
    return {
      code: ErrorCodes.InternalError,
      message: isError ? String(error.message) : safeString(error),
      data: this.options.exposeErrorStack && isError ? { name, stack: error.stack } : { name },
    };
  }
}

/** String(value) that cannot throw (an object without a prototype has no toString). */
function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
