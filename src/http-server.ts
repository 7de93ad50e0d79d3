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
 * request in it), and an id is refused as a duplicate only while a call with
 * that id runs on the same TCP connection. When the TCP connection closes
 * (the client went away or aborted its request), every handler running for it
 * sees `ctx.signal` abort, and nothing is answered.
 *
 *   POST body ─receiveFrame─▶ request(s) ─▶ incoming calls ─▶ 200 application/json: the answer, or the batch's array
 *                           └ notification(s) only ───────▶ 204 No Content (the server's `notification` event)
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { withDeadline } from './access.js';
import { receiveFrame, type InboundHost } from './core/inbound.js';
import { serverClosing } from './core/closing.js';
import { IncomingCalls, type AnyMethod } from './core/incoming.js';
import type { Hooks } from './hooks.js';
import { noPeer } from './core/no-peer.js';
import { XSTATE } from './engine/xstate.js';
import type { ResponderLimits } from './limits.js';
import type { Id } from './protocol/jsonrpc.js';
import {
  answer,
  answerJson,
  answerOptions,
  corsHeaders,
  isJson,
  pathMatches,
  readBody,
  ALLOWED_METHODS,
} from './transports/http-request.js';
import type { UpgradeCheck } from './transports/upgrade.js';
import type { Clock, ConnectionInfo, Engine, InspectOption, NotificationEvent, UnmatchedEvent } from './types.js';

export interface HttpEndpointOptions {
  /** The path JSON-RPC is posted to; other paths are answered 404. */
  path: string;
  methods: Record<string, AnyMethod>;
  /** Middleware, `onError` and the logger: the same as over WebSocket. */
  hooks: Hooks;
  limits: ResponderLimits;
  /** Largest body, in bytes: a larger one is answered 413 and not read. */
  maxPayload: number;
  /** The access check (`origins`, `authenticate`) run on every POST, or none. */
  check: UpgradeCheck | undefined;
  /** Longest the access check may take, in ms, before the request is refused (408). */
  checkTimeout: number;
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
  /** The server is closing: new calls are answered -32000 (busy), and every answer ends its TCP connection. */
  close(): void;
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
}

export function httpEndpoint(options: HttpEndpointOptions): HttpEndpoint {
  const { path, limits, check, origins } = options;
  const bySocket = new WeakMap<Socket, SocketCalls>();
  const peer = noPeer('HTTP');
  let closing = false;
  /** The POST whose body `receiveFrame` is dispatching now: `startCall` files its calls under it. */
  let current: Exchange | undefined;

  const busyWhileClosing = (method: string) => (closing ? serverClosing(method) : undefined);

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
      connection: { transport: 'http', remoteAddress: socket.remoteAddress, headers: {}, url: path, data: undefined },
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
      clock: options.clock,
    });
    const host: InboundHost = {
      limits,
      hooks: options.hooks,
      // Only read while a POST is dispatched: its request's ConnectionInfo.
      get connection() {
        return current?.connection ?? incoming.connection;
      },
      get handling() {
        return incoming.size;
      },
      accepting: () => true,
      busy: busyWhileClosing,
      startCall: (frame, batch, reply) => {
        const exchange = current!;
        if (batch === undefined) {
          // Two pipelined requests with one id cannot both be answered by id.
          if (replies.has(frame.id)) return false;
          replies.set(frame.id, reply); // before receive: an unknown method is answered at once
        }
        if (incoming.receive(frame, batch, exchange.connection)) {
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
      runNotification: (method, params) => incoming.notify(method, params, limits.maxInFlight, current?.connection),
      report: (reason, message, id, detail) => options.onUnmatched({ reason, message, ...(id === undefined ? {} : { id }), detail }),
    };
    const calls = { incoming, host };
    bySocket.set(socket, calls);
    // The client went away (or aborted its request): its handlers' signals abort, nothing is answered.
    socket.once('close', () => {
      incoming.cancelAll();
      replies.clear();
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
      answerJson(response, out, closing ? { ...cors, Connection: 'close' } : cors);
    };
    current = exchange;
    try {
      receiveFrame(calls.host, text, reply);
    } finally {
      current = undefined;
    }
    if (!exchange.written && exchange.started === 0) answer(response, 204, cors, undefined, closing);
  };

  return {
    handle: (request, response) => {
      if (!pathMatches(request, path)) return answer(response, 404, {}, undefined, closing);
      switch (request.method) {
        case 'POST':
          break;
        case 'OPTIONS':
          return answerOptions(request, response, origins);
        case 'GET':
        case 'HEAD':
          // A GET here is meant to be a WebSocket upgrade.
          return answer(response, 426, { Upgrade: 'websocket' });
        default:
          return answer(response, 405, { Allow: ALLOWED_METHODS });
      }
      const origin = request.headers.origin;
      const cors = origin !== undefined && (origins === undefined || origins.has(origin)) ? corsHeaders(origin, origins) : {};
      if (!isJson(request)) return answer(response, 415, cors, 'Content-Type must be application/json');
      const verdict =
        check &&
        withDeadline(
          check({ headers: request.headers, url: request.url ?? '/', remoteAddress: request.socket.remoteAddress }),
          options.checkTimeout,
          'upgradeTimeout',
        );
      readBody(request, response, options.maxPayload, (text) => {
        if (text === undefined) return;
        if (verdict === undefined) return dispatch(request, response, text, cors, undefined);
        void verdict.then((decided) => {
          if (!decided.accepted) answer(response, decided.status, cors, decided.reason);
          else dispatch(request, response, text, cors, decided.data);
        });
      });
    },
    close: () => {
      closing = true;
    },
  };
}
