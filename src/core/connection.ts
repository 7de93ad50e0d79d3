/**
 * The lifecycle of one connection, whatever runs over it: the connection
 * actor, the current transport (each one an epoch), the heartbeat and the send
 * budget, and the way a connection ends (close, terminate, a drop). `Peer`
 * (peer.ts) builds the JSON-RPC calls on top of it through the hooks below.
 *
 * Each step of the connection's life is a named handler (as `ws` names
 * `socketOnClose` and `receiverOnMessage`): the connection machine's actions
 * only ask for them, and they run right after the machine's step, outside
 * XState's action execution, since they start call actors and call user
 * listeners.
 *
 *   connecting ──transport.opened──▶ open ──connection.close──▶ closing ──▶ closed
 *        ▲                            │                                    ▲
 *        └── waiting (reconnect) ◀────┴──────── transport.closed ──────────┘
 */
import type { Actor, Observer, SnapshotFrom, Subscription } from 'xstate';
import { connectionLogic, type ConnectionContext, type ConnectionEvent, type ReconnectPolicy } from '../../machines/connection.logic.js';
import type { connectionMachine } from '../../machines/connection.machine.js';
import { DISPATCH_STATES } from './dispatch-states.js';
import { closedError, localCloseError, lostError, notOpenError } from './connection-errors.js';
import { Emitter } from './emitter.js';
import { clockNow, realTime } from '../engine/deadlines.js';
import { connectionTable } from '../engine/generated/connection.table.js';
import { lightRoot, type RootActor } from '../engine/root.js';
import type { XStateEngine } from '../engine/runner.js';
import type { ConnectionClosedError } from '../errors.js';
import { Heartbeat } from './heartbeat.js';
import type { SendLimits } from '../limits.js';
import { ReadMark } from './read-mark.js';
import { SendBudget } from './send-budget.js';
import type { Transport } from '../transports/transport.js';
import type { Clock, Engine, InspectOption, PeerEvents } from '../types.js';
import { validateCloseCode } from '../validate.js';

export interface ConnectionOptions {
  /** Shown in errors: the URL connected to, or the client's address. */
  url: string;
  /** Opens the transport of a new epoch: once at the start, again for each reconnection attempt (a server hands over its socket once). */
  openTransport: () => Transport;
  /** How to reconnect when the transport is lost or fails to open; none: it closes the connection. */
  reconnect?: ReconnectPolicy;
  inspect: InspectOption;
  clock: Clock | undefined;
  /** True for a server-side socket, which is open when it is handed over. */
  alreadyOpen: boolean;
  /** How long `close()` waits for the close handshake before dropping the socket, in ms. */
  closeTimeout: number;
  /** Heartbeat interval in ms (0: none): a peer silent for that long is dropped. */
  heartbeat?: number;
  /** What the other end may make this one buffer for it. */
  send: SendLimits;
  /** XState (the Node build): runs a client's connection actor and, with `engine: 'xstate'`, the calls. None in the browser build: all on the light engine. */
  xstate: XStateEngine | undefined;
  /**
   * What runs the connection actor: `'xstate'` (with `xstate`: a Node client's, which `client.actor` hands out as an
   * XState actor) or `'light'` (a server's connections, which nobody holds: an XState actor is about 4 KB more per
   * connection; and the browser build's).
   */
  connectionEngine: Engine;
  /**
   * Calls `online` each time the network comes back, and returns how to stop: the browser build's (the page's `online`
   * event), for a client that reconnects. None elsewhere.
   */
  watchNetwork?: (online: () => void) => () => void;
}

/** The connection's lifecycle state (`connecting` includes waiting to reconnect). */
export type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed';

/**
 * What every connection actor has, on either engine: XState's `id`, `getSnapshot()`, `send()` and `subscribe()` (a
 * function for each snapshot, or an observer). A Node client's `client.actor` is a whole XState actor (its `Client`
 * type says so); a server's connections and the browser build's run on the light engine, which has only these.
 */
export type ConnectionActor = Pick<Actor<typeof connectionMachine>, 'id' | 'getSnapshot' | 'send'> & {
  subscribe(
    observer: Observer<SnapshotFrom<typeof connectionMachine>> | ((snapshot: SnapshotFrom<typeof connectionMachine>) => void),
  ): Subscription;
};

export abstract class Connection {
  /** The connection actor: its snapshot is the connection's state (see `ConnectionActor`). */
  readonly actor: ConnectionActor;
  /** The connection actor as this class steps and reads it, whichever engine runs it. */
  private readonly root: RootActor<ConnectionContext, ConnectionEvent>;
  /** Resolves once the connection is open; rejects with `ConnectionClosedError` if it never opens. */
  readonly ready: Promise<void>;
  /** Resolves once the connection is closed, however it closed. */
  readonly closed: Promise<void>;

  protected readonly events = new Emitter<PeerEvents>();
  /** The current epoch's transport. */
  protected transport!: Transport;
  private readonly heartbeat: Heartbeat | undefined;
  /** Set when the last heartbeat was sent: what the peer read of the socket's buffer since. */
  private readonly readAtPing = new ReadMark(
    () => this.transport.bufferedAmount,
    () => this.transport.bytesSent ?? 0,
  );
  /** Bytes received from the peer when the last heartbeat was sent: more since is the peer sending (see `bytesReceived`). */
  private receivedAtPing = 0;
  /** What the other end may make this one buffer. */
  private readonly budget: SendBudget;
  /** Why the connection is ending, when this side decided it (close, terminate, a drop): pending calls fail with it. */
  private closeError: ConnectionClosedError | undefined;
  /** Why this side dropped the peer (no heartbeat, not reading), for the `close` event. */
  private dropped: ConnectionClosedError | undefined;
  /** Why this side dropped the transport just lost (see `dropped`), for the `reconnecting` event that follows. */
  private lostDropped: ConnectionClosedError | undefined;
  /** Set by terminate(): closing drops the socket instead of starting the close handshake. */
  private terminating = false;
  private opened = false;
  private settleReady!: { resolve: () => void; reject: (error: unknown) => void };
  private resolveClosed!: () => void;
  /** Handlers the connection's actions asked for during the current step. */
  private effects: Array<() => void> = [];
  /** Whether frames from the transport skip the connection actor (see DISPATCH_STATES). */
  private bypassesActor = false;
  /** The time on the connection's clock (real time for a clock without `now()`): what each transport's uptime is read from. */
  protected readonly now: () => number;
  /** When the current epoch's transport opened (on `now`); undefined until it does. */
  private openedAt: number | undefined = undefined;
  /** Stops watching the network (see `watchNetwork`). */
  private unwatchNetwork: (() => void) | undefined;
  /** The network came back during a reconnect attempt: if the attempt fails, the next one is not delayed. */
  private retryAtOnce = false;

  /** The actor is made here and started by `start()`, once the subclass has built what its hooks use. */
  constructor(private readonly settings: ConnectionOptions) {
    this.ready = new Promise<void>((resolve, reject) => (this.settleReady = { resolve, reject }));
    this.ready.catch(() => {}); // rejection is for those who await it, never unhandled
    this.closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));
    const clock = settings.clock ?? realTime;
    this.now = clockNow(clock);
    const { heartbeat = 0, url } = settings;
    if (heartbeat > 0) {
      this.heartbeat = new Heartbeat(
        heartbeat,
        clock,
        this.now,
        () => {
          this.readAtPing.set();
          this.receivedAtPing = this.transport.bytesReceived ?? 0;
          this.transport.ping?.();
        },
        () => this.heartbeatRanOut(heartbeat),
        // Some left, and less than at the ping: the peer reads, its answer behind the rest. An empty buffer tells
        // nothing (what a dead peer's kernel took in, the last frames written before the ping among them).
        // Or bytes came from it, part of a frame still arriving (its pong can only follow the frame): a peer that has
        // stopped sends none, beyond what its kernel still held.
        () =>
          (this.transport.bufferedAmount > 0 && this.readAtPing.readSince()) || (this.transport.bytesReceived ?? 0) > this.receivedAtPing,
      );
    }
    this.budget = new SendBudget(
      settings.send,
      clock,
      () => this.transport.bufferedAmount,
      (reason) => {
        const error = localCloseError(url, `dropped: ${reason}`, 1008, PEER_NOT_READING);
        // Reconnecting, a new connection starts with an empty buffer: the socket is dropped and the machine goes on,
        // as after a silent peer. Otherwise the connection ends, and the peer is told why (1008) if it reads again.
        if (settings.reconnect) this.drop(error);
        else void this.closeLocally((this.dropped = error), 1008, PEER_NOT_READING);
      },
      () => this.transport.bytesSent ?? 0,
    );
    const root = {
      input: { url, alreadyOpen: settings.alreadyOpen, reconnect: settings.reconnect },
      actions: this.connectionActions(),
      inspect: settings.inspect,
      clock: settings.clock,
      // A delayed transition (the reconnect backoff) happens without a send of ours: its handlers run from here.
      onTimer: () => this.afterStep(),
    };
    this.root =
      settings.xstate && settings.connectionEngine === 'xstate'
        ? settings.xstate.root<ConnectionContext, ConnectionEvent>('connection', root)
        : lightRoot<ConnectionContext, ConnectionEvent>(connectionTable, connectionLogic, root, settings.xstate?.machine('connection'));
    this.actor = this.root.ref;
  }

  protected start(): void {
    this.root.start();
    this.afterStep();
    if (this.settings.reconnect && this.settings.watchNetwork && this.state !== 'closed')
      this.unwatchNetwork = this.settings.watchNetwork(() => this.networkCameBack());
  }

  /**
   * The network came back (`watchNetwork`): the backoff wait ends. An attempt under way then may have started without
   * a network, and fail for it: if it does, the next one starts at once instead of after a longer delay.
   */
  private networkCameBack(): void {
    if (!this.reconnectNow()) this.retryAtOnce = this.state === 'connecting';
  }

  // ── Hooks for what runs over the connection.

  /** A transport opened (a new epoch). */
  protected abstract epochOpened(): void;
  /** The transport was lost and a reconnection follows. */
  protected abstract epochLost(error: ConnectionClosedError): void;
  /** The connection ends for good. */
  protected abstract ended(error: ConnectionClosedError): void;
  /** One frame from the peer. */
  protected abstract onFrame(text: string): void;
  protected abstract onBinaryFrame(): void;
  /** A message the transport could not read as it came (see `TransportHandlers.unreadable`). */
  protected abstract onUnreadableFrame(text: string, detail: string): void;
  /** The channel says no one listens on `subject` for the call `id` (NATS's 503): the NATS client's (nats-client.ts); no other channel says it. */
  protected onNoResponders(_id: string, _subject: string): void {}
  /**
   * The channel failed the call `id` without an answer (HTTP status, network error); `reason` makes its error: the
   * HTTP client's (http-client.ts); no other channel does it.
   */
  protected onCallFailed(_id: string, _reason: () => Error): void {}
  /** The frame just taken came as the answer to the call `id`, by the channel's word (`TransportHandlers.answered`): NATS's. */
  protected onAnswered(_id: string, _text: string | undefined): void {}

  /** A notification of this side's did not reach the peer (see `TransportHandlers.noticeFailed`). */
  protected onNoticeFailed(_method: string, _error: Error): void {}

  // ── The connection machine's actions: each asks for its handler, run once the step is done.

  private connectionActions() {
    return {
      openTransport: () => this.later(() => this.attach(this.settings.openTransport())),
      reportOpen: () => this.later(() => this.onOpen()),
      reportLoss: ({ context }: { context: ConnectionContext }) => this.later(() => this.onLost(context)),
      reportReconnecting: ({ context }: { context: ConnectionContext }) => this.later(() => this.onReconnecting(context)),
      dispatchMessage: ({ event }: { event: ConnectionEvent }) => {
        if (event.type === 'message.received') this.later(() => this.onFrame(event.data));
      },
      closeTransport: ({ event }: { event: ConnectionEvent }) => {
        if (event.type === 'connection.close') this.later(() => this.onCloseRequested(event.code, event.reason));
      },
      reportClosing: ({ context }: { context: ConnectionContext }) => this.later(() => this.onClosing(context)),
      reportClosed: ({ context }: { context: ConnectionContext }) => this.later(() => this.onClosed(context)),
    };
  }

  // ── What happens at each step of the connection's life.

  /** The transport opened (a new epoch): what waited goes out, the heartbeat starts, `ready` resolves. */
  private onOpen(): void {
    this.opened = true;
    this.retryAtOnce = false;
    if (this.transport.ping) this.heartbeat?.start();
    this.settleReady.resolve();
    this.epochOpened();
    this.events.emit('open', undefined);
  }

  /** The transport was lost and a reconnection follows: calls written on it fail (or wait again, if retry), handlers abort. */
  private onLost(context: ConnectionContext): void {
    this.stopWatching();
    const error = this.closeError ?? lostError(this.settings.url, context);
    this.lostDropped = this.dropped;
    this.closeError = this.dropped = undefined;
    this.epochLost(error);
  }

  private onReconnecting({ attempt, retryDelay, closeCode, closeReason, error }: ConnectionContext): void {
    // A peer this side dropped (silent, or not reading) closed with 1006 and no error: the event says why, as `close` does.
    const dropped = this.lostDropped;
    this.lostDropped = undefined;
    // The loss ran first (onLost): a handler's abort listener may have closed the connection then, for good.
    if (this.state !== 'connecting') return;
    // Still the lost transport's: the next one is attached when the delay is over.
    const uptime = this.uptime();
    // The network came back during the attempt that failed: the next one starts at once, as the event says.
    const atOnce = this.retryAtOnce;
    this.retryAtOnce = false;
    this.events.emit('reconnecting', {
      attempt,
      delay: atOnce ? 0 : retryDelay,
      code: closeCode,
      reason: closeReason ?? '',
      error: error ?? dropped,
      uptime,
    });
    if (atOnce) this.reconnectNow();
  }

  private onCloseRequested(code: number | undefined, reason: string | undefined): void {
    if (this.terminating) this.transport.terminate();
    else this.transport.close(code, reason);
  }

  /** The connection ends for good: every pending call fails at once with one error, `ready` rejects if it never opened. */
  private onClosing(context: ConnectionContext): void {
    this.stopWatching();
    this.unwatchNetwork?.();
    this.unwatchNetwork = undefined;
    const error = this.closeError ?? (this.closeError = closedError(this.settings.url, context, this.opened));
    this.settleReady.reject(error);
    this.ended(error);
  }

  private onClosed({ closeCode, closeReason, error }: ConnectionContext): void {
    // A peer this side dropped (silent, or not reading) closes with 1006 on the wire: the event says why.
    this.events.emit('close', { code: closeCode, reason: closeReason ?? '', error: error ?? this.dropped });
    this.resolveClosed();
  }

  // ── The transport's events: only the current epoch's count.

  /** Makes `transport` the current epoch's; events from an earlier epoch's transport are ignored. */
  private attach(transport: Transport): void {
    this.transport = transport;
    this.openedAt = undefined;
    const current = () => this.transport === transport;
    transport.attach({
      open: () => {
        if (!current()) return;
        this.openedAt = this.now();
        this.step({ type: 'transport.opened' });
      },
      message: (data, isBinary) => current() && this.transportOnMessage(data, isBinary),
      // How long it was open decides whether its loss is one more failed attempt (see `ReconnectPolicy.minUptime`).
      close: (code, reason) => current() && this.step({ type: 'transport.closed', code, reason, uptime: this.uptime() }),
      error: (error) => current() && this.step({ type: 'transport.error', error }),
      pong: () => current() && this.heartbeat?.heard(),
      unreadable: (text, detail) => current() && this.onUnreadableFrame(text, detail),
      noResponders: (id, subject) => current() && this.onNoResponders(id, subject),
      callFailed: (id, reason) => current() && this.onCallFailed(id, reason),
      answered: (id, data) => current() && this.onAnswered(id, data),
      noticeFailed: (method, error) => current() && this.onNoticeFailed(method, error),
    });
  }

  /** How long the current epoch's transport has been open, in ms; undefined if it never opened. */
  private uptime(): number | undefined {
    return this.openedAt === undefined ? undefined : this.now() - this.openedAt;
  }

  private transportOnMessage(data: string, isBinary: boolean): void {
    this.heartbeat?.heard();
    if (isBinary) this.onBinaryFrame();
    // In a state whose only answer to a frame is dispatchMessage, take it without an interpreter step.
    else if (this.bypassesActor) this.onFrame(data);
    else this.step({ type: 'message.received', data });
  }

  // ── The public face of the connection.

  /** The connection's lifecycle state. */
  get state(): ConnectionState {
    const value = this.root.value;
    return (typeof value === 'string' ? value : Object.keys(value as object)[0]) as ConnectionState;
  }

  /** Whether the connection was lost and is waiting to reconnect, or reconnecting (`state` is `connecting`). */
  get reconnecting(): boolean {
    return this.state === 'connecting' && this.opened;
  }

  /**
   * Ends the wait before the next reconnect attempt: it starts now (a page's "Retry now"). False, and nothing done,
   * when there is no wait to end: not reconnecting, or an attempt is under way. The browser build does it itself when
   * the page's network comes back (`online`).
   */
  reconnectNow(): boolean {
    const value = this.root.value as { connecting?: unknown };
    if (value.connecting !== 'waiting') return false;
    this.step({ type: 'reconnect.now' });
    return true;
  }

  /** Bytes handed to the socket and not yet sent (0 while no socket is open): see `highWaterMark`. */
  get bufferedAmount(): number {
    return this.state === 'open' ? this.transport.bufferedAmount : 0;
  }

  /**
   * Closes the connection: pending calls fail with `ConnectionClosedError` at
   * once. Resolves when closed; a peer that does not finish the close handshake
   * within `closeTimeout` is dropped.
   *
   * @param code 1000 (default), another sendable standard code, or an application code from 3000 to 4999 (a browser
   *   sends only those and 1000: there the other standard codes go out as 1000).
   * @param reason at most 123 bytes of UTF-8.
   */
  close(code = 1000, reason = ''): Promise<void> {
    validateCloseCode(code, reason);
    return this.closeLocally(localCloseError(this.settings.url, 'closed locally', code, reason), code, reason);
  }

  /** Starts the close handshake, failing pending calls with `error`; the socket is dropped if it does not end within `closeTimeout`. */
  private closeLocally(error: ConnectionClosedError, code: number, reason: string): Promise<void> {
    if (this.state === 'connecting' || this.state === 'open') {
      this.closeError = error;
      this.step({ type: 'connection.close', code, reason });
      const timer = setTimeout(() => this.transport.terminate(), this.settings.closeTimeout);
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
      this.closeError = localCloseError(this.settings.url, 'terminated locally', 1006, '');
      this.step({ type: 'connection.close', code: 1006 });
    } else if (state === 'closing') this.transport.terminate();
    return this.closed;
  }

  /** Writes a raw text frame, bypassing the protocol: for tools and tests that send what a well-behaved peer never would. */
  sendRaw(text: string): void {
    this.send(text);
  }

  // ── Plumbing.

  /** Every frame leaves through here, so that what the peer makes us buffer is watched. Returns false when the transport refused it. */
  protected send(text: string, done?: (error?: Error) => void): boolean {
    if (!this.transport.send(text, done)) return false;
    this.budget.wrote(text.length);
    return true;
  }

  /** Answers to the peer's frames (one function for every frame: nothing allocated per message). */
  protected readonly reply = (text: string): void => void this.send(text);

  /** Whether the socket's buffer holds `highWaterMark` unsent bytes: the peer's new requests are refused. */
  protected get sendBufferFull(): boolean {
    return this.budget.full;
  }

  /** Why a call or notification made on a closing or closed connection fails at once. */
  protected notOpenError(verb: 'call' | 'notify', method: string): ConnectionClosedError {
    return notOpenError(this.settings.url, this.state, verb, method, this.root.context, this.closeError);
  }

  /**
   * No pong nor frame came since the last ping: the peer is dropped. Unless its close frame came meanwhile (a frame,
   * so a sign of life; the transport is no longer open): then the socket is dropped without blaming the heartbeat, and
   * the close says why, with the peer's code and reason.
   */
  private heartbeatRanOut(interval: number): void {
    if (!this.transport.isOpen) return this.transport.terminate();
    this.drop(localCloseError(this.settings.url, `dropped: the peer answered no heartbeat for ${interval} ms`, 1006, ''));
  }

  /** Drops the socket without a close handshake, failing pending calls with `error`. */
  private drop(error: ConnectionClosedError): void {
    this.closeError = this.dropped = error;
    this.transport.terminate();
  }

  private stopWatching(): void {
    this.heartbeat?.stop();
    this.budget.stop();
  }

  /** Sends an event to the connection actor, then runs the handlers its actions asked for. */
  private step(event: ConnectionEvent): void {
    this.root.send(event);
    this.afterStep();
  }

  private later(effect: () => void): void {
    this.effects.push(effect);
  }

  private afterStep(): void {
    this.bypassesActor = this.settings.inspect === undefined && DISPATCH_STATES.has(this.state);
    // Handlers may step the machine again (a listener closing the connection): drain until none is left.
    while (this.effects.length > 0) {
      const batch = this.effects;
      this.effects = [];
      for (const effect of batch) effect();
    }
  }
}

/** The close reason sent to a peer dropped for not reading what was sent to it. */
const PEER_NOT_READING = 'not reading: too much data waits to be sent';
