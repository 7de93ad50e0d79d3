/**
 * The connection machine's own logic (context, assignments, guards, delays) as
 * plain functions, importable without XState: `connection.machine.ts` hands them
 * to `setup()`, and the light engine's generated table (`src/engine/generated/`)
 * names them, so the browser build runs the machine without bundling XState.
 */
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
  /** Delay before the first attempt, in ms: at least `MIN_RECONNECT_DELAY`. */
  initialDelay: number;
  /** Longest delay between attempts, in ms. */
  maxDelay: number;
  /** Each delay is the previous one times this. */
  factor: number;
  /** Fraction of each delay that is random (0: none; 0.5: between half and all of it). */
  jitter: number;
  /** Failed attempts in a row before giving up and closing. */
  maxAttempts: number;
  /**
   * How long a connection must stay open to count as recovered, in ms: lost later, the failed attempts (and the
   * backoff) start over; lost sooner, it is one more failed attempt. A server that takes connections and drops them
   * at once then gets the growing delays and `maxAttempts`, not a new connection every `initialDelay`.
   */
  minUptime: number;
}

/**
 * The shortest wait before a reconnection attempt, in ms: `initialDelay` may not be shorter, and no delay drawn
 * (`jitter` 1 may take off nearly all of one) is. Without it a server that takes connections and drops them at once
 * would get a new one from every client in a tight loop (0 doubled is 0).
 */
export const MIN_RECONNECT_DELAY = 10;

/**
 * The delay before attempt number `attempt` (1 for the first): exponential,
 * capped at `maxDelay`, with the random `sample` (in [0, 1)) taking off up to
 * `jitter` of it so that clients dropped together do not return together;
 * never less than `MIN_RECONNECT_DELAY`.
 */
export function backoffDelay(policy: ReconnectPolicy, attempt: number, sample: number): number {
  const delay = Math.min(policy.maxDelay, policy.initialDelay * policy.factor ** (attempt - 1));
  return Math.max(MIN_RECONNECT_DELAY, Math.round(delay * (1 - policy.jitter * sample)));
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
  /** Failed attempts in a row: a connection lost within `minUptime` of opening is one, and one lost later starts the count over. */
  attempt: number;
  /** The delay before the next attempt, in ms. */
  retryDelay: number;
}

export type ConnectionEvent =
  | { type: 'transport.opened' }
  | {
      type: 'transport.closed';
      code: number;
      reason: string;
      /** How long the transport had been open when it closed, in ms; absent when it never opened. */
      uptime?: number;
    }
  | { type: 'transport.error'; error: unknown }
  | { type: 'message.received'; data: string }
  | { type: 'connection.close'; code?: number; reason?: string }
  /** Try now rather than at the end of the backoff delay: `reconnectNow()`, or the page's network came back (`online`). */
  | { type: 'reconnect.now' };

interface Args {
  context: ConnectionContext;
  event: ConnectionEvent;
}

/**
 * Failed attempts in a row before the transport that `event` closed: none when it had stayed open `minUptime`, the
 * count starting over; the context's count otherwise (it never opened, or was lost too soon).
 */
function failedBefore(context: ConnectionContext, event: ConnectionEvent): number {
  const uptime = event.type === 'transport.closed' ? event.uptime : undefined;
  return uptime !== undefined && uptime >= context.reconnect!.minUptime ? 0 : context.attempt;
}

export const connectionLogic = {
  assign: {
    recordClose: ({ event, context }: Args) => ({
      closeCode: event.type === 'transport.closed' ? event.code : context.closeCode,
      closeReason: event.type === 'transport.closed' ? event.reason : context.closeReason,
    }),
    recordError: ({ event, context }: Args) => ({ error: event.type === 'transport.error' ? event.error : context.error }),
    markClosedLocally: () => ({ closedLocally: true }),
    beginEpoch: ({ context }: Args) => ({ epoch: context.epoch + 1, error: undefined }),
    /** Counts the failed attempt (the first again after a connection that stayed open `minUptime`) and draws the delay before the next one. */
    planReconnect: ({ context, event }: Args) => {
      const attempt = failedBefore(context, event) + 1;
      return { attempt, retryDelay: backoffDelay(context.reconnect!, attempt, Math.random()) };
    },
  },
  guards: {
    isAlreadyOpen: ({ context }: { context: ConnectionContext }) => context.alreadyOpen,
    /** Reconnecting is on and has not used up its attempts. */
    mayReconnect: ({ context, event }: Args) =>
      context.reconnect !== undefined && failedBefore(context, event) < context.reconnect.maxAttempts,
  },
  delays: {
    reconnectDelay: ({ context }: { context: ConnectionContext }) => context.retryDelay,
  },
  fns: {
    context: ({ input }: { input: ConnectionInput }): ConnectionContext => ({
      url: input.url,
      alreadyOpen: input.alreadyOpen ?? false,
      closedLocally: false,
      reconnect: input.reconnect,
      epoch: 0,
      attempt: 0,
      retryDelay: 0,
    }),
  },
};
