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
 * delay (exponential, with jitter), then `opening` a new transport. Each
 * transport is an epoch. Losing an open connection suspends the calls: those
 * written on the lost epoch fail, unless marked retry; queued ones keep waiting.
 * After `maxAttempts` failed attempts in a row the connection closes.
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
  /** How to reconnect when the transport is lost; none: a lost transport closes the connection. */
  reconnect?: ReconnectPolicy;
}

/** When and how often to try again after the transport is lost or fails to open. */
export interface ReconnectPolicy {
  /** Delay before the first attempt, in ms. */
  initialDelay: number;
  /** Longest delay between attempts, in ms. */
  maxDelay: number;
  /** Each delay is the previous one times this. */
  factor: number;
  /** Fraction of each delay that is random (0: none; 0.5: between half and all of it). */
  jitter: number;
  /** Failed attempts in a row before giving up and closing. */
  maxAttempts: number;
}

/**
 * The delay before attempt number `attempt` (1 for the first): exponential,
 * capped at `maxDelay`, with the random `sample` (in [0, 1)) taking off up to
 * `jitter` of it so that clients dropped together do not return together.
 */
export function backoffDelay(policy: ReconnectPolicy, attempt: number, sample: number): number {
  const delay = Math.min(policy.maxDelay, policy.initialDelay * policy.factor ** (attempt - 1));
  return Math.round(delay * (1 - policy.jitter * sample));
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
  reconnect: ReconnectPolicy | undefined;
  /** How many transports have been opened or tried: each one is an epoch. */
  epoch: number;
  /** Failed attempts since the connection was last open. */
  attempt: number;
  /** The delay before the next attempt, in ms. */
  retryDelay: number;
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
    /** The connection is open (a new epoch): the owner resolves `ready`, starts the heartbeat, sends what waited in `queued` and emits `open`. Provided by the owner. */
    reportOpen: () => {},
    /** Hands an incoming frame to the owner's inbound dispatcher (its call, its handler, or the `unmatched` report). Provided by the owner. */
    dispatchMessage: () => {},
    /** Starts the close handshake on the transport. Provided by the owner. */
    closeTransport: () => {},
    /** The connection ends for good: the owner stops the heartbeat, rejects `ready` if it never opened, fails every pending call and cancels every incoming one, at once. Provided by the owner. */
    reportClosing: () => {},
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
    /** Opens the epoch's transport (on a server, hands over the accepted socket). Provided by the owner. */
    openTransport: () => {},
    beginEpoch: assign({ epoch: ({ context }) => context.epoch + 1, error: undefined }),
    /** Counts the failed attempt and draws the delay before the next one. */
    planReconnect: assign(({ context }) => {
      const attempt = context.attempt + 1;
      return { attempt, retryDelay: backoffDelay(context.reconnect!, attempt, Math.random()) };
    }),
    resetAttempts: assign({ attempt: 0 }),
    /** The open transport is lost and will be replaced: the owner fails the calls written on it (retry ones wait again) and cancels incoming ones. Provided by the owner. */
    reportLoss: () => {},
    /** Tells the owner's listeners that a new attempt comes after `retryDelay`. Provided by the owner. */
    reportReconnecting: () => {},
  },
  guards: {
    isAlreadyOpen: ({ context }) => context.alreadyOpen,
    /** Reconnecting is on and has not used up its attempts. */
    mayReconnect: ({ context }) => context.reconnect !== undefined && context.attempt < context.reconnect.maxAttempts,
  },
  delays: {
    reconnectDelay: ({ context }) => context.retryDelay,
  },
}).createMachine({
  id: 'connection',
  context: ({ input }) => ({
    url: input.url,
    alreadyOpen: input.alreadyOpen ?? false,
    closedLocally: false,
    reconnect: input.reconnect,
    epoch: 0,
    attempt: 0,
    retryDelay: 0,
  }),
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
          },
        },
      },
    },
    open: {
      description: 'Messages flow both ways; responses are routed to their calls by id.',
      entry: ['resetAttempts', 'reportOpen'],
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
