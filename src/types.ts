/**
 * Public types shared by the client and the server: typed method maps, call
 * options and the events a peer emits.
 */
import type { ActorOptions, AnyActorLogic } from 'xstate';
import type { Id } from './protocol/jsonrpc.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/**
 * The shape of an API: method names to functions from params to result.
 * An interface works too: `interface Api { add(params: [number, number]): number }`,
 * and so does the methods object a server is given (`connect<typeof methods>`), where a method
 * checked by a schema (`{ params: schema, handler }`) takes the schema's input and returns the handler's result.
 */
export type AnyApi = object;

/** The API used when none is given: any method, params and result unchecked. */
export interface UntypedApi {
  [method: string]: (params?: any) => unknown;
}

export type MethodName<Api> = Extract<keyof Api, string>;
/**
 * The params a method takes: a function's first parameter, or the input type of a method's (or an entry's)
 * schema; anything when the method's type is unknown (a method inferred from an untyped handler).
 */
export type ParamsOf<F> = unknown extends F
  ? any
  : F extends (params: infer P, ...rest: any[]) => unknown
    ? P
    : F extends { readonly params: StandardSchemaV1<infer I, any> }
      ? I
      : F extends StandardSchemaV1<infer I, any>
        ? I
        : never;
/** What a method answers: a function's (or a schema-checked method's handler's) result, awaited. */
export type ResultOf<F> = unknown extends F
  ? unknown
  : F extends (...args: any[]) => infer R
    ? Awaited<R>
    : F extends { readonly handler: (...args: any[]) => infer R }
      ? Awaited<R>
      : F extends StandardSchemaV1
        ? unknown
        : never;

/** Arguments of `request(method, ...)`: params are optional only when the method accepts none. */
export type RequestArgs<F> =
  undefined extends ParamsOf<F> ? [params?: ParamsOf<F>, options?: RequestOptions] : [params: ParamsOf<F>, options?: RequestOptions];
/** Arguments of `notify(method, ...)`: the method's params, optional only when it accepts none. */
export type NotifyArgs<F> = undefined extends ParamsOf<F> ? [params?: ParamsOf<F>] : [params: ParamsOf<F>];

export interface RequestOptions {
  /** Milliseconds before the call rejects with `TimeoutError`. Default: the connection's `timeout`. */
  timeout?: number;
  /** Aborting it cancels the call: it rejects with the signal's reason and the peer gets `$/cancelRequest`. */
  signal?: AbortSignal;
  /**
   * The call is safe to run twice (idempotent). If the connection is lost after
   * the request was written and the client reconnects (`reconnect`), the call
   * waits in `queued` and is sent again on the new connection, within its own
   * timeout, instead of failing with `ConnectionClosedError`. A number is how
   * many times at most (from 0 to 100); `true` is 2. A call whose connection is
   * lost each time it is written (the server closes it for that call: too large
   * for its `maxPayload`, or a crash) then fails with `ConnectionClosedError`
   * saying so, instead of taking every new connection down until its deadline.
   * Default: false: a written call is never sent again.
   */
  retry?: boolean | number;
}

/**
 * Who is on the other end, as a handler sees it in `ctx.connection`: the
 * WebSocket upgrade request, the HTTP request, or the NATS message.
 */
export interface ConnectionInfo {
  /** How the call arrived. */
  readonly transport: 'ws' | 'http' | 'nats';
  /** The caller's IP address (WebSocket, HTTP); undefined on NATS and for the server seen from a client. */
  readonly remoteAddress: string | undefined;
  /** The upgrade or HTTP request's headers (names in lower case), or the NATS message's headers. Empty when none. */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request's path and query (`/rpc?token=x`); on NATS the subject; on a client, the URL it connected to. */
  readonly url: string;
  /** What `authenticate` attached by answering `{ data }`; undefined otherwise. */
  readonly data: unknown;
}

/** What a handler receives besides its params. */
export interface HandlerContext<RemoteApi extends AnyApi = UntypedApi> {
  /** Who is calling: see `ConnectionInfo`. */
  connection: ConnectionInfo;
  /**
   * Aborts when the caller cancels (`$/cancelRequest`), the connection closes, or the server closes with the handler
   * still running; its `reason` is a DOMException named `AbortError` that says which: `cancelled by the caller
   * ($/cancelRequest)`, `the connection closed`, `the server is closing`. Past `handlerTimeout` (or a NATS caller's
   * timeout), a `TimeoutError` instead.
   */
  signal: AbortSignal;
  /** The other end of the connection: call its methods, notify it. */
  peer: PeerApi<RemoteApi>;
  /** The request's id; undefined when a notification runs the method (nobody is answered). */
  id: Id | undefined;
  /** The method called. */
  method: string;
}

export type Handler<F, RemoteApi extends AnyApi = UntypedApi> = (
  params: ParamsOf<F>,
  ctx: HandlerContext<RemoteApi>,
) => ResultOf<F> | Promise<ResultOf<F>>;

/**
 * A method whose params a Standard Schema (zod, valibot, arktype…) checks before its handler runs: params the
 * schema refuses are answered -32602 with the schema's issues in `data.issues`, and the handler gets the
 * schema's output. `F` is the schema itself (methods inferred from the object given) or a method's type.
 */
export interface SchemaMethod<F = StandardSchemaV1, RemoteApi extends AnyApi = UntypedApi> {
  params: F extends StandardSchemaV1 ? F : StandardSchemaV1<ParamsOf<F>, unknown>;
  handler: (
    params: F extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<F> : ParamsOf<F>,
    ctx: HandlerContext<RemoteApi>,
  ) => (F extends StandardSchemaV1 ? unknown : ResultOf<F>) | Promise<F extends StandardSchemaV1 ? unknown : ResultOf<F>>;
}

/**
 * Handlers for the methods a side exposes to its peer: each a function `(params, ctx) => result`, or
 * `{ params: schema, handler }` (see `SchemaMethod`), whose handler's params are typed from the schema.
 */
export type Methods<Api extends AnyApi = UntypedApi, RemoteApi extends AnyApi = UntypedApi> = {
  // Api is inferred (when not given) from a schema-checked method's `params` only: a handler's types say too little.
  [K in keyof Api]: K extends string ? Handler<NoInfer<Api[K]>, RemoteApi> | SchemaMethod<Api[K], RemoteApi> : never;
};

/** Names JavaScript itself reads from an object it awaits, converts to a string or serializes: `CallProxy` leaves them out. */
export type NotProxiedName = 'then' | 'toString' | 'valueOf' | 'toJSON';

/**
 * `client.call.add([1, 2])`: each method of the remote API as a function of its params and per-call options,
 * the same as `request('add', [1, 2], options)`. Methods named `then`, `toString`, `valueOf` and `toJSON` are left
 * out (the proxy must not be a thenable, and logging or serializing it must call nothing): call them with
 * `request('then', …)`.
 */
export type CallProxy<RemoteApi extends AnyApi = UntypedApi> = {
  readonly [M in Exclude<MethodName<RemoteApi>, NotProxiedName>]: (...args: RequestArgs<RemoteApi[M]>) => Promise<ResultOf<RemoteApi[M]>>;
};

export type UnmatchedReason = 'unknown' | 'late' | 'duplicate' | 'malformed';

export interface UnmatchedEvent {
  reason: UnmatchedReason;
  /** The decoded message, or the raw text when it was not JSON. */
  message: unknown;
  /** The id the message carried, when it had one. */
  id?: Id | null;
  /** What was wrong with it, in words. */
  detail: string;
}

export interface NotificationEvent {
  method: string;
  params: unknown;
}

export interface PeerEvents {
  notification: NotificationEvent;
  unmatched: UnmatchedEvent;
  /** The connection opened: the first time, and again after each reconnection. */
  open: undefined;
  /** The connection was lost or an attempt failed; the next attempt comes after `delay` ms (client with `reconnect`). */
  reconnecting: ReconnectingEvent;
  /** The connection is closed for good. */
  close: { code: number | undefined; reason: string; error?: unknown };
}

export interface ReconnectingEvent {
  /** The attempt coming next, counted from 1 since a connection last stayed open `minUptime`. */
  attempt: number;
  /** Milliseconds until it starts. */
  delay: number;
  /** How the lost or failed transport closed. */
  code: number | undefined;
  reason: string;
  /** What ended it: the transport's error, or why this side dropped the peer (no heartbeat, not reading); else undefined. */
  error?: unknown;
  /**
   * How long the lost connection had been open, in ms (from `minUptime` on, the attempts start over); undefined when
   * the attempt that failed never opened.
   */
  uptime: number | undefined;
}

/** The surface shared by `connect()`'s client and the server's view of each client. */
export interface PeerApi<RemoteApi extends AnyApi = UntypedApi> {
  request<M extends MethodName<RemoteApi>>(method: M, ...args: RequestArgs<RemoteApi[M]>): Promise<ResultOf<RemoteApi[M]>>;
  /** The remote methods as functions: `await peer.call.add([1, 2], { timeout })` is `request('add', [1, 2], { timeout })`. */
  readonly call: CallProxy<RemoteApi>;
  /**
   * Sends a notification (no answer comes). Throws, nothing sent: `QueueFullError` when `maxQueued` (or `maxBufferedAmount` bytes) already wait;
   * `ProtocolError` when the params cannot be encoded as JSON, or when the transport would not carry the frame
   * (NATS: larger than nats-server's max_payload). A notification made while connecting waits; if the transport then
   * refuses it, it is reported to `onError` and the logger (`kind: 'unsent'`) instead.
   * Typed as `request` is: with a typed API, `method` is one of its methods and `params` that method's.
   */
  notify<M extends MethodName<RemoteApi>>(method: M, ...args: NotifyArgs<RemoteApi[M]>): void;
  on<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): () => void;
  /** Like `on`, for the next emit of `event` only; returns a function that removes it before then. */
  once<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): () => void;
  close(code?: number, reason?: string): Promise<void>;
}

export type InspectOption = ActorOptions<AnyActorLogic>['inspect'];
/**
 * What runs each call's machine: `'light'`, a transition table compiled from the
 * machine (the default: about the cost of a plain Map entry and a promise), or
 * `'xstate'`, a full XState actor per call (about 100 µs and 6 KB each).
 */
export type Engine = 'light' | 'xstate';
/** XState's clock (`setTimeout`/`clearTimeout`), e.g. `new SimulatedClock()` in tests. */
export type Clock = NonNullable<ActorOptions<AnyActorLogic>['clock']>;
