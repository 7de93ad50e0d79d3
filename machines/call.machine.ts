/**
 * The lifecycle of one outgoing call.
 *
 *                            ┌─ inFlight ───────────────────────────────┐
 *   queued ──call.release──▶ │ sent ──request.written──▶ awaiting       │
 *     ▲  │                   └──┬───────────────────────────────────┬───┘
 *     │  │                      │                                   │ response.*
 *     │  │                      │                                   ▼
 *     │  └── call.cancel / connection.closed / deadline ──▶ resolved | failed | timedOut | cancelled
 *     │                         │                                   ▲
 *     └── connection.lost ──────┴── (retry) ── otherwise ───────────┘
 *
 * A call waits in `queued` while the connection is not open (connecting, or
 * reconnecting) or has no room for it (the in-flight limit, or a socket whose
 * buffer is full); `call.release` sends it. When the connection is lost and
 * will be reconnected, a call that was written fails, unless its caller marked
 * it `retry` (safe to run twice): then it waits in `queued` again and is re-sent
 * on the next connection. A call is never re-sent otherwise.
 *
 * `sent` and `awaiting` are the two steps of `inFlight`, which holds what they
 * share: a response, a cancel or a lost connection is handled the same in both.
 * Leaving `inFlight` by cancel or deadline tells the peer with
 * `$/cancelRequest`, so its handler stops working for nobody.
 * The deadline runs from the moment the call is made, through `queued`, `sent` and
 * `awaiting` (it is armed once, on `pending`): a call never waits longer than its
 * timeout, whatever holds it up.
 * The machine does no I/O. Writing the request, telling the peer about a
 * cancellation and settling the caller's promise are named actions that the
 * owner provides (`callMachine.provide({ actions })`).
 */
import { assign, setup, stateIn } from 'xstate';
import { callLogic, type CallContext, type CallEvent, type CallInput, type CallOutput, type CallStatus } from './call.logic.js';

export type { CallContext, CallEvent, CallInput, CallOutput, CallStatus } from './call.logic.js';

export const callMachine = setup({
  types: {
    input: {} as CallInput,
    context: {} as CallContext,
    events: {} as CallEvent,
    output: {} as CallOutput,
  },
  actions: {
    /** Hands the request frame to the transport. Provided by the owner. */
    writeRequest: () => {},
    /** Sends `$/cancelRequest` for a request the peer has already seen. Provided by the owner. */
    notifyPeerOfCancel: () => {},
    /** Settles the caller's promise from the final state. Provided by the owner. */
    settleCaller: (_, _params: { status: CallStatus }) => {},
    recordResult: assign(callLogic.assign.recordResult),
    recordError: assign(callLogic.assign.recordError),
    /** Back to waiting: the call is written again only when released. */
    holdForRelease: assign(callLogic.assign.holdForRelease),
  },
  guards: {
    mayBeSentNow: callLogic.guards.mayBeSentNow,
    /** The caller opted in to a re-send after a lost connection (an idempotent call). */
    mayRetry: callLogic.guards.mayRetry,
    /** Still waiting for the connection: the peer has never seen the request. */
    isQueued: stateIn({ pending: 'queued' }),
  },
  delays: {
    callTimeout: callLogic.delays.callTimeout,
  },
}).createMachine({
  id: 'call',
  context: callLogic.fns.context,
  // The machine's output is that of the final state it ends in.
  output: callLogic.fns.output,
  initial: 'pending',
  states: {
    pending: {
      description: 'Not settled yet: the deadline runs from creation through every pending state.',
      initial: 'queued',
      after: {
        // A request the peer may have seen is cancelled there too, so the deadline reaches its handler.
        callTimeout: [
          { guard: 'isQueued', target: 'timedOut' },
          { target: 'timedOut', actions: 'notifyPeerOfCancel' },
        ],
      },
      on: {
        'connection.closed': { target: 'failed', actions: 'recordError' },
      },
      states: {
        queued: {
          description:
            'Waiting for the connection to open, or for room in it (in-flight limit, full socket buffer); goes out when released.',
          always: { guard: 'mayBeSentNow', target: 'inFlight' },
          on: {
            'call.release': { target: 'inFlight' },
            'call.cancel': { target: '#call.cancelled', actions: 'recordError' },
          },
        },
        inFlight: {
          description:
            'Handed to the transport (counted against the in-flight limit): the peer may have the request, so a cancel or the deadline tells it.',
          initial: 'sent',
          on: {
            'connection.lost': [
              { guard: 'mayRetry', target: 'queued', actions: 'holdForRelease' },
              { target: '#call.failed', actions: 'recordError' },
            ],
            'response.result': { target: '#call.resolved', actions: 'recordResult' },
            'response.error': { target: '#call.failed', actions: 'recordError' },
            'call.cancel': { target: '#call.cancelled', actions: ['recordError', 'notifyPeerOfCancel'] },
          },
          states: {
            sent: {
              description: 'The request frame is handed to the transport.',
              entry: 'writeRequest',
              on: {
                'request.written': { target: 'awaiting' },
                'request.writeFailed': [
                  { guard: 'mayRetry', target: '#call.pending.queued', actions: 'holdForRelease' },
                  { target: '#call.failed', actions: 'recordError' },
                ],
              },
            },
            awaiting: {
              description: 'The request is on the wire; waiting for the response with its id.',
            },
          },
        },
      },
    },
    resolved: {
      description: 'The response carried a result.',
      type: 'final',
      entry: { type: 'settleCaller', params: { status: 'resolved' } },
      output: callLogic.fns.resolvedOutput,
    },
    failed: {
      description:
        'The peer answered with an error, the write failed, or the connection closed (or was lost, for a call not marked retry).',
      type: 'final',
      entry: { type: 'settleCaller', params: { status: 'failed' } },
      output: callLogic.fns.failedOutput,
    },
    timedOut: {
      description: 'No response within the timeout; a late response will be reported as unmatched.',
      type: 'final',
      entry: { type: 'settleCaller', params: { status: 'timedOut' } },
      output: callLogic.fns.timedOutOutput,
    },
    cancelled: {
      description: "Aborted through the caller's signal.",
      type: 'final',
      entry: { type: 'settleCaller', params: { status: 'cancelled' } },
      output: callLogic.fns.cancelledOutput,
    },
  },
});
