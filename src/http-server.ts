/**
 * JSON-RPC 2.0 over HTTP POST, on the port (and `path`) where `serve()` takes
 * WebSocket upgrades: the request handler the WebSocket listener calls for
 * every plain (non-upgrade) request. What is JSON-RPC at all (path, method,
 * content type, CORS, body size) is decided in transports/http-request.ts;
 * the body then goes through the same inbound dispatcher as every WebSocket
 * frame and NATS message (`receiveFrame`), and each request runs as an
 * incoming-call actor (`IncomingCalls`).
 *
 * What a "connection" is over HTTP: one TCP connection (keep-alive). Its
 * requests share one `IncomingCalls`, so `maxInFlightPerConnection` counts the
 * calls running for all the requests on that connection (a batch counts each
 * request in it) and bounds the POSTs pipelined on it that wait for their
 * access check or body; an id is refused as a duplicate only while a call with
 * that id runs on the same TCP connection. When the TCP connection closes
 * (the client went away or aborted its request), every call's handler running
 * for it sees `ctx.signal` abort, and nothing is answered; notifications'
 * handlers (their POSTs answered already) run on, holding its place of
 * `maxConnections`. A client that does not read its answers is dropped as a WebSocket one is (`drainTimeout`, `maxBufferedAmount`), counting
 * the answers to its pipelined requests that wait their turn as well as the socket's buffer:
 * Node's HTTP server has no timeout of its own on a response that is never read.
 *
 *   POST body ─receiveFrame─▶ request(s) ─▶ incoming calls ─▶ 200 application/json: the answer, or the batch's array
 *                           └ notification(s) only ───────▶ 204 No Content (the server's `notification` event)
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { receiveFrame, type InboundHost } from './core/inbound.js';
import { serverClosing } from './core/closing.js';
import { connectionClosed, serverIsClosing } from './core/abort-reasons.js';
import { IncomingCalls, type AnyMethod } from './core/incoming.js';
import type { Hooks } from './hooks.js';
import { noPeer } from './core/no-peer.js';
import { SendBudget } from './core/send-budget.js';
import { realTime } from './engine/deadlines.js';
import { XSTATE } from './engine/xstate.js';
import { DEFAULT_UNTIMED_HANDLER_TIMEOUT, type ResponderLimits, type SendLimits } from './limits.js';
import type { Id } from './protocol/jsonrpc.js';
import {
  answer,
  answerJson,
  answerOptions,
  answerEncoded,
  answerUnread,
  corsHeaders,
  isJson,
  pathMatches,
  readBody,
  ALLOWED_METHODS,
  GET_REASON,
} from './transports/http-request.js';
import type { ConnectionSlots } from './transports/connection-slots.js';
import type { UpgradeCheck } from './transports/upgrade.js';
import type { Clock, ConnectionInfo, Engine, InspectOption, NotificationEvent, UnmatchedEvent } from './types.js';
import { countOf } from './words.js';

export interface HttpEndpointOptions {
  /** The path JSON-RPC is posted to; other paths are answered 404. Undefined: any path (noServer: the app routes). */
  path: string | undefined;
  methods: Record<string, AnyMethod>;
  /** Middleware, `onError` and the logger: the same as over WebSocket. */
  hooks: Hooks;
  limits: ResponderLimits;
  /** How long (`drainTimeout`) and how much (`maxBufferedAmount`) an answer may wait unread on a TCP connection before it is dropped. */
  send: SendLimits;
  /** Largest body, in bytes: a larger one is answered 413 and not read. */
  maxPayload: number;
  /** The access check (`origins`, `authenticate`) run on every POST, or none. */
  check: UpgradeCheck | undefined;
  /**
   * Longest a request may take from its headers to its whole body (the access check, then the body), in ms,
   * before it is answered 408 and its TCP connection closed: in every mode, also on a server that is not callstate's own.
   */
  requestTimeout: number;
  /** The places of `maxConnections`, shared with WebSocket connections: a TCP connection holds one while a POST on it is in progress. */
  slots: ConnectionSlots;
  /** Origins allowed by CORS (undefined: any). */
  origins: ReadonlySet<string> | undefined;
  inspect: InspectOption;
  exposeErrorStack: boolean;
  engine: Engine;
  clock: Clock | undefined;
  onNotification: (event: NotificationEvent) => void;
  onUnmatched: (event: UnmatchedEvent) => void;
}

export interface HttpEndpoint {
  /** Answers one plain HTTP request. */
  handle(request: IncomingMessage, response: ServerResponse): void;
  /**
   * The server is closing: new calls are answered -32000 (busy), and the answer to the last request on each TCP
   * connection ends it.
   */
  close(): void;
  /**
   * Resolves once no handler (of a call or a notification) runs on any TCP connection: what a draining
   * close waits for, as it waits for each WebSocket peer's, before it ends the connections.
   */
  idle(): Promise<void>;
  /**
   * Ends what still runs: resolves once every TCP connection with calls running has closed (the answer to its last
   * request ends it while closing) or has nothing running any more (a keep-alive connection whose notifications
   * ended stays open, idle: the app's, attached or with `noServer`); those still running after `timeout` ms have their handlers aborted
   * (`ctx.signal`) and their connections dropped, unanswered. In every mode: on an attached server or
   * with `noServer` no listener of callstate's owns these connections.
   */
  end(timeout: number): Promise<void>;
}

/** One POST being dispatched: who sent it, and whether anything answered it yet. */
interface Exchange {
  connection: ConnectionInfo;
  /** Calls it started (answered later, through `reply`). */
  started: number;
  written: boolean;
}

/** The incoming calls of one TCP connection, and the way back to each single request's HTTP response. */
interface SocketCalls {
  incoming: IncomingCalls;
  host: InboundHost;
  /** What waits unsent on the TCP connection after each answer: a client that reads nothing is dropped. */
  budget: SendBudget;
  /**
   * Bytes of answers to pipelined requests that wait behind an earlier answer not yet sent: Node holds them in
   * their responses, out of the socket's buffer, until their turn. Counted with it by `budget`.
   */
  queued: number;
}

/** Requests given to an endpoint, of any callstate server: only the first hand-over of each counts. */
const handedOver = new WeakSet<IncomingMessage>();

export function httpEndpoint(options: HttpEndpointOptions): HttpEndpoint {
  const { path, limits, check, origins } = options;
  const bySocket = new WeakMap<Socket, SocketCalls>();
  /** The TCP connections that carried calls, until they close. */
  const live = new Set<Socket>();
  /** Called when one of them closes, or nothing runs on it any more (while `end` waits). */
  let socketClosed = () => {};
  /** Those waiting (a draining close) until no handler runs on any TCP connection. */
  let idleWaiters: Array<() => void> = [];
  const peer = noPeer('HTTP');
  let closing = false;
  /** `end` was called: the server is past its drain, closing its connections (or closed). */
  let ending = false;
  /**
   * The last request that came on each TCP connection. Node sends the answers in the order of the requests, and none
   * after one that says `Connection: close`: while closing, only the last request's answer says it, so that the
   * answers to the requests pipelined before it (still running in a drain, say) are sent first, not dropped.
   */
  const lastRequest = new WeakMap<Socket, IncomingMessage>();
  /** Whether an answer to `request` now ends its TCP connection (the server is closing, and it is the last request). */
  const endsConnection = (request: IncomingMessage) => closing && lastRequest.get(request.socket) === request;
  /**
   * POSTs on each TCP connection past their headers and not dispatched yet (their access check or body pending).
   * Node parses pipelined requests as they come, and nothing is written for them meanwhile that would make it
   * stop reading (it pauses only on answers waiting unsent): without a bound, one client pipelining small
   * POSTs behind a slow `authenticate` made the server hold every one of them (200,000 from 19 MB sent, 540 MB of
   * heap) until upgradeTimeout. At most `maxInFlightPerConnection` wait; one more is refused 503, closing the connection.
   */
  const waiting = new WeakMap<Socket, number>();
  /** The POST whose body `receiveFrame` is dispatching now: `startCall` files its calls under it. */
  let current: Exchange | undefined;

  const busyWhileClosing = (method: string) => (closing ? serverClosing(method) : undefined);

  /** The TCP connections with handlers still running. */
  const busy = () => [...live].filter((socket) => bySocket.get(socket)!.incoming.size > 0);

  /** A handler ended or a connection closed: tells those waiting for no handler to run, if none does. */
  const checkIdle = () => {
    if (idleWaiters.length === 0 || busy().length > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const resolve of waiters) resolve();
  };

  const callsOf = (socket: Socket): SocketCalls => {
    const known = bySocket.get(socket);
    if (known) return known;
    /** Where each single request's answer goes, by id. */
    const replies = new Map<Id, (text: string) => void>();
    const incoming = new IncomingCalls({
      methods: options.methods,
      hooks: options.hooks,
      peer,
      // Every call is given its request's ConnectionInfo; this one is never seen.
      connection: { transport: 'http', remoteAddress: socket.remoteAddress, headers: {}, url: path ?? '/', data: undefined },
      write: (text, id) => {
        const reply = replies.get(id);
        if (reply === undefined) return;
        replies.delete(id);
        reply(text);
      },
      inspect: options.inspect,
      exposeErrorStack: options.exposeErrorStack,
      engine: options.engine,
      xstate: XSTATE,
      handlerTimeout: limits.handlerTimeout,
      // A notification's POST is answered at once, and its connection closing ends nothing: without a deadline of
      // its own, a handler that never settled held its connection's place of maxConnections for good.
      notificationTimeout: DEFAULT_UNTIMED_HANDLER_TIMEOUT,
      clock: options.clock,
      idle: () => {
        // Its notifications' handlers have all ended: the place they held is free.
        if (holdsPlace) {
          holdsPlace = false;
          options.slots.unkeep(socket);
        }
        // Closed, with notifications that ran on after it: nothing runs for it any more.
        if (socket.destroyed) live.delete(socket);
        // Nothing runs on it now: a closing server's `end` waits for no connection that stays open idle (an app's,
        // attached or with noServer, after a notification's 204), which it waited for until closeTimeout.
        socketClosed();
        checkIdle();
      },
    });
    /**
     * Whether handlers of notifications posted on this connection hold a place of `maxConnections` (one use, however
     * many run), also once it has closed. A notification's POST is answered 204 before its handler ends, and its place
     * would be given back with the answer: notifications spread over many TCP connections then ran without any bound
     * of `maxConnections`.
     */
    let holdsPlace = false;
    const host: InboundHost = {
      limits,
      hooks: options.hooks,
      // Only read while a POST is dispatched: its request's ConnectionInfo.
      connection: () => current?.connection ?? incoming.connection,
      running: incoming,
      // Requests are refused with -32000 while closing (`busy`), not dropped: each POST gets its answer.
      accepting: () => true,
      busy: busyWhileClosing,
      startCall: (frame, batch, reply, bytes) => {
        const exchange = current!;
        if (batch === undefined) {
          // Two pipelined requests with one id cannot both be answered by id.
          if (replies.has(frame.id)) return false;
          replies.set(frame.id, reply); // before receive: an unknown method is answered at once
        }
        if (incoming.receive(frame, bytes, batch, exchange.connection)) {
          exchange.started++;
          return true;
        }
        if (batch === undefined) replies.delete(frame.id);
        return false;
      },
      cancelCall: (id) => {
        if (incoming.cancel(id)) replies.delete(id);
      },
      response: ({ frame }) => host.report('unknown', frame, frame.id, 'the server makes no calls over HTTP: a response matches nothing'),
      notification: (method, params) => options.onNotification({ method, params }),
      // Once the server ends its connections (after any drain), a notification's method runs no more, as
      // on a WebSocket peer that is closing; while draining it runs, as on an open WebSocket peer.
      runNotification: (method, params, bytes) => {
        if (ending) return;
        incoming.notify(method, params, bytes, limits, current?.connection);
        // Within its POST, which holds a place for this connection already: taking one more use of it cannot fail.
        if (!holdsPlace && incoming.size > 0 && !socket.destroyed) holdsPlace = options.slots.keep(socket);
      },
      report: (reason, message, id, detail) => options.onUnmatched({ reason, message, ...(id === undefined ? {} : { id }), detail }),
    };
    // Dropping the TCP connection aborts what still runs on it (its 'close' below), as the client's going would.
    const budget = new SendBudget(
      options.send,
      options.clock ?? realTime,
      () => socket.writableLength + calls.queued,
      () => socket.destroy(),
    );
    const calls: SocketCalls = { incoming, host, budget, queued: 0 };
    bySocket.set(socket, calls);
    live.add(socket);
    // The client went away (or aborted its request): its calls' handlers' signals abort, nothing is answered. Those of
    // notifications run on: their POSTs were answered (204) already, and a connection closing after its answer says
    // nothing about them (`Connection: close`, HTTP/1.0, a one-shot client such as curl, the server's own close while
    // draining); they keep its place of maxConnections and count as running (a drain waits for them, `end` aborts them).
    socket.once('close', () => {
      budget.stop();
      // Once the server ends its HTTP calls (`end`), a connection closing is the server's doing (its listener drops the
      // sockets left at the same closeTimeout), whichever of the two timers runs first.
      incoming.cancelCalls(ending ? serverIsClosing() : connectionClosed());
      if (incoming.size === 0) live.delete(socket);
      replies.clear();
      socketClosed();
      checkIdle();
    });
    return calls;
  };

  /** Runs the body through the dispatcher; answers 204 when nothing in it asks for an answer. */
  const dispatch = (request: IncomingMessage, response: ServerResponse, text: string, cors: OutgoingHttpHeaders, data: unknown) => {
    const calls = callsOf(request.socket);
    const exchange: Exchange = {
      connection: {
        transport: 'http',
        remoteAddress: request.socket.remoteAddress,
        headers: request.headers,
        url: request.url ?? '/',
        data,
      },
      started: 0,
      written: false,
    };
    const reply = (out: string) => {
      exchange.written = true;
      const bytes = answerJson(response, out, endsConnection(request) ? { ...cors, Connection: 'close' } : cors);
      // Behind an earlier answer still unsent (pipelined): Node gives the response the socket in its turn.
      if (bytes > 0 && response.socket === null) {
        calls.queued += bytes;
        response.once('socket', () => (calls.queued -= bytes));
      }
      calls.budget.wrote(out.length);
    };
    current = exchange;
    try {
      receiveFrame(calls.host, text, reply);
    } finally {
      current = undefined;
    }
    if (!exchange.written && exchange.started === 0) answer(response, 204, cors, undefined, endsConnection(request));
  };

  /**
   * The access check, then the body, then the dispatch, within one deadline:
   *
   *   maxConnections TCP connections held by others (WebSocket, POSTs in progress) ─▶ 503, the TCP connection closed
   *   maxInFlightPerConnection POSTs wait on its TCP connection already ─▶ 503, the TCP connection closed
   *   check ─refused──▶ 401/403 (500), the body unread, the TCP connection closed
   *     └─accepted──▶ body ─read──▶ dispatch (unless the client went away meanwhile)
   *   requestTimeout passes first ──▶ 408, the connection closed; a late verdict or body is dropped
   */
  const receive = (request: IncomingMessage, response: ServerResponse, cors: OutgoingHttpHeaders) => {
    const { socket } = request;
    // Before its check, as an upgrade past maxConnections is refused before its own.
    if (!options.slots.take(socket)) return answerUnread(request, response, 503, cors, options.slots.refusal);
    response.once('close', () => options.slots.give(socket));
    const before = waiting.get(socket) ?? 0;
    if (before >= limits.maxInFlight) {
      const reason = `${countOf(before, 'request already waits', 'requests already wait')} on this TCP connection for their access check or body (maxInFlightPerConnection)`;
      return answerUnread(request, response, 503, cors, reason);
    }
    waiting.set(socket, before + 1);
    let counted = true;
    /** Dispatched, or answered without (refused, 408, the client gone): it waits no more. */
    const release = () => {
      if (!counted) return;
      counted = false;
      waiting.set(socket, waiting.get(socket)! - 1);
    };
    response.once('close', release);
    const ms = options.requestTimeout;
    let waitingFor: 'check' | 'body' = check === undefined ? 'body' : 'check';
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      const reason =
        waitingFor === 'check'
          ? `authenticate did not answer within ${ms} ms (upgradeTimeout)`
          : `the request body did not arrive within ${ms} ms (upgradeTimeout)`;
      answerUnread(request, response, 408, cors, reason);
    }, ms);
    // Answered, or the client went away: the deadline has nothing left to bound.
    response.once('close', () => clearTimeout(timer));
    /** The client went away, or the deadline answered: nothing more runs for this request. */
    const over = () => late || socket.destroyed || response.destroyed;
    const read = (data: unknown) => {
      waitingFor = 'body';
      readBody(request, response, options.maxPayload, cors, (text) => {
        clearTimeout(timer);
        release();
        if (text !== undefined && !over()) dispatch(request, response, text, cors, data);
      });
    };
    if (check === undefined) return read(undefined);
    void check({ headers: request.headers, url: request.url ?? '/', remoteAddress: request.socket.remoteAddress }).then((verdict) => {
      if (over()) return;
      if (verdict.accepted) return read(verdict.data);
      clearTimeout(timer);
      // Nothing more of a refused caller's body is read: unless it has all come already (then the
      // connection may serve the next request), the connection closes after the answer.
      if (request.complete) answer(response, verdict.status, cors, verdict.reason);
      else answerUnread(request, response, verdict.status, cors, verdict.reason);
    });
  };

  return {
    handle: (request, response) => {
      // Handed over twice (an app whose routes overlap, to one server or two): its calls would run twice, answered once.
      if (handedOver.has(request)) return;
      handedOver.add(request);
      // Its client went away while the app decided where to route it (an async middleware, with noServer): there is
      // nobody to answer, and its socket's last 'close' (and its response's) may have been emitted already. Taken in,
      // it would hold a place of maxConnections, and be tracked as live, for good.
      if (request.socket.destroyed || response.destroyed) return;
      lastRequest.set(request.socket, request);
      if (path !== undefined && !pathMatches(request, path)) return answer(response, 404, {}, undefined, endsConnection(request));
      // Decided once, and sent with every answer on the path, refusals included: a browser shows its page
      // an answer without them as a network error, not as the status and reason.
      const cors = corsHeaders(request.headers.origin, origins);
      switch (request.method) {
        case 'POST':
          break;
        case 'OPTIONS':
          return answerOptions(request, response, cors);
        case 'GET':
        case 'HEAD':
          // A GET here is meant to be a WebSocket upgrade.
          return answer(response, 426, { ...cors, Upgrade: 'websocket' }, GET_REASON);
        default:
          return answer(response, 405, { ...cors, Allow: ALLOWED_METHODS });
      }
      if (!isJson(request)) return answer(response, 415, cors, 'Content-Type must be application/json');
      if (answerEncoded(request, response, cors)) return;
      receive(request, response, cors);
    },
    close: () => {
      closing = true;
    },
    idle: () => (busy().length === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve))),
    end: (timeout) =>
      new Promise<void>((resolve) => {
        closing = true;
        ending = true;
        if (busy().length === 0) return resolve();
        const late = setTimeout(() => {
          for (const socket of busy()) {
            bySocket.get(socket)!.incoming.cancelAll(serverIsClosing());
            socket.destroy();
          }
          socketClosed = () => {};
          resolve();
        }, timeout);
        socketClosed = () => {
          if (busy().length > 0) return;
          clearTimeout(late);
          socketClosed = () => {};
          resolve();
        };
      }),
  };
}
