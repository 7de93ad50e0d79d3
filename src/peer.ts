/**
 * The host of one connection, the same on both sides of the socket: it owns
 * the connection actor and the current transport, and wires the three units
 * of the core to them: outgoing calls (outgoing.ts), incoming calls
 * (incoming.ts) and the inbound dispatcher (inbound.ts), which every frame
 * from the transport goes through. `connect()` wraps it for the client; the
 * server makes one per accepted socket.
 *
 * Each step of the connection's life is a named handler below (as `ws` names
 * `socketOnClose` and `receiverOnMessage`): the connection machine's actions
 * only ask for them, and they run right after the machine's step, outside
 * XState's action execution, since they start call actors and call user
 * listeners.
 */
import { nanoid } from 'nanoid';
import { createActor, type Actor } from 'xstate';
import { connectionMachine, type ConnectionContext, type ConnectionEvent, type ReconnectPolicy } from '../machines/connection.machine.js';
import { closedError, localCloseError, lostError, notOpenError } from './connection-errors.js';
import { Emitter } from './emitter.js';
import { realTime } from './engine/deadlines.js';
import { ConnectionClosedError, ProtocolError } from './errors.js';
import { Heartbeat } from './heartbeat.js';
import { describeUnmatched, receiveFrame, type InboundHost } from './inbound.js';
import { IncomingCalls } from './incoming.js';
import type { ResponderLimits, SendLimits } from './limits.js';
import { OutgoingCalls } from './outgoing.js';
import { encode, errorFrame, ErrorCodes, notificationFrame, requestFrame, type ErrorObject, type Frame } from './protocol/jsonrpc.js';
import { SendBudget } from './send-budget.js';
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
  UntypedApi,
} from './types.js';
import { validateCloseCode, validateMethodName, validateParams, validateRequestOptions } from './validate.js';

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
  /** What the inbound dispatcher needs of this connection. */
  private readonly inbound: InboundHost;
  private readonly heartbeat: Heartbeat | undefined;
  /** What the other end may make this one buffer. */
  private readonly budget: SendBudget;
  /** The current epoch's transport. */
  private transport!: Transport;
  /** Why the connection is ending, when this side decided it (close, terminate, a drop): pending calls fail with it. */
  private closeError: ConnectionClosedError | undefined;
  /** Set by terminate(): closing drops the socket instead of starting the close handshake. */
  private terminating = false;
  private opened = false;
  private settleReady!: { resolve: () => void; reject: (error: unknown) => void };
  private resolveClosed!: () => void;
  /** Handlers the connection's actions asked for during the current step. */
  private effects: Array<() => void> = [];
  /** Whether frames from the transport skip the connection actor (see DISPATCH_STATES). */
  private bypassesActor = false;

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
    this.inbound = this.inboundHost();
    this.ready = new Promise<void>((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => {}); // rejection is for those who await it, never unhandled
    this.closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

    const clock = options.clock ?? realTime;
    const { heartbeat = 0, url } = options;
    if (heartbeat > 0) {
      const silent = localCloseError(url, `dropped: the peer answered no heartbeat for ${heartbeat} ms`, 1006, '');
      this.heartbeat = new Heartbeat(heartbeat, clock, () => this.transport.ping?.(), () => this.drop(silent));
    }
    this.budget = new SendBudget(options.send, clock, () => this.transport.bufferedAmount, (reason) =>
      this.closeLocally(localCloseError(url, `dropped: ${reason}`, 1008, PEER_NOT_READING), 1008, PEER_NOT_READING),
    );
    this.actor = createActor(connectionMachine.provide({ actions: this.connectionActions() }), {
      input: { url, alreadyOpen: options.alreadyOpen, reconnect: options.reconnect },
      inspect: options.inspect,
      // Only when given: an explicit undefined would replace XState's own clock.
      ...(options.clock ? { clock: options.clock } : {}),
    });
    this.outgoing.parent = this.actor;
    this.incoming.parent = this.actor;
    // A delayed transition (the reconnect backoff) happens without a send of ours: its handlers run from here.
    this.actor.subscribe(() => this.afterStep());
    this.actor.start();
    this.afterStep();
  }

  // ── The connection machine's actions: each asks for its handler, run once the step is done.

  private connectionActions() {
    return {
      openTransport: () => this.later(() => this.attach(this.options.openTransport())),
      flushQueuedCalls: () => this.later(() => this.onOpen()),
      suspendCalls: ({ context }: { context: ConnectionContext }) => this.later(() => this.onLost(context)),
      reportReconnecting: ({ context }: { context: ConnectionContext }) => this.later(() => this.onReconnecting(context)),
      routeMessage: ({ event }: { event: ConnectionEvent }) => {
        if (event.type === 'message.received') this.later(() => this.onFrame(event.data));
      },
      closeTransport: ({ event }: { event: ConnectionEvent }) => {
        if (event.type === 'connection.close') this.later(() => this.onCloseRequested(event.code, event.reason));
      },
      failPendingCalls: ({ context }: { context: ConnectionContext }) => this.later(() => this.onClosing(context)),
      reportClosed: ({ context }: { context: ConnectionContext }) => this.later(() => this.onClosed(context)),
    };
  }

  // ── What happens at each step of the connection's life.

  /** The transport opened (a new epoch): what waited goes out, the heartbeat starts, `ready` resolves. */
  private onOpen(): void {
    this.opened = true;
    if (this.transport.ping) this.heartbeat?.start();
    this.settleReady.resolve();
    this.outgoing.open();
    this.events.emit('open', undefined);
  }

  /** The transport was lost and a reconnection follows: calls written on it fail (or wait again, if retry), handlers abort. */
  private onLost(context: ConnectionContext): void {
    this.stopWatching();
    const error = this.closeError ?? lostError(this.options.url, context);
    this.closeError = undefined;
    this.outgoing.lost(error);
    this.incoming.cancelAll();
  }

  private onReconnecting({ attempt, retryDelay, closeCode, closeReason, error }: ConnectionContext): void {
    this.events.emit('reconnecting', { attempt, delay: retryDelay, code: closeCode, reason: closeReason ?? '', error });
  }

  /** One text frame from the peer. */
  private onFrame(text: string): void {
    receiveFrame(this.inbound, text, this.reply);
  }

  private onCloseRequested(code: number | undefined, reason: string | undefined): void {
    if (this.terminating) this.transport.terminate();
    else this.transport.close(code, reason);
  }

  /** The connection ends for good: every pending call fails at once with one error, `ready` rejects if it never opened. */
  private onClosing(context: ConnectionContext): void {
    this.stopWatching();
    const error = this.closeError ?? (this.closeError = closedError(this.options.url, context, this.opened));
    this.settleReady.reject(error);
    this.outgoing.failAll(error);
    this.incoming.cancelAll();
  }

  private onClosed({ closeCode, closeReason, error }: ConnectionContext): void {
    this.events.emit('close', { code: closeCode, reason: closeReason ?? '', error });
    this.resolveClosed();
  }

  // ── The transport's events: only the current epoch's count.

  /** Makes `transport` the current epoch's; events from an earlier epoch's transport are ignored. */
  private attach(transport: Transport): void {
    this.transport = transport;
    const current = () => this.transport === transport;
    transport.attach({
      open: () => current() && this.step({ type: 'transport.opened' }),
      message: (data, isBinary) => current() && this.transportOnMessage(data, isBinary),
      close: (code, reason) => current() && this.step({ type: 'transport.closed', code, reason }),
      error: (error) => current() && this.step({ type: 'transport.error', error }),
      pong: () => current() && this.heartbeat?.heard(),
      noResponders: (id, subject) => current() && this.transportOnNoResponders(id, subject),
    });
  }

  private transportOnMessage(data: string, isBinary: boolean): void {
    this.heartbeat?.heard();
    if (isBinary) this.refuseBinary();
    // In a state whose only answer to a frame is routeMessage, take it without an interpreter step.
    else if (this.bypassesActor) this.onFrame(data);
    else this.step({ type: 'message.received', data });
  }

  /** The channel says no one listens (NATS's 503): the call fails now, as an answer would settle it. */
  private transportOnNoResponders(id: string, subject: string): void {
    const reason = this.outgoing.failNoResponders(id, subject);
    if (reason) this.inbound.report(reason, { id, status: 503 }, id, describeUnmatched(reason));
  }

  /** A binary frame: JSON-RPC travels in text frames, so it is reported and answered -32600 (id null); the connection stays open. */
  private refuseBinary(): void {
    const detail = 'binary frame: JSON-RPC travels in text frames';
    this.inbound.report('malformed', '', null, detail);
    if (this.state === 'open') this.send(encode(errorFrame(null, { code: ErrorCodes.InvalidRequest, message: detail })));
  }

  /** What the inbound dispatcher needs of this connection. */
  private inboundHost(): InboundHost {
    const incoming = this.incoming;
    return {
      limits: this.options.limits,
      get handling() {
        return incoming.size;
      },
      accepting: () => this.state === 'open',
      busy: (method) => this.busy(method),
      startCall: (frame, batch) => this.incoming.receive(frame, batch),
      cancelCall: (id) => void this.incoming.cancel(id),
      response: ({ frame }) => {
        const outcome = 'result' in frame ? { result: frame.result } : { error: frame.error };
        const reason = this.outgoing.route(frame.id, outcome);
        if (reason) this.inbound.report(reason, frame, frame.id, describeUnmatched(reason));
      },
      notification: (method, params) => this.events.emit('notification', { method, params }),
      report: (reason, message, id, detail) =>
        this.events.emit('unmatched', { reason, message, ...(typeof id === 'string' || typeof id === 'number' || id === null ? { id } : {}), detail }),
    };
  }

  /** Why a request is refused unrun by this connection's send buffer (-32000), or undefined. */
  private busy(method: string): ErrorObject | undefined {
    if (!this.budget.full) return undefined;
    const { highWaterMark } = this.options.send;
    const message = `server busy: answers not yet read by you fill this connection's buffer (highWaterMark ${highWaterMark} bytes); "${method}" was not run`;
    return { code: ErrorCodes.ServerBusy, message, data: { highWaterMark, bufferedAmount: this.transport.bufferedAmount } };
  }

  // ── The public face.
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
    return this.closeLocally(localCloseError(this.options.url, 'closed locally', code, reason), code, reason);
  }

  /** Starts the close handshake, failing pending calls with `error`; the socket is dropped if it does not end within `closeTimeout`. */
  private closeLocally(error: ConnectionClosedError, code: number, reason: string): Promise<void> {
    if (this.state === 'connecting' || this.state === 'open') {
      this.closeError = error;
      this.step({ type: 'connection.close', code, reason });
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
      this.closeError = localCloseError(this.options.url, 'terminated locally', 1006, '');
      this.step({ type: 'connection.close', code: 1006 });
    } else if (state === 'closing') this.transport.terminate();
    return this.closed;
  }

  /**
   * Writes a raw text frame, bypassing the protocol. For tools and tests that
   * need to send what a well-behaved peer never would.
   */
  sendRaw(text: string): void {
    this.send(text);
  }

  // ── Plumbing.

  /** Every frame leaves through here, so that what the peer makes us buffer is watched. Returns false when the transport refused it. */
  private send(text: string, done?: (error?: Error) => void): boolean {
    if (!this.transport.send(text, done)) return false;
    this.budget.wrote(text.length);
    return true;
  }

  /** Answers to the peer's frames (one function for every frame: nothing allocated per message). */
  private readonly reply = (text: string): void => void this.send(text);

  /** Drops the socket without a close handshake, failing pending calls with `error`. */
  private drop(error: ConnectionClosedError): void {
    this.closeError = error;
    this.transport.terminate();
  }

  private stopWatching(): void {
    this.heartbeat?.stop();
    this.budget.stop();
  }

  /** Why a call or notification made on a closing or closed connection fails at once. */
  private notOpenError(verb: 'call' | 'notify', method: string): ConnectionClosedError {
    return notOpenError(this.options.url, this.state, verb, method, this.actor.getSnapshot().context, this.closeError);
  }

  /** Sends an event to the connection actor, then runs the handlers its actions asked for. */
  private step(event: ConnectionEvent): void {
    this.actor.send(event);
    this.afterStep();
  }

  private later(effect: () => void): void {
    this.effects.push(effect);
  }

  private afterStep(): void {
    this.bypassesActor = this.options.inspect === undefined && DISPATCH_STATES.has(this.state);
    // Handlers may step the machine again (a listener closing the connection): drain until none is left.
    while (this.effects.length > 0) {
      const batch = this.effects;
      this.effects = [];
      for (const effect of batch) effect();
    }
  }
}

/**
 * The connection states in which `message.received` does nothing but the
 * `routeMessage` action (no target, no guard), read off the machine. In those
 * states the host hands each frame to the dispatcher itself, which is what the
 * machine would do, without an interpreter step per frame. With an inspector
 * attached, every frame still goes through the actor so that it shows.
 */
const DISPATCH_STATES: ReadonlySet<string> = new Set(
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

/** Encodes an outgoing frame; params that JSON cannot carry are the caller's `ProtocolError`. */
function encodeOutgoing(method: string, frame: Frame): string {
  try {
    return encode(frame);
  } catch (cause) {
    throw new ProtocolError(`params of "${method}" cannot be encoded as JSON: ${(cause as Error).message}`, { cause });
  }
}
