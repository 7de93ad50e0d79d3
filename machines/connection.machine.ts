/**
 * The lifecycle of one connection (either side of a socket).
 *
 *   connecting ──transport.opened──▶ open ──connection.close──▶ closing ──transport.closed──▶ closed
 *        │                            │                                                   ▲
 *        └──────────────────────────── transport.closed ────────────────────────────────────┘
 *
 * A transport reports an error before it closes (as ws does): the error is kept
 * as the cause, and the close that follows ends the connection.
 * The connection owns the transport and the routing of incoming messages, but
 * not the calls: outgoing calls are root actors in the owner's own map keyed by
 * id (keeping them as children would make every spawn and stop cost more with
 * each live call). The machine does no I/O: closing the socket, sending queued
 * calls, routing a message and failing pending calls are named actions that the
 * owner provides.
 */
import { assign, setup } from 'xstate';

export interface ConnectionInput {
  /** Where the connection goes, for display (a ws:// URL, or the peer's address on a server). */
  url: string;
  /** True when the transport is already open (a server-side socket). */
  alreadyOpen?: boolean;
}

export interface ConnectionContext {
  url: string;
  alreadyOpen: boolean;
  /** Close code of the socket once closed (1006 when it dropped without a close frame). */
  closeCode?: number;
  closeReason?: string;
  /** The transport error that ended the connection, if one did. */
  error?: unknown;
  /** True when the local side asked to close. */
  closedLocally: boolean;
}

export type ConnectionEvent =
  | { type: 'transport.opened' }
  | { type: 'transport.closed'; code: number; reason: string }
  | { type: 'transport.error'; error: unknown }
  | { type: 'message.received'; data: string }
  | { type: 'connection.close'; code?: number; reason?: string };

export const connectionMachine = setup({
  types: {
    input: {} as ConnectionInput,
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
  },
  actions: {
    /** Sends every call that waited in `queued`. Provided by the owner. */
    flushQueuedCalls: () => {},
    /** Decodes an incoming frame and routes it to its call, its handler or the `unmatched` report. Provided by the owner. */
    routeMessage: () => {},
    /** Starts the close handshake on the transport. Provided by the owner. */
    closeTransport: () => {},
    /** Fails every pending call and cancels every incoming one, at once. Provided by the owner. */
    failPendingCalls: () => {},
    recordClose: assign({
      closeCode: ({ event, context }) => (event.type === 'transport.closed' ? event.code : context.closeCode),
      closeReason: ({ event, context }) => (event.type === 'transport.closed' ? event.reason : context.closeReason),
    }),
    recordError: assign({
      error: ({ event, context }) => (event.type === 'transport.error' ? event.error : context.error),
    }),
    /** Tells the owner's listeners that the connection is closed. Provided by the owner. */
    reportClosed: () => {},
    markClosedLocally: assign({ closedLocally: true }),
  },
  guards: {
    isAlreadyOpen: ({ context }) => context.alreadyOpen,
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({ url: input.url, alreadyOpen: input.alreadyOpen ?? false, closedLocally: false }),
  initial: 'connecting',
  states: {
    connecting: {
      description: 'Opening the transport; calls made now wait in queued.',
      always: { guard: 'isAlreadyOpen', target: 'open' },
      on: {
        'transport.opened': { target: 'open' },
        'transport.closed': { target: 'closed', actions: 'recordClose' },
        'transport.error': { actions: 'recordError' },
        'connection.close': { target: 'closing', actions: 'markClosedLocally' },
      },
    },
    open: {
      description: 'Messages flow both ways; responses are routed to their calls by id.',
      entry: 'flushQueuedCalls',
      on: {
        'message.received': { actions: 'routeMessage' },
        'transport.closed': { target: 'closed', actions: 'recordClose' },
        'transport.error': { actions: 'recordError' },
        'connection.close': { target: 'closing', actions: 'markClosedLocally' },
      },
    },
    closing: {
      description: 'Close requested: pending calls have failed; waiting for the close handshake.',
      entry: ['failPendingCalls', 'closeTransport'],
      on: {
        'message.received': { actions: 'routeMessage' },
        'transport.closed': { target: 'closed', actions: 'recordClose' },
        'transport.error': { actions: 'recordError' },
      },
    },
    closed: {
      description: 'The transport is gone; every call still pending has failed.',
      type: 'final',
      entry: ['failPendingCalls', 'reportClosed'],
    },
  },
});
