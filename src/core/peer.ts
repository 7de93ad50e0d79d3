/**
 * One end of a JSON-RPC connection, the same on both sides of the socket: on
 * top of the connection's lifecycle (connection.ts) it makes outgoing calls
 * (outgoing.ts), answers incoming ones (incoming.ts), and hands every frame
 * from the peer to the inbound dispatcher (inbound.ts), which reports what
 * matches nothing. `connect()` wraps it for the client; the server makes one
 * per accepted socket.
 */
import type { AnyActorRef } from 'xstate';
import { newCallId } from './call-id.js';
import { abortReason } from './abort-watch.js';
import { connectionClosed } from './abort-reasons.js';
import { callProxy } from './call-proxy.js';
import { Connection, type ConnectionOptions } from './connection.js';
import type { Hooks } from '../hooks.js';
import { AbortError, ProtocolError, type ConnectionClosedError } from '../errors.js';
import { describeUnmatched, receiveFrame, refuseFrame, type InboundHost } from './inbound.js';
import { IncomingCalls, type AnyMethod } from './incoming.js';
import type { ResponderLimits } from '../limits.js';
import { OutgoingCalls } from './outgoing.js';
import { encode, ErrorCodes, notificationFrame, requestFrame, type ErrorObject, type Frame } from '../protocol/jsonrpc.js';
import type {
  AnyApi,
  CallProxy,
  ConnectionInfo,
  Engine,
  MethodName,
  NotifyArgs,
  PeerApi,
  PeerEvents,
  RequestArgs,
  RequestOptions,
  ResultOf,
  UntypedApi,
} from '../types.js';
import { validateMethodName, validateParams, validateRequestOptions } from '../validate.js';
import { countOf } from '../words.js';

export type { ConnectionActor, ConnectionState } from './connection.js';

export interface PeerOptions extends ConnectionOptions {
  /** Backpressure on outgoing calls: see `ClientOptions`. */
  maxInFlight: number;
  maxQueued: number;
  /** Default timeout of outgoing calls, in ms. */
  timeout: number;
  /** Errors that settle a call show the stack of the line that made it: see `ClientOptions.callSiteStacks`. */
  callSiteStacks: boolean;
  methods: Record<string, AnyMethod>;
  /** Middleware, error hook and logger around this side's handlers. */
  hooks: Hooks;
  /** What runs each call's machine. */
  engine: Engine;
  exposeErrorStack: boolean;
  /** How many settled call ids to remember to tell late and duplicate responses from unknown ones. */
  settledMemory: number;
  /** Limits on what the other end sends: see `ServeOptions` for each. */
  limits: ResponderLimits;
  /** Who is on the other end, for handlers' `ctx.connection`. Default: the `url`, no address, headers or data. */
  connection?: ConnectionInfo;
  /**
   * Each call notes when it was made, so that its request can carry how long it has left when it is written
   * (`OutgoingCalls.timeLeftOf`: a NATS client's). Default: false.
   */
  sendsTimeLeft?: boolean;
}

export class Peer<RemoteApi extends AnyApi = UntypedApi> extends Connection implements PeerApi<RemoteApi> {
  protected readonly outgoing: OutgoingCalls;
  private readonly incoming: IncomingCalls;
  /** A message the transport could not read as it came (bytes that are not UTF-8): reported, nothing answered or settled. */
  protected onUnreadableFrame(text: string, detail: string): void {
    this.inbound.report('malformed', text, null, detail);
  }

  /** What the inbound dispatcher needs of this connection. */
  protected readonly inbound: InboundHost;
  private proxy: CallProxy<RemoteApi> | undefined;

  constructor(private readonly options: PeerOptions) {
    super(options);
    const write = (text: string, done?: (error?: Error) => void) => this.send(text, done);
    this.outgoing = new OutgoingCalls({
      write,
      callSiteStacks: options.callSiteStacks,
      inspect: options.inspect,
      clock: options.clock,
      settledMemory: options.settledMemory,
      engine: options.engine,
      xstate: options.xstate,
      maxInFlight: options.maxInFlight,
      maxQueued: options.maxQueued,
      // What waits in line counts against the same bound as what waits in the socket's buffer.
      maxQueuedBytes: options.send.maxBufferedAmount,
      highWaterMark: options.send.highWaterMark,
      bufferedAmount: () => this.transport.bufferedAmount,
      // With reconnect, a call or notification made once the peer's close frame came waits for the next epoch.
      acceptsFrames: options.reconnect ? () => this.transport.isOpen : undefined,
      refuses: (frame) => this.transport.refuses?.(frame),
      // In a microtask: the line is sent on inside a step of the connection, and onError may close it.
      unsent: (error, method) => queueMicrotask(() => options.hooks.unsent(error, method, this.connection)),
      settled: (id) => this.transport.callSettled?.(id),
      url: options.url,
      now: options.sendsTimeLeft === true ? this.now : undefined,
    });
    this.incoming = new IncomingCalls({
      methods: options.methods,
      hooks: options.hooks,
      peer: this as unknown as PeerApi<any>,
      connection: this.connection,
      write: (text) => write(text),
      inspect: options.inspect,
      exposeErrorStack: options.exposeErrorStack,
      engine: options.engine,
      xstate: options.xstate,
      handlerTimeout: options.limits.handlerTimeout,
      clock: options.clock,
      idle: () => this.onIdle(),
    });
    this.inbound = this.inboundHost();
    // Its calls' parent for inspectors: the actor itself (XState's, or a light one), which has what they read.
    const parent = this.actor as unknown as AnyActorRef;
    this.outgoing.parent = parent;
    this.incoming.parent = parent;
    this.start();
  }

  /** Who is on the other end: for a server's connection, the upgrade request and what `authenticate` attached. */
  get connection(): ConnectionInfo {
    return (this.info ??= this.options.connection ?? {
      transport: 'ws',
      remoteAddress: undefined,
      headers: {},
      url: this.options.url,
      data: undefined,
    });
  }

  private info: ConnectionInfo | undefined;

  /** The last incoming call (or notification handler) running ended (a draining server waits for it: server-peer.ts). */
  protected onIdle(): void {}

  /** A notification did not reach the peer: told to `onError` and the logger, as one the transport would not send. */
  protected override onNoticeFailed(method: string, error: Error): void {
    this.options.hooks.unsent(error, method, this.connection);
  }

  // ── What the connection's life means for the calls.

  /** A transport opened: what waited goes out. */
  protected epochOpened(): void {
    this.outgoing.open();
  }

  /** The transport was lost, a reconnection follows: calls written on it fail (or wait again, if retry), handlers abort. */
  protected epochLost(error: ConnectionClosedError): void {
    this.outgoing.lost(error);
    this.incoming.cancelAll(this.handlersAbortedFor());
  }

  /** The connection ended: every pending call fails at once with one error, every handler aborts. */
  protected ended(error: ConnectionClosedError): void {
    this.outgoing.failAll(error);
    this.incoming.cancelAll(this.handlersAbortedFor());
  }

  /** Why the connection's end aborts the handlers still running: their `ctx.signal.reason` (see abort-reasons.ts). */
  protected handlersAbortedFor(): unknown {
    return connectionClosed();
  }

  /** One text frame from the peer. */
  protected onFrame(text: string): void {
    receiveFrame(this.inbound, text, this.reply);
  }

  /**
   * A binary frame: JSON-RPC travels in text frames, so it is refused as a frame that cannot be read is (reported,
   * told to the hooks, answered -32600 with id null); the connection stays open.
   */
  protected onBinaryFrame(): void {
    const error = { code: ErrorCodes.InvalidRequest, message: 'binary frame: JSON-RPC travels in text frames' };
    refuseFrame(this.inbound, '', error, this.state === 'open' ? this.reply : undefined);
  }

  /** What the inbound dispatcher needs of this connection. */
  private inboundHost(): InboundHost {
    const incoming = this.incoming;
    return {
      limits: this.options.limits,
      hooks: this.options.hooks,
      connection: () => incoming.connection,
      running: incoming,
      accepting: () => this.state === 'open',
      busy: (method) => this.busy(method),
      startCall: (frame, batch, _reply, bytes) => this.incoming.receive(frame, bytes, batch),
      cancelCall: (id) => void this.incoming.cancel(id),
      response: (message) => {
        const reason = this.outgoing.route(message);
        if (reason) this.inbound.report(reason, message.frame, message.frame.id, describeUnmatched(reason, message.frame.id));
      },
      malformedResponse: (id, detail, frame) => this.outgoing.malformed(id, detail, frame),
      notification: (method, params) => this.events.emit('notification', { method, params }),
      runNotification: (method, params, bytes) => incoming.notify(method, params, bytes, this.options.limits),
      report: (reason, message, id, detail) =>
        this.events.emit('unmatched', {
          reason,
          message,
          ...(typeof id === 'string' || typeof id === 'number' || id === null ? { id } : {}),
          detail,
        }),
    };
  }

  /** Why a request is refused unrun by this connection's send buffer (-32000), or undefined. */
  protected busy(method: string): ErrorObject | undefined {
    if (!this.sendBufferFull) return undefined;
    const { highWaterMark } = this.options.send;
    const message = `${this.options.limits.side} busy: answers not yet read by you fill this connection's buffer (highWaterMark ${countOf(highWaterMark, 'byte')}); "${method}" was not run`;
    return { code: ErrorCodes.ServerBusy, message, data: { highWaterMark, bufferedAmount: this.transport.bufferedAmount } };
  }

  // ── Calls.

  /** How many times the connection has opened: each transport that opened is an epoch, counted from 1 (0 before the first). */
  get epoch(): number {
    return this.outgoing.openings;
  }

  /** Outgoing calls not yet settled (waiting in `queued` or in flight). */
  get pendingCalls(): number {
    return this.outgoing.size;
  }

  /** Outgoing calls waiting in `queued`: for the connection to open, or for room in it. */
  get queuedCalls(): number {
    return this.outgoing.queued;
  }

  /** Incoming calls whose handler is still running. */
  get handlingCalls(): number {
    return this.incoming.size;
  }

  /** Whether the connection is closing or closed: no call or notification may be made on it. */
  private get closingOrClosed(): boolean {
    const state = this.state;
    return state === 'closing' || state === 'closed';
  }

  request<M extends MethodName<RemoteApi>>(method: M, ...args: RequestArgs<RemoteApi[M]>): Promise<ResultOf<RemoteApi[M]>> {
    const [params, options] = args as [unknown, RequestOptions | undefined];
    validateMethodName(method);
    validateParams(params);
    const { timeout = this.options.timeout, signal, retries } = validateRequestOptions(options);

    if (this.closingOrClosed) return Promise.reject(this.notOpenError('call', method));
    if (signal?.aborted) return Promise.reject(abortedBeforeMade(signal, method));

    const id = newCallId();
    let frame: string;
    try {
      frame = encodeOutgoing(method, requestFrame(id, method, params));
    } catch (error) {
      return Promise.reject(error);
    }
    // Encoding ran the caller's code (a `toJSON`, a getter), which may have closed the connection: a call made
    // now would wait in a line that nothing will ever release or fail (closed at once while waiting to reconnect).
    if (this.closingOrClosed) return Promise.reject(this.notOpenError('call', method));
    // Or aborted the signal: its 'abort' event has fired, and a listener added now would never hear it.
    if (signal?.aborted) return Promise.reject(abortedBeforeMade(signal, method));
    return this.outgoing.start({ id, method, params, timeout }, frame, signal, retries);
  }

  /** The remote methods as functions: `await client.call.add([1, 2], { timeout })` is `request('add', [1, 2], { timeout })`. */
  get call(): CallProxy<RemoteApi> {
    return (this.proxy ??= callProxy<RemoteApi>((this as Peer<any>).request.bind(this)));
  }

  notify<M extends MethodName<RemoteApi>>(method: M, ...args: NotifyArgs<RemoteApi[M]>): void {
    const [params] = args as [unknown];
    validateMethodName(method);
    validateParams(params);
    if (this.closingOrClosed) throw this.notOpenError('notify', method);
    const frame = encodeOutgoing(method, notificationFrame(method, params));
    // As for a call: encoding ran the caller's code, which may have closed the connection; the notification would
    // then wait in a line that nothing empties, unsent and untold.
    if (this.closingOrClosed) throw this.notOpenError('notify', method);
    this.outgoing.notify(method, frame);
  }

  on<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): () => void {
    return this.events.on(event, listener);
  }

  /** Like `on`, for the next emit of `event` only. */
  once<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): () => void {
    return this.events.once(event, listener);
  }

  off<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): void {
    this.events.off(event, listener);
  }
}

/** Why a call whose signal was aborted before it was made fails: the signal's reason, as `fetch` rejects. */
function abortedBeforeMade(signal: AbortSignal, method: string): unknown {
  return abortReason(signal) ?? new AbortError(`call "${method}" was aborted before it was made`);
}

/** Encodes an outgoing frame; params that JSON cannot carry are the caller's `ProtocolError`. */
function encodeOutgoing(method: string, frame: Frame): string {
  try {
    return encode(frame);
  } catch (cause) {
    throw new ProtocolError(`params of "${method}" cannot be encoded as JSON: ${(cause as Error).message}`, { cause });
  }
}
