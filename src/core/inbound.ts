/**
 * The inbound half of JSON-RPC, the same for every transport: a text frame
 * comes in with the way back for its answers, and goes where it belongs.
 *
 *   text ──decode(maxBatch, maxDepth)──┬─ unparseable ─▶ answered -32700 / -32600 (id null)
 *                                      ├─ one message ─▶ onMessage
 *                                      └─ batch ───────▶ onMessage each; answers gathered in one array
 *
 *   onMessage: request ─────▶ busy? answered -32000, unrun │ duplicate id? -32600 │ else an incoming call
 *              notification ▶ $/cancelRequest cancels that incoming call (answered -32800)
 *                             │ else the host's listeners, and the method of that name runs if there is one
 *              response ────▶ the host's outgoing call with that id (or reported unmatched)
 *              invalid ─────▶ reported malformed; then, with no "method" and the id of a call the host
 *                             waits on, that call fails now (a broken answer to it); else answered
 *                             -32600 unless it was meant as a response
 *
 * The WebSocket peer and the NATS responder (and any later transport) hand
 * their frames to `receiveFrame`; what differs between them (how a call
 * starts and where its answer goes, whether responses can match anything)
 * is the `InboundHost` they pass. Every error the dispatcher answers itself is
 * reported to the host's hooks (`onError`, `logger`).
 */
import type { Hooks } from '../hooks.js';
import { BatchReply, type HeldReplies } from './batch-reply.js';
import { duplicateRequestFrame, inFlightRefusal, type Running } from './refusals.js';
import type { ResponderLimits } from '../limits.js';
import {
  CANCEL_METHOD,
  decode,
  encode,
  errorFrame,
  ErrorCodes,
  type ErrorObject,
  type Id,
  type Message,
  type RequestFrame,
} from '../protocol/jsonrpc.js';
import type { ConnectionInfo, UnmatchedReason } from '../types.js';

/** Where the answers to one frame go: a function that writes a text frame, or nothing (no way back). */
export type Reply = ((text: string) => void) | undefined;

/**
 * What the dispatcher needs of the side that receives. Hosts are object literals: methods, not getters, as a literal
 * with an accessor is made a dictionary-mode object, each of whose reads on every frame is a slow lookup (issue 16).
 */
export interface InboundHost {
  readonly limits: ResponderLimits;
  /** Where the errors the dispatcher answers are reported. */
  readonly hooks: Hooks;
  /** Who sent the frame being dispatched, for the hooks. */
  connection(): ConnectionInfo;
  /**
   * Incoming calls running now, and the size of their requests (counted against `limits.maxInFlight` and
   * `maxInFlightBytes`), where the answers of an unfinished batch are held too.
   */
  readonly running: Running & HeldReplies;
  /** Whether requests may start now; while it is false (a connection closing) they are dropped unanswered. */
  accepting(): boolean;
  /** Why a request is refused unrun besides the in-flight limit (a send buffer full), or undefined. */
  busy(method: string): ErrorObject | undefined;
  /**
   * Starts an incoming call for `frame`, `bytes` long, answered through `batch` when it came in a batch, else through
   * `reply`. Returns false when a call with the same id is still running: the request is then refused as a duplicate.
   */
  startCall(frame: RequestFrame, batch: BatchReply | undefined, reply: (text: string) => void, bytes: number): boolean;
  /** The peer sent `$/cancelRequest` for `id`. */
  cancelCall(id: Id): void;
  /** A response (result or error) to a call this side made, or to nothing: the host matches or reports it. */
  response(message: Extract<Message, { kind: 'result' | 'error' }>): void;
  /**
   * A message with no "method" that is not a valid response (`detail` says why) and carries `id`: if it is
   * the id of a call the host waits on, that call fails now, as answered by a malformed response (`frame()`
   * is the message's text), and this returns true. Hosts that make no calls have none.
   */
  malformedResponse?(id: Id, detail: string, frame: () => string): boolean;
  /** A notification (not `$/cancelRequest`): for the host's listeners. */
  notification(method: string, params: unknown): void;
  /** Runs the method a notification (`bytes` long) names, if there is one (results dropped, errors to the hooks). */
  runNotification(method: string, params: unknown, bytes: number): void;
  /** Something that matches nothing: reported, never thrown. */
  report(reason: UnmatchedReason, message: unknown, id: Id | null | undefined, detail: string): void;
}

/** Takes one text frame from the peer; `reply` writes answers back (undefined: there is no way back). */
export function receiveFrame(host: InboundHost, text: string, reply: Reply): void {
  const decoded = decode(text, host.limits);
  switch (decoded.kind) {
    case 'unparseable':
      return refuseFrame(host, text, { code: decoded.code, message: decoded.reason }, reply);
    case 'single':
      onMessage(host, decoded.message, undefined, reply, text, text.length);
      return;
    case 'batch': {
      const batch =
        reply && new BatchReply(reply, host.running, (id, error) => host.hooks.protocolError(error, undefined, id, host.connection()));
      for (const message of decoded.messages) onMessage(host, message, batch, reply, undefined, text.length);
      batch?.seal();
      return;
    }
  }
}

/**
 * A frame refused unread (`message`, its text as reported): reported malformed, told to the hooks, answered `error`
 * with id null. Also for what a transport hands over that is no JSON-RPC text at all (a WebSocket binary frame).
 */
export function refuseFrame(host: InboundHost, message: unknown, error: ErrorObject, reply: Reply): void {
  host.report('malformed', message, null, error.message);
  // Encoded before the hooks see it: what onError does to `info.response` changes nothing sent (nor throws here).
  const answer = encode(errorFrame(null, error));
  host.hooks.protocolError(error, undefined, null, host.connection());
  reply?.(answer);
}

/** One message of a frame `frameLength` long; `text` is the frame's text when the message is the whole frame. */
function onMessage(
  host: InboundHost,
  message: Message,
  batch: BatchReply | undefined,
  reply: Reply,
  text: string | undefined,
  frameLength: number,
): void {
  switch (message.kind) {
    case 'request':
      onRequest(host, message.frame, batch, reply, sizeOf(message.frame, text, frameLength));
      return;
    case 'notification': {
      const { method, params } = message.frame;
      if (method === CANCEL_METHOD) return cancelNotice(host, params);
      host.notification(method, params);
      // A connection that is closing starts no new work.
      if (host.accepting()) host.runNotification(method, params, sizeOf(message.frame, text, frameLength));
      return;
    }
    case 'result':
    case 'error':
      host.response(message);
      return;
    case 'invalid': {
      const { value, id, reason } = message;
      host.report('malformed', value, id, reason);
      const v = value as Record<string, unknown> | null;
      const hasMethod = v !== null && typeof v === 'object' && 'method' in v;
      // No method and the id of a call waiting for its answer: a broken answer to it, which fails it now (not
      // at its deadline) and gets no answer, as a broken response gets none.
      const frame = () => text ?? JSON.stringify(value);
      if (!hasMethod && id !== null && host.malformedResponse?.(id, reason, frame)) return;
      // Answer what may have been meant as a request.
      const meantAsResponse = v !== null && typeof v === 'object' && !hasMethod && ('result' in v || 'error' in v);
      if (!meantAsResponse) refuseRequest(host, { code: ErrorCodes.InvalidRequest, message: reason }, undefined, id, batch, reply);
      return;
    }
  }
}

/**
 * What a request or notification counts against `maxInFlightBytes`: its frame's length when it is the whole frame
 * (`text`), else (a message of a batch) the length of its own JSON text. Not a share of the batch's frame: small
 * messages beside a large one (empty objects, answered -32600) would make it count next to nothing.
 */
function sizeOf(frame: object, text: string | undefined, frameLength: number): number {
  if (text !== undefined) return text.length;
  try {
    return JSON.stringify(frame).length;
  } catch {
    // Nested too deep for JSON.stringify (a maxDepth set that high): it holds at most the whole frame.
    return frameLength;
  }
}

/** `$/cancelRequest` with `{ id }`: the host cancels the incoming call with that id, if it runs one. */
function cancelNotice(host: InboundHost, params: unknown): void {
  const id = (params as { id?: unknown } | undefined)?.id;
  if (typeof id === 'string' || typeof id === 'number') host.cancelCall(id);
}

/**
 * Takes a frame from a channel that carries only cancel notices (a NATS responder's cancel subject):
 * each `$/cancelRequest` in it, alone or in a batch, cancels its call; anything else is ignored.
 */
export function receiveCancels(host: InboundHost, text: string): void {
  const decoded = decode(text, host.limits);
  if (decoded.kind === 'unparseable') return;
  for (const message of decoded.kind === 'single' ? [decoded.message] : decoded.messages) {
    if (message.kind === 'notification' && message.frame.method === CANCEL_METHOD) cancelNotice(host, message.frame.params);
  }
}

function onRequest(host: InboundHost, frame: RequestFrame, batch: BatchReply | undefined, reply: Reply, bytes: number): void {
  if (reply === undefined) {
    host.report('malformed', frame, frame.id, 'a request with no way back for its answer (no reply subject) cannot be answered');
    return;
  }
  // A connection that is closing starts no new work.
  if (!host.accepting()) return;
  // Answered at once, never run: the caller may retry later.
  const busy = inFlightRefusal(host.limits, host.running, frame.method, bytes) ?? host.busy(frame.method);
  if (busy) return refuseRequest(host, busy, frame.method, frame.id, batch, reply);
  if (host.startCall(frame, batch, reply, bytes)) return;
  // Ids are unique per caller: a second request with the id of one still running cannot be answered by id.
  host.report('duplicate', frame, frame.id, 'a request with this id is already being handled');
  refuseRequest(host, duplicateRequestFrame(frame.id).error, frame.method, frame.id, batch, reply);
}

/** A refusal the dispatcher answers itself: reported to the hooks, then answered. */
function refuseRequest(
  host: InboundHost,
  error: ErrorObject,
  method: string | undefined,
  id: Id | null,
  batch: BatchReply | undefined,
  reply: Reply,
): void {
  // Encoded before the hooks see it: what onError does to `info.response` changes nothing sent (nor throws here).
  const answer = encode(errorFrame(id, error));
  host.hooks.protocolError(error, method, id, host.connection());
  answerError(answer, batch, reply);
}

/** An answer the dispatcher gives itself (refusals, encoded), into the batch's array when the request came in one. */
function answerError(answer: string, batch: BatchReply | undefined, reply: Reply): void {
  if (batch) {
    batch.expect();
    batch.add(answer);
  } else reply?.(answer);
}

/** Why a response (with `id`) matched no call, in words. */
export function describeUnmatched(reason: UnmatchedReason, id?: Id | null): string {
  // JSON-RPC's answer to what the peer could not read the id of (-32700, -32600), or a peer's answer to a notification
  // (rpc-websockets answers `$/cancelRequest` -32601): which call it concerns, if any, cannot be known.
  if (id === null) return 'error response with id null (the peer could not tell what it answers): it matches no call';
  switch (reason) {
    case 'late':
      return 'response for a call that already timed out or was cancelled';
    case 'duplicate':
      return 'second response for a call that already settled';
    default:
      return 'response whose id matches no call made on this connection';
  }
}
