/**
 * The responder side: the lifecycle of one incoming request.
 *
 *   received ──▶ handling ──handler done──▶ replied
 *      │            ├────── handler threw ──▶ failed
 *      │            ├── call.cancel (answered -32800) ─────▶ cancelled
 *      │            └── connection.closed ──────────────────▶ cancelled
 *      └── no such method ──▶ failed
 *
 * The handler runs as an invoked promise actor: leaving `handling` before it
 * settles (a cancel, a close) stops it, which aborts the `signal` the handler
 * was given; once it has answered, its signal stays as it is. Looking up
 * the method and writing the reply are named actions and guards that the owner
 * provides; the machine itself does no I/O.
 */
import { assign, fromPromise, setup } from 'xstate';
import {
  incomingCallLogic,
  type HandlerInput,
  type IncomingCallContext,
  type IncomingCallEvent,
  type IncomingCallInput,
} from './incomingCall.logic.js';

export type { HandlerInput, IncomingCallContext, IncomingCallEvent, IncomingCallInput } from './incomingCall.logic.js';

export const incomingCallMachine = setup({
  types: {
    input: {} as IncomingCallInput,
    context: {} as IncomingCallContext,
    events: {} as IncomingCallEvent,
  },
  actors: {
    /** Runs the method's handler. Provided by the owner; the default answers nothing. */
    handler: fromPromise<unknown, HandlerInput>(async () => undefined),
  },
  actions: {
    /** Writes the result response. Provided by the owner. */
    sendResult: () => {},
    /** Writes the error response (method not found, or what the handler threw). Provided by the owner. */
    sendError: () => {},
    /** Answers a request its caller cancelled with -32800 (RequestCancelled), as LSP servers do. Provided by the owner. */
    sendCancelled: () => {},
    /** Keeps what the handler returned (the invoke's done event). */
    recordResult: assign(incomingCallLogic.assign.recordResult),
    /** Keeps what the handler threw (the invoke's error event). */
    recordError: assign(incomingCallLogic.assign.recordError),
    recordMethodNotFound: assign(incomingCallLogic.assign.recordMethodNotFound),
  },
  guards: {
    /** Whether the method exists among the responder's own methods. Provided by the owner. */
    hasMethod: () => true,
  },
}).createMachine({
  id: 'incomingCall',
  context: incomingCallLogic.fns.context,
  initial: 'received',
  states: {
    received: {
      description: 'A request arrived; looking up its method.',
      always: [
        { guard: 'hasMethod', target: 'handling' },
        { target: 'failed', actions: 'recordMethodNotFound' },
      ],
    },
    handling: {
      description: "The method's handler runs; its signal aborts if the call is cancelled or the connection closes.",
      invoke: {
        src: 'handler',
        input: incomingCallLogic.fns.handlerInput,
        onDone: {
          target: 'replied',
          actions: 'recordResult',
        },
        onError: {
          target: 'failed',
          actions: 'recordError',
        },
      },
      on: {
        'call.cancel': { target: 'cancelled', actions: 'sendCancelled' },
        'connection.closed': { target: 'cancelled' },
      },
    },
    replied: {
      description: 'The result went back to the caller.',
      type: 'final',
      entry: 'sendResult',
    },
    failed: {
      description: 'An error response went back: unknown method, or the handler threw.',
      type: 'final',
      entry: 'sendError',
    },
    cancelled: {
      description: 'The caller cancelled (answered -32800) or went away (nothing is sent).',
      type: 'final',
    },
  },
});
