/**
 * The lifecycle of one connection (either side of a socket).
 *
 *   connecting ──transport.opened──▶ open ──connection.close──▶ closing ──transport.closed──▶ closed
 *   (opening ⇄ waiting)                 │                                                   ▲
 *        ▲   │                          │                                                   │
 *        │   └──────────────────────────┼──── transport.closed (no reconnect, or gave up) ──┘
 *        └── transport.closed (reconnect)┘
 *
 * With a reconnect policy (client side, opt-in), a transport that closes
 * without being asked to goes back to `connecting`: `waiting` out a backoff
 * delay (exponential, with jitter), then `opening` a new transport (at once on
 * `reconnect.now`: the owner asked, or the network came back). Each
 * transport is an epoch. Losing an open connection suspends the calls: those
 * written on the lost epoch fail, unless marked retry; queued ones keep waiting.
 * After `maxAttempts` failed attempts in a row the connection closes. An
 * attempt fails when its transport never opens, or closes within `minUptime` of
 * opening (the owner reports how long it was open); one that stays open longer
 * starts the count over when it is lost.
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
import { connectionLogic, type ConnectionContext, type ConnectionEvent, type ConnectionInput } from './connection.logic.js';

export { backoffDelay, MIN_RECONNECT_DELAY } from './connection.logic.js';
export type { ConnectionContext, ConnectionEvent, ConnectionInput, ReconnectPolicy } from './connection.logic.js';

export const connectionMachine = setup({
  types: {
    input: {} as ConnectionInput,
    context: {} as ConnectionContext,
    events: {} as ConnectionEvent,
  },
  actions: {
    /** The connection is open (a new epoch): the owner resolves `ready`, starts the heartbeat, sends what waited in `queued` and emits `open`. Provided by the owner. */
    reportOpen: () => {},
    /** Hands an incoming frame to the owner's inbound dispatcher (its call, its handler, or the `unmatched` report). Provided by the owner. */
    dispatchMessage: () => {},
    /** Starts the close handshake on the transport. Provided by the owner. */
    closeTransport: () => {},
    /** The connection ends for good: the owner stops the heartbeat, rejects `ready` if it never opened, fails every pending call and cancels every incoming one, at once. Provided by the owner. */
    reportClosing: () => {},
    recordClose: assign(connectionLogic.assign.recordClose),
    recordError: assign(connectionLogic.assign.recordError),
    /** Tells the owner's listeners that the connection is closed. Provided by the owner. */
    reportClosed: () => {},
    markClosedLocally: assign(connectionLogic.assign.markClosedLocally),
    /** Opens the epoch's transport (on a server, hands over the accepted socket). Provided by the owner. */
    openTransport: () => {},
    beginEpoch: assign(connectionLogic.assign.beginEpoch),
    /** Counts the failed attempt and draws the delay before the next one. */
    planReconnect: assign(connectionLogic.assign.planReconnect),
    /** The open transport is lost and will be replaced: the owner fails the calls written on it (retry ones wait again) and cancels incoming ones. Provided by the owner. */
    reportLoss: () => {},
    /** Tells the owner's listeners that a new attempt comes after `retryDelay`. Provided by the owner. */
    reportReconnecting: () => {},
  },
  guards: {
    isAlreadyOpen: connectionLogic.guards.isAlreadyOpen,
    /** Reconnecting is on and has not used up its attempts. */
    mayReconnect: connectionLogic.guards.mayReconnect,
  },
  delays: {
    reconnectDelay: connectionLogic.delays.reconnectDelay,
  },
}).createMachine({
  id: 'connection',
  context: connectionLogic.fns.context,
  initial: 'connecting',
  states: {
    connecting: {
      description: 'Not open yet, or again: calls made now wait in queued.',
      initial: 'opening',
      on: {
        'transport.error': { actions: 'recordError' },
        'connection.close': { target: 'closing', actions: 'markClosedLocally' },
      },
      states: {
        opening: {
          description: 'A transport is opening: a new epoch.',
          entry: ['beginEpoch', 'openTransport'],
          always: { guard: 'isAlreadyOpen', target: '#connection.open' },
          on: {
            'transport.opened': { target: '#connection.open' },
            'transport.closed': [
              { guard: 'mayReconnect', target: 'waiting', actions: ['recordClose', 'planReconnect'] },
              { target: '#connection.closed', actions: 'recordClose' },
            ],
          },
        },
        waiting: {
          description: 'Reconnecting: waiting out the backoff delay before the next attempt.',
          entry: 'reportReconnecting',
          after: { reconnectDelay: { target: 'opening' } },
          on: {
            // No transport to close now.
            'connection.close': { target: '#connection.closed', actions: 'markClosedLocally' },
            // The owner asked (`reconnectNow()`), or the page's network came back: the wait has no purpose left.
            'reconnect.now': { target: 'opening' },
          },
        },
      },
    },
    open: {
      description: 'Messages flow both ways; responses are routed to their calls by id.',
      entry: 'reportOpen',
      on: {
        'message.received': { actions: 'dispatchMessage' },
        'transport.closed': [
          { guard: 'mayReconnect', target: '#connection.connecting.waiting', actions: ['recordClose', 'planReconnect', 'reportLoss'] },
          { target: 'closed', actions: 'recordClose' },
        ],
        'transport.error': { actions: 'recordError' },
        'connection.close': { target: 'closing', actions: 'markClosedLocally' },
      },
    },
    closing: {
      description: 'Close requested: pending calls have failed; waiting for the close handshake.',
      entry: ['reportClosing', 'closeTransport'],
      on: {
        'message.received': { actions: 'dispatchMessage' },
        'transport.closed': { target: 'closed', actions: 'recordClose' },
        'transport.error': { actions: 'recordError' },
      },
    },
    closed: {
      description: 'The transport is gone; every call still pending has failed.',
      type: 'final',
      entry: ['reportClosing', 'reportClosed'],
    },
  },
});
