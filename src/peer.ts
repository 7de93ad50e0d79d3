/**
 * One end of a connection, the same on both sides of the socket: it owns the
 * connection actor and the transport, makes outgoing calls, answers incoming
 * ones and reports every message that matches nothing. `connect()` wraps it
 * for the client; the server makes one per accepted socket.
 */
import { nanoid } from 'nanoid';
import { createActor, type Actor } from 'xstate';
import { connectionMachine, type ConnectionContext, type ConnectionEvent, type ReconnectPolicy } from '../machines/connection.machine.js';
import { Emitter } from './emitter.js';
import { realTime } from './engine/deadlines.js';
import { Heartbeat } from './heartbeat.js';
import { ConnectionClosedError, ProtocolError } from './errors.js';
import type { ResponderLimits, SendLimits } from './limits.js';
import { SendBudget } from './send-budget.js';
import { IncomingCalls, BatchReply, duplicateRequestFrame, inFlightBusy } from './incoming.js';
import { OutgoingCalls } from './outgoing.js';
import {
  CANCEL_METHOD,
  decode,
  encode,
  errorFrame,
  ErrorCodes,
  notificationFrame,
  requestFrame,
  type ErrorObject,
  type Frame,
  type Message,
} from './protocol/jsonrpc.js';
import type { Transport } from './transports/transport.js';
import type {
  AnyApi,
  Clock,
  Engine,
  HandlerContext,
  InspectOption,
  MethodName,
  PeerApi,
  PeerEvents,
  RequestArgs,
  RequestOptions,
  ResultOf,
  UnmatchedReason,
  UntypedApi,
} from './types.js';
import { validateCloseCode, validateMethodName, validateRequestOptions } from './validate.js';

export interface PeerOptions {
  /** Shown in errors: the URL connected to, or the client's address. */
  url: string;
  /**
   * Opens the transport of a new epoch: called once, when the connection
   * starts, and again for each reconnection attempt (a server-side peer hands
   * over its accepted socket once and never reconnects).
   */
  openTransport: () => Transport;
  /** How to reconnect when the transport is lost or fails to open; none: it closes the connection. */
  reconnect?: ReconnectPolicy;
  /** Backpressure on outgoing calls: see `ClientOptions`. */
  maxInFlight: number;
  maxQueued: number;
  /** What the other end may make this one buffer for it (`highWaterMark` also holds outgoing calls back). */
  send: SendLimits;
  /** Default timeout of outgoing calls, in ms. */
  timeout: number;
  methods: Record<string, (params: any, ctx: HandlerContext<any>) => unknown>;
  inspect: InspectOption;
  clock: Clock | undefined;
  /** What runs each call's machine. */
  engine: Engine;
  /** True for a server-side socket, which is open when it is handed over. */
  alreadyOpen: boolean;
  exposeErrorStack: boolean;
  /** How many settled call ids to remember to tell late and duplicate responses from unknown ones. */
  settledMemory: number;
  /** How long `close()` waits for the close handshake before dropping the socket, in ms. */
  closeTimeout: number;
  /** Heartbeat interval in ms (0: none): a peer silent for that long is dropped. */
  heartbeat?: number;
  /** Limits on what the other end sends: see `ServeOptions` for each. */
  limits: ResponderLimits;
}

/** The connection's lifecycle state (`connecting` includes waiting to reconnect). */
export type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

export class Peer<RemoteApi extends AnyApi = UntypedApi> implements PeerApi<RemoteApi> {
  /** The connection actor: its snapshot is the connection's state. */
  readonly actor: Actor<typeof connectionMachine>;
  /** Resolves once the connection is open; rejects with `ConnectionClosedError` if it never opens. */
  readonly ready: Promise<void>;
  /** Resolves once the connection is closed, however it closed. */
  readonly closed: Promise<void>;

  private readonly events = new Emitter<PeerEvents>();
  private readonly outgoing: OutgoingCalls;
  private readonly incoming: IncomingCalls;
  /** The current epoch's transport. */
  private transport!: Transport;
  private closeError: ConnectionClosedError | undefined;
  private opened = false;
  private readonly heartbeat: Heartbeat | undefined;
  /** What the other end may make this one buffer. */
  private readonly budget: SendBudget;
  /** Effects requested by the connection's actions during the current event. */
  private effects: Array<() => void> = [];
  /** Whether incoming messages skip the connection actor (see ROUTING_STATES). */
  private routesDirectly = false;

  constructor(private readonly options: PeerOptions) {
    const write = (text: string, done?: (error?: Error) => void) => this.send(text, done);
    this.outgoing = new OutgoingCalls({
      write,
      inspect: options.inspect,
      clock: options.clock,
      settledMemory: options.settledMemory,
      engine: options.engine,
      maxInFlight: options.maxInFlight,
      maxQueued: options.maxQueued,
      highWaterMark: options.send.highWaterMark,
      bufferedAmount: () => this.transport.bufferedAmount,
      url: options.url,
    });
    this.incoming = new IncomingCalls({
      methods: options.methods,
      peer: this as PeerApi<any>,
      write: (text) => write(text),
      inspect: options.inspect,
      exposeErrorStack: options.exposeErrorStack,
      engine: options.engine,
      handlerTimeout: options.limits.handlerTimeout,
      clock: options.clock,
    });

    let settleReady!: { resolve: () => void; reject: (e: unknown) => void };
    this.ready = new Promise<void>((resolve, reject) => (settleReady = { resolve, reject }));
    this.ready.catch(() => {}); // rejection is for those who await it, never unhandled
    let resolveClosed!: () => void;
    this.closed = new Promise<void>((resolve) => (resolveClosed = resolve));

    // The connection's actions run their effects right after the event that
    // triggered them, outside XState's action execution: effects start call
    // actors and call user listeners, which must not run inside another actor's action.
    const logic = connectionMachine.provide({
      actions: {
        openTransport: () => this.later(() => this.attach(options.openTransport())),
        flushQueuedCalls: () =>
          this.later(() => {
            this.opened = true;
            if (this.transport.ping) this.heartbeat?.start();
            settleReady.resolve();
            this.outgoing.open();
            this.events.emit('open', undefined);
          }),
        suspendCalls: ({ context }) =>
          this.later(() => {
            this.heartbeat?.stop();
            this.budget.stop();
            const error = this.closeError ?? this.describeLoss(context);
            this.closeError = undefined;
            this.outgoing.lost(error);
            this.incoming.cancelAll();
          }),
        reportReconnecting: ({ context }) =>
          this.later(() =>
            this.events.emit('reconnecting', {
              attempt: context.attempt,
              delay: context.retryDelay,
              code: context.closeCode,
              reason: context.closeReason ?? '',
              error: context.error,
            }),
          ),
        routeMessage: ({ event }) => {
          if (event.type === 'message.received') this.later(() => this.route(event.data));
        },
        closeTransport: ({ event }) => {
          if (event.type !== 'connection.close') return;
          this.later(() => (this.terminating ? this.transport.terminate() : this.transport.close(event.code, event.reason)));
        },
        failPendingCalls: ({ context }) =>
          this.later(() => {
            this.heartbeat?.stop();
            this.budget.stop();
            const error = this.closeError ?? (this.closeError = this.describeClose(context));
            settleReady.reject(error);
            this.outgoing.failAll(error);
            this.incoming.cancelAll();
          }),
        reportClosed: ({ context }) =>
          this.later(() => {
            this.events.emit('close', { code: context.closeCode, reason: context.closeReason ?? '', error: context.error });
            resolveClosed();
          }),
      },
    });
    const { heartbeat = 0 } = options;
    if (heartbeat > 0) {
      this.heartbeat = new Heartbeat(heartbeat, options.clock ?? realTime, () => this.transport.ping?.(), () => {
        this.closeError = new ConnectionClosedError(
          `the connection to ${options.url} was dropped: the peer answered no heartbeat for ${heartbeat} ms`,
          { closeCode: 1006, closeReason: '' },
        );
        this.transport.terminate();
      });
    }
    this.budget = new SendBudget(options.send, options.clock ?? realTime, () => this.transport.bufferedAmount, (reason) =>
      this.closeLocally(new ConnectionClosedError(`the connection to ${options.url} was dropped: ${reason}`, { closeCode: 1008, closeReason: PEER_NOT_READING }), 1008, PEER_NOT_READING),
    );
    this.actor = createActor(logic, {
      input: { url: options.url, alreadyOpen: options.alreadyOpen, reconnect: options.reconnect },
      inspect: options.inspect,
      // Only when given: an explicit undefined would replace XState's own clock.
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.outgoing.parent = this.actor;
    this.incoming.parent = this.actor;
    // A delayed transition (the reconnect backoff) happens without a dispatch: its effects run from here.
    this.actor.subscribe(() => {
      this.updateRouting();
      this.runEffects();
    });
    this.actor.start();
    this.updateRouting();
    this.runEffects();
  }

  /** Makes `transport` the current epoch's; events from an earlier epoch's transport are ignored. */
  private attach(transport: Transport): void {
    this.transport = transport;
    const current = () => this.transport === transport;
    transport.attach({
      open: () => current() && this.dispatch({ type: 'transport.opened' }),
      message: (data, isBinary) => {
        if (!current()) return;
        this.heartbeat?.heard();
        if (isBinary) this.refuseBinary();
        // In a state whose only answer to a message is routeMessage, route it without running the interpreter.
        else if (this.routesDirectly) this.route(data);
        else this.dispatch({ type: 'message.received', data });
      },
      close: (code, reason) => current() && this.dispatch({ type: 'transport.closed', code, reason }),
      error: (error) => current() && this.dispatch({ type: 'transport.error', error }),
      pong: () => current() && this.heartbeat?.heard(),
      noResponders: (id, subject) => {
        if (!current()) return;
        const reason = this.outgoing.failNoResponders(id, subject);
        if (reason) this.report(reason, { id, status: 503 }, id, describeUnmatched(reason));
      },
    });
  }

  /** The connection's lifecycle state. */
  get state(): ConnectionState {
    const { value } = this.actor.getSnapshot();
    return (typeof value === 'string' ? value : Object.keys(value)[0]) as ConnectionState;
  }

  /** Whether the connection was lost and is waiting to reconnect, or reconnecting (`state` is `connecting`). */
  get reconnecting(): boolean {
    return this.state === 'connecting' && this.opened;
  }

  /** How many times the connection has opened: each transport that opened is an epoch, counted from 1 (0 before the first). */
  get epoch(): number {
    return this.outgoing.openings;
  }

  /** Outgoing calls not yet settled (waiting in `queued` or in flight). */
  get pendingCalls(): number {
    return this.outgoing.size;
  }

  /** Bytes handed to the socket and not yet sent (0 while no socket is open): see `highWaterMark`. */
  get bufferedAmount(): number {
    return this.state === 'open' ? this.transport.bufferedAmount : 0;
  }

  /** Outgoing calls waiting in `queued`: for the connection to open, or for room in it. */
  get queuedCalls(): number {
    return this.outgoing.queued;
  }

  /** Incoming calls whose handler is still running. */
  get handlingCalls(): number {
    return this.incoming.size;
  }

  request<M extends MethodName<RemoteApi>>(method: M, ...args: RequestArgs<RemoteApi[M]>): Promise<ResultOf<RemoteApi[M]>> {
    const [params, options] = args as [unknown, RequestOptions | undefined];
    validateMethodName(method);
    validateParams(params);
    const { timeout = this.options.timeout, signal, retry } = validateRequestOptions(options);

    const state = this.state;
    if (state === 'closing' || state === 'closed') return Promise.reject(this.notOpenError('call', method));
    if (signal?.aborted) return Promise.reject(signal.reason);

    const id = nanoid();
    let frame: string;
    try {
      frame = encodeOutgoing(method, requestFrame(id, method, params));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.outgoing.start({ id, method, params, timeout, retry }, frame, signal);
  }

  notify(method: string, params?: unknown): void {
    validateMethodName(method);
    validateParams(params);
    const state = this.state;
    if (state === 'closing' || state === 'closed') throw this.notOpenError('notify', method);
    this.outgoing.notify(method, encodeOutgoing(method, notificationFrame(method, params)));
  }

  on<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): void {
    this.events.off(event, listener);
  }

  /**
   * Closes the connection: pending calls fail with `ConnectionClosedError` at
   * once. Resolves when closed; a peer that does not finish the close handshake
   * within `closeTimeout` is dropped.
   *
   * @param code 1000 (default), another sendable standard code, or an application code from 3000 to 4999.
   * @param reason at most 123 bytes of UTF-8.
   */
  close(code = 1000, reason = ''): Promise<void> {
    validateCloseCode(code, reason);
    const error = new ConnectionClosedError(`the connection to ${this.options.url} was closed locally`, { closeCode: code, closeReason: reason });
    return this.closeLocally(error, code, reason);
  }

  /** Starts the close handshake, failing pending calls with `error`; the socket is dropped if it does not end within `closeTimeout`. */
  private closeLocally(error: ConnectionClosedError, code: number, reason: string): Promise<void> {
    if (this.state === 'connecting' || this.state === 'open') {
      this.closeError = error;
      this.dispatch({ type: 'connection.close', code, reason });
      const timer = setTimeout(() => this.transport.terminate(), this.options.closeTimeout);
      timer.unref?.();
      void this.closed.then(() => clearTimeout(timer));
    }
    return this.closed;
  }

  /**
   * Drops the socket at once, without waiting for the close handshake. Pending
   * calls fail with `ConnectionClosedError` (code 1006).
   */
  terminate(): Promise<void> {
    const state = this.state;
    if (state === 'connecting' || state === 'open') {
      // A local close like close()'s, never followed by a reconnect; only the socket is dropped instead of closed.
      this.terminating = true;
      this.closeError = new ConnectionClosedError(`the connection to ${this.options.url} was terminated locally`, { closeCode: 1006, closeReason: '' });
      this.dispatch({ type: 'connection.close', code: 1006 });
    } else if (state === 'closing') this.transport.terminate();
    return this.closed;
  }

  /** Set by terminate(): closing drops the socket instead of starting the close handshake. */
  private terminating = false;

  /**
   * Writes a raw text frame, bypassing the protocol. For tools and tests that
   * need to send what a well-behaved peer never would.
   */
  sendRaw(text: string): void {
    this.send(text);
  }

  /** Every frame leaves through here, so that what the peer makes us buffer is watched. Returns false when the transport refused it. */
  private send(text: string, done?: (error?: Error) => void): boolean {
    if (!this.transport.send(text, done)) return false;
    this.budget.wrote(text.length);
    return true;
  }

  /** Sends an event to the connection actor, then runs the effects its actions asked for. */
  private dispatch(event: ConnectionEvent): void {
    this.actor.send(event);
    this.updateRouting();
    this.runEffects();
  }

  /** Whether messages can skip the connection actor in the state it is in now (see ROUTING_STATES). */
  private updateRouting(): void {
    this.routesDirectly = this.options.inspect === undefined && ROUTING_STATES.has(this.state);
  }

  private later(effect: () => void): void {
    this.effects.push(effect);
  }

  private runEffects(): void {
    // Effects may dispatch again (a listener closing the connection): drain until empty.
    while (this.effects.length > 0) {
      const batch = this.effects;
      this.effects = [];
      for (const effect of batch) effect();
    }
  }

  /** A binary frame: JSON-RPC travels in text frames, so it is reported and answered -32600 (id null); the connection stays open. */
  private refuseBinary(): void {
    const detail = 'binary frame: JSON-RPC travels in text frames';
    this.report('malformed', '', null, detail);
    if (this.state === 'open') this.send(encode(errorFrame(null, { code: ErrorCodes.InvalidRequest, message: detail })));
  }

  private route(text: string): void {
    const decoded = decode(text, this.options.limits);
    switch (decoded.kind) {
      case 'unparseable':
        this.report('malformed', text, null, decoded.reason);
        this.send(encode(errorFrame(null, { code: decoded.code, message: decoded.reason })));
        return;
      case 'single':
        this.handle(decoded.message, undefined);
        return;
      case 'batch': {
        const batch = new BatchReply((reply) => this.send(reply));
        for (const message of decoded.messages) this.handle(message, batch);
        batch.seal();
        return;
      }
    }
  }

  private handle(message: Message, batch: BatchReply | undefined): void {
    const reply = (frame: Frame) => {
      if (batch) {
        batch.expect();
        batch.add(encode(frame));
      } else this.send(encode(frame));
    };
    switch (message.kind) {
      case 'request':
        // A connection that is closing starts no new work.
        if (this.state !== 'open') return;
        const busy = this.busy(message.frame.method);
        if (busy) {
          // Answered at once, never run: the caller may retry later.
          reply(errorFrame(message.frame.id, busy));
          return;
        }
        if (!this.incoming.receive(message.frame, batch)) {
          this.report('duplicate', message.frame, message.frame.id, 'a request with this id is already being handled');
          reply(duplicateRequestFrame(message.frame.id));
        }
        return;
      case 'notification': {
        const { method, params } = message.frame;
        if (method === CANCEL_METHOD) {
          const id = (params as { id?: unknown } | undefined)?.id;
          if (typeof id === 'string' || typeof id === 'number') this.incoming.cancel(id);
          return;
        }
        this.events.emit('notification', { method, params });
        return;
      }
      case 'result':
      case 'error': {
        const { id } = message.frame;
        const outcome = message.kind === 'result' ? { result: message.frame.result } : { error: message.frame.error };
        const reason = this.outgoing.route(id, outcome);
        if (reason) this.report(reason, message.frame, id, describeUnmatched(reason));
        return;
      }
      case 'invalid': {
        this.report('malformed', message.value, message.id, message.reason);
        // Answer what may have been meant as a request; a broken response gets no answer.
        const v = message.value as Record<string, unknown> | null;
        const meantAsResponse = v !== null && typeof v === 'object' && !('method' in v) && ('result' in v || 'error' in v);
        if (!meantAsResponse) reply(errorFrame(message.id, { code: ErrorCodes.InvalidRequest, message: message.reason }));
        return;
      }
    }
  }

  /** Why a request is refused unrun (-32000), or undefined when it may run. */
  private busy(method: string): ErrorObject | undefined {
    const limit = this.options.limits.maxInFlight;
    if (this.incoming.size >= limit) return inFlightBusy(limit, method);
    if (this.budget.full) {
      const { highWaterMark } = this.options.send;
      const message = `server busy: answers not yet read by you fill this connection's buffer (highWaterMark ${highWaterMark} bytes); "${method}" was not run`;
      return { code: ErrorCodes.ServerBusy, message, data: { highWaterMark, bufferedAmount: this.transport.bufferedAmount } };
    }
    return undefined;
  }

  /** Why a call or notification made on a closing or closed connection fails at once. */
  private notOpenError(verb: 'call' | 'notify', method: string): ConnectionClosedError {
    const { closeCode, closeReason } = this.actor.getSnapshot().context;
    return new ConnectionClosedError(`cannot ${verb} "${method}": the connection to ${this.options.url} is ${this.state}`, {
      closeCode,
      closeReason,
      cause: this.closeError,
    });
  }

  private report(reason: UnmatchedReason, message: unknown, id: unknown, detail: string): void {
    this.events.emit('unmatched', {
      reason,
      message,
      ...(typeof id === 'string' || typeof id === 'number' || id === null ? { id } : {}),
      detail,
    });
  }

  private describeClose(context: ConnectionContext) {
    const { closeCode, closeReason, error, attempt, reconnect } = context;
    const { code, because } = describeCause(context);
    const gaveUp = reconnect && attempt > 0 ? `; gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} to reconnect (maxAttempts)` : '';
    const message = this.opened
      ? `the connection to ${this.options.url} closed before the call settled${code}${because}${gaveUp}`
      : `could not connect to ${this.options.url}${code}${because}${gaveUp}`;
    return new ConnectionClosedError(message, { closeCode, closeReason, cause: error });
  }

  /** Why calls written on a lost epoch fail: the connection will be reconnected, but a call is never re-sent unless marked retry. */
  private describeLoss(context: ConnectionContext) {
    const { closeCode, closeReason, error } = context;
    const { code, because } = describeCause(context);
    const message = `the connection to ${this.options.url} was lost after the call was written${code}${because}; it is reconnecting, and a call is re-sent only with { retry: true }`;
    return new ConnectionClosedError(message, { closeCode, closeReason, cause: error });
  }
}

/**
 * The connection states in which `message.received` does nothing but the
 * `routeMessage` action (no target, no guard), read off the machine. In those
 * states the owner routes each message itself, which is what the machine would
 * do, without an interpreter step per message. With an inspector attached,
 * every message still goes through the actor so that it shows.
 */
const ROUTING_STATES: ReadonlySet<string> = new Set(
  Object.entries(connectionMachine.root.states)
    .filter(([, node]) => {
      const transitions = node.transitions.get('message.received');
      if (transitions?.length !== 1) return false;
      const [t] = transitions;
      return !t!.target?.length && !t!.guard && t!.actions.length === 1 && t!.actions[0] === 'routeMessage';
    })
    .map(([key]) => key),
);

/** The close reason sent to a peer dropped for not reading what was sent to it. */
const PEER_NOT_READING = 'not reading: too much data waits to be sent';

/** The close code and transport error of a connection, in words. */
function describeCause({ closeCode, closeReason, error }: ConnectionContext): { code: string; because: string } {
  return {
    code: closeCode === undefined ? '' : ` (code ${closeCode}${closeReason ? `, reason "${closeReason}"` : ''})`,
    because: error instanceof Error ? `: ${error.message}` : '',
  };
}

function describeUnmatched(reason: UnmatchedReason): string {
  switch (reason) {
    case 'late':
      return 'response for a call that already timed out or was cancelled';
    case 'duplicate':
      return 'second response for a call that already settled';
    default:
      return 'response whose id matches no call made on this connection';
  }
}

/** Encodes an outgoing frame; params that JSON cannot carry are the caller's `ProtocolError`. */
function encodeOutgoing(method: string, frame: Frame): string {
  try {
    return encode(frame);
  } catch (cause) {
    throw new ProtocolError(`params of "${method}" cannot be encoded as JSON: ${(cause as Error).message}`, { cause });
  }
}

function validateParams(params: unknown): void {
  if (params !== undefined && (params === null || typeof params !== 'object')) {
    throw new TypeError(`params must be an object or an array (JSON-RPC 2.0), got ${params === null ? 'null' : typeof params}`);
  }
}
