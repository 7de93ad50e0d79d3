/**
 * The incoming-call machine's own logic (context, assignments, the handler's
 * input) as plain functions, importable without XState: `incomingCall.machine.ts`
 * hands them to `setup()`, and the light engine's generated table
 * (`src/engine/generated/`) names them, so the browser build runs the machine
 * without bundling XState.
 */
export interface IncomingCallInput {
  id: string | number;
  method: string;
  params?: unknown;
}

export interface IncomingCallContext extends IncomingCallInput {
  result?: unknown;
  /** What the handler threw (any value, even undefined). */
  error?: unknown;
  /** Why the call failed, once it has. */
  failure?: 'methodNotFound' | 'handlerThrew';
}

export interface HandlerInput {
  method: string;
  params: unknown;
  id: string | number;
}

export type IncomingCallEvent = { type: 'call.cancel'; reason?: unknown } | { type: 'connection.closed'; error?: unknown };

/** The invoked handler's done or error event (`xstate.done.actor.*`, `xstate.error.actor.*`). */
interface HandlerEventArgs {
  event: { type: string; output?: unknown; error?: unknown };
}

export const incomingCallLogic = {
  assign: {
    recordResult: ({ event }: HandlerEventArgs) => ({ result: event.output }),
    recordError: ({ event }: HandlerEventArgs) => ({ error: event.error, failure: 'handlerThrew' as const }),
    recordMethodNotFound: () => ({ failure: 'methodNotFound' as const }),
  },
  fns: {
    // As the call machine's: the input is made for this one call (incoming.ts) and becomes the context, uncopied.
    context: ({ input }: { input: IncomingCallInput }): IncomingCallContext => input,
    handlerInput: ({ context }: { context: IncomingCallContext }): HandlerInput => ({
      method: context.method,
      params: context.params,
      id: context.id,
    }),
  },
};
