/**
 * The call machine's own logic (context, assignments, guards, delays, outputs) as
 * plain functions, importable without XState: `call.machine.ts` hands them to
 * `setup()`, and the light engine's generated table (`src/engine/generated/`)
 * names them, so the browser build runs the machine without bundling XState.
 * The machine stays the source of truth: the table is generated from it.
 */
export interface CallInput {
  /** Correlation id carried by the request and its response. */
  id: string;
  method: string;
  params?: unknown;
  /** Milliseconds from creation until the call times out. */
  timeout: number;
  /** Whether the call may be written at once: the connection is open and has room for it (if not, it waits in `queued`). */
  sendNow: boolean;
  /** The caller marked the call safe to run twice: a connection lost after it was written re-sends it instead of failing it. */
  retry?: boolean;
}

export interface CallContext extends CallInput {
  result?: unknown;
  /** Why the call failed: the remote error object, or the local cause. */
  error?: unknown;
}

export type CallEvent =
  | { type: 'call.release' }
  | { type: 'connection.lost'; error: unknown }
  | { type: 'request.written' }
  | { type: 'request.writeFailed'; error: unknown }
  | { type: 'response.result'; result: unknown }
  | { type: 'response.error'; error: unknown }
  | { type: 'connection.closed'; error: unknown }
  | { type: 'call.cancel'; reason?: unknown };

export type CallStatus = 'resolved' | 'failed' | 'timedOut' | 'cancelled';

export interface CallOutput {
  status: CallStatus;
  result?: unknown;
  error?: unknown;
}

interface Args {
  context: CallContext;
  event: CallEvent;
}

/** The machine's output in a final state: what the caller receives. */
function outputFor(status: CallStatus) {
  return ({ context }: { context: CallContext }): CallOutput => ({ status, result: context.result, error: context.error });
}

export const callLogic = {
  assign: {
    recordResult: ({ event }: Args) => ({ result: event.type === 'response.result' ? event.result : undefined }),
    recordError: ({ event }: Args) => {
      switch (event.type) {
        case 'response.error':
        case 'request.writeFailed':
        case 'connection.closed':
        case 'connection.lost':
          return { error: event.error };
        case 'call.cancel':
          return { error: event.reason };
        default:
          return { error: undefined };
      }
    },
    /** Back to waiting: the call is written again only when released. */
    holdForRelease: () => ({ sendNow: false }),
  },
  guards: {
    mayBeSentNow: ({ context }: { context: CallContext }) => context.sendNow,
    /** The caller opted in to a re-send after a lost connection (an idempotent call). */
    mayRetry: ({ context }: { context: CallContext }) => context.retry === true,
  },
  delays: {
    callTimeout: ({ context }: { context: CallContext }) => context.timeout,
  },
  fns: {
    // The input is made for this one call (outgoing.ts gives it every slot the context needs): it becomes the
    // context, uncopied. XState never changes a context in place; the light engine does, and owns this one (issue 16).
    context: ({ input }: { input: CallInput }): CallContext => input,
    // The machine's output is that of the final state it ends in.
    output: ({ event }: { event: { output?: unknown } }) => event.output as CallOutput,
    resolvedOutput: outputFor('resolved'),
    failedOutput: outputFor('failed'),
    timedOutOutput: outputFor('timedOut'),
    cancelledOutput: outputFor('cancelled'),
  },
};
