/**
 * JSON-RPC 2.0 frames: types, encoding and decoding with validation.
 *
 * Pure: no I/O, and no imports from the rest of the project but `countOf` (src/words.ts, a leaf that imports nothing). `decode` never
 * throws; it classifies every frame so that the caller can decide what to do
 * with a malformed one (answer -32700/-32600 on a responder, report it as
 * `unmatched` on a caller, and fail the call whose id a broken response carries).
 */

import { countOf } from '../words.js';

/** A request id. A number id is a safe integer: `decode` refuses any other (see `isId`). */
export type Id = string | number;

export interface RequestFrame {
  jsonrpc: '2.0';
  id: Id;
  method: string;
  params?: unknown;
}

export interface NotificationFrame {
  jsonrpc: '2.0';
  method: string;
  params?: unknown;
}

export interface ErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface ResultFrame {
  jsonrpc: '2.0';
  id: Id;
  result: unknown;
}

export interface ErrorFrame {
  jsonrpc: '2.0';
  id: Id | null;
  error: ErrorObject;
}

export type ResponseFrame = ResultFrame | ErrorFrame;
export type Frame = RequestFrame | NotificationFrame | ResponseFrame;

/** Standard JSON-RPC 2.0 error codes. */
export const ErrorCodes = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Server error (JSON-RPC's -32000 to -32099 range): the connection has too many calls in flight (`maxInFlightPerConnection`). */
  ServerBusy: -32000,
  /** Server error: the handler ran past the server's `handlerTimeout`. */
  HandlerTimeout: -32001,
  /** Server error: a NATS responder's `origins` or `authenticate` refused the caller (over WebSocket the upgrade is refused instead). */
  AccessDenied: -32003,
  /** LSP's code for a request cancelled by its caller. */
  RequestCancelled: -32800,
} as const;

/** Cancellation notice, as in the Language Server Protocol. */
export const CANCEL_METHOD = '$/cancelRequest';

/** One decoded message, classified. */
export type Message =
  | { kind: 'request'; frame: RequestFrame }
  | { kind: 'notification'; frame: NotificationFrame }
  | { kind: 'result'; frame: ResultFrame }
  | { kind: 'error'; frame: ErrorFrame }
  /** Valid JSON but not a JSON-RPC 2.0 message. `id` is set when one could be read. */
  | { kind: 'invalid'; id: Id | null; reason: string; value: unknown };

export type Decoded =
  | { kind: 'single'; message: Message }
  | { kind: 'batch'; messages: Message[] }
  /** Not JSON at all (or an empty batch, which JSON-RPC also answers with one error). */
  | { kind: 'unparseable'; reason: string; code: number };

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Whether the message has its own member of that name. What JSON.parse made has no member whose value is undefined,
 * and inherits from `Object.prototype` alone: a member read as undefined is absent, and one read as defined is its own
 * unless `Object.prototype` has a member of that name (someone changed it), which only then is checked member by
 * member (a builtin call, about 75 instructions: issue 16). Each member is read by its name, not as `m[key]` in one
 * function for all: that load would see every name and go megamorphic.
 */
const PROTO = Object.prototype as Record<string, unknown>;
const hasMethod = (m: Record<string, unknown>): boolean =>
  m.method !== undefined && (PROTO.method === undefined || hasOwn.call(m, 'method'));
const hasParams = (m: Record<string, unknown>): boolean =>
  m.params !== undefined && (PROTO.params === undefined || hasOwn.call(m, 'params'));
const hasId = (m: Record<string, unknown>): boolean => m.id !== undefined && (PROTO.id === undefined || hasOwn.call(m, 'id'));
const hasResult = (m: Record<string, unknown>): boolean =>
  m.result !== undefined && (PROTO.result === undefined || hasOwn.call(m, 'result'));
const hasError = (m: Record<string, unknown>): boolean => m.error !== undefined && (PROTO.error === undefined || hasOwn.call(m, 'error'));

/**
 * A string, or a number that JSON.parse read exactly: a safe integer. A number
 * id past ±(2^53 - 1) was rounded when parsed (two callers' ids can collapse
 * into one, and the echo would not be the id sent); a fractional id can be
 * rounded the same way, and JSON-RPC 2.0 says ids SHOULD NOT have fractions.
 * Such ids are refused, never matched or echoed.
 */
function isId(value: unknown): value is Id {
  return typeof value === 'string' || Number.isSafeInteger(value);
}

const UNSAFE_ID =
  '"id" must be a string or an integer from -(2^53 - 1) to 2^53 - 1: a number id beyond that or with a fraction cannot be read exactly';

/** Why `value` is not an id; `nullable` for an error response, whose id may be null. */
function badId(value: unknown, nullable: boolean): string {
  if (typeof value === 'number') return UNSAFE_ID;
  return nullable ? '"id" must be a string, a number or null' : '"id" must be a string or a number';
}

function readableId(value: unknown): Id | null {
  if (value !== null && typeof value === 'object' && hasOwn.call(value, 'id')) {
    const id = (value as { id: unknown }).id;
    if (isId(id)) return id;
  }
  return null;
}

/** Why `value` is not a JSON-RPC error object (the first thing wrong), or undefined when it is one. */
function errorObjectFault(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return '"error" must be an object with an integer "code" and a string "message"';
  }
  const e = value as Record<string, unknown>;
  if (!Number.isInteger(e.code)) return '"error.code" must be an integer';
  if (typeof e.message !== 'string') return '"error.message" must be a string';
  return undefined;
}

/** Classifies one parsed JSON value as a JSON-RPC 2.0 message. */
export function classify(value: unknown): Message {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return invalid(value, 'a message must be a JSON object');
  }
  const m = value as Record<string, unknown>;
  // A response without "jsonrpc" is JSON-RPC 1.0's (Bitcoin Core before v28, Go's net/rpc/jsonrpc): taken, as it
  // answers a call by its id all the same. Requests and notifications must say "2.0".
  if (m.jsonrpc !== '2.0' && (m.jsonrpc !== undefined || !isResponseShaped(m))) return invalid(m, '"jsonrpc" must be exactly "2.0"');

  if (hasMethod(m)) {
    if (typeof m.method !== 'string') return invalid(m, '"method" must be a string');
    if (hasParams(m) && typeof m.params !== 'object') return invalid(m, '"params" must be an array or an object');
    // "params": null, which some clients write for a method that takes none, is read as no params (what the handler sees).
    const frame = m.params === null ? withoutParams(m) : m;
    if (!hasId(m)) return { kind: 'notification', frame: frame as unknown as NotificationFrame };
    if (!isId(m.id)) return invalid(m, badId(m.id, false));
    return { kind: 'request', frame: frame as unknown as RequestFrame };
  }

  let result = hasResult(m);
  if (result === hasError(m)) {
    if (!result) {
      return invalid(m, 'the message has no "method", "result" or "error": a request needs a "method", a response "result" or "error"');
    }
    const which = oneOfNull(m);
    if (which === undefined) return invalid(m, 'a response must have exactly one of "result" and "error"');
    result = which;
  }
  if (!hasId(m)) return invalid(m, 'a response must have an "id"');
  if (result) {
    if (!isId(m.id)) return invalid(m, badId(m.id, false));
    return { kind: 'result', frame: m as unknown as ResultFrame };
  }
  if (m.id !== null && !isId(m.id)) return invalid(m, badId(m.id, true));
  if (typeof m.error === 'string' && m.jsonrpc === undefined) return { kind: 'error', frame: withErrorObject(m, m.error) };
  const fault = errorObjectFault(m.error);
  if (fault !== undefined) return invalid(m, fault);
  return { kind: 'error', frame: m as unknown as ErrorFrame };
}

/**
 * A response with both "result" and "error", as JSON-RPC 1.0 writes every response: whether it is a result (its
 * "error" is null) or an error (its "result" is null, its "error" not); undefined when neither is null.
 */
function oneOfNull(m: Record<string, unknown>): boolean | undefined {
  if (m.error === null) return true;
  return m.result === null ? false : undefined;
}

/**
 * A JSON-RPC 1.0 error response whose "error" is a string, as Go's `net/rpc/jsonrpc` writes every error
 * (`{"id":1,"result":null,"error":"rpc: can't find method x"}`): JSON-RPC 1.0 leaves the error's shape to the
 * server. It is taken as the error object it stands for: code -32603 (InternalError), what callstate's own server
 * answers when a handler throws a plain Error, which is what the Go server's method did by returning an error; not
 * -32000, callstate's ServerBusy, which a caller may retry. Its message is the string, and so is its `data`, the
 * error as it came. The frame's other members are kept as they came.
 */
function withErrorObject(m: Record<string, unknown>, error: string): ErrorFrame {
  return { ...m, error: { code: ErrorCodes.InternalError, message: error, data: error } } as unknown as ErrorFrame;
}

/** The message without its "params" member. */
function withoutParams(m: Record<string, unknown>): Record<string, unknown> {
  const { params: _params, ...rest } = m;
  return rest;
}

/** `value` is valid JSON but no JSON-RPC message, for `reason`. */
function invalid(value: unknown, reason: string): Message {
  return { kind: 'invalid', id: readableId(value), reason, value };
}

/** A single message shaped as a response (result or error, no method), valid or not. */
function isResponseShaped(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const m = value as Record<string, unknown>;
  return !hasMethod(m) && (hasResult(m) || hasError(m));
}

/** Whether a frame nests deeper than `maxDepth`, its responses (alone, or each in a batch) not counted. */
function nestedTooDeep(value: unknown, maxDepth: number): boolean {
  if (!Array.isArray(value)) return !isResponseShaped(value) && depthExceeds(value, maxDepth);
  // The batch's array is the first level: each message in it starts at the second.
  return value.some((message) => !isResponseShaped(message) && depthExceeds(message, maxDepth - 1));
}

/** Limits `decode` enforces on a frame it parsed. Each is off when not given. */
export interface DecodeLimits {
  /** Most messages in a batch; a longer batch is answered with one -32600. */
  maxBatch?: number;
  /**
   * Deepest nesting of arrays and objects, the frame itself counting as 1 (a batch array too). A response,
   * alone or in a batch, is not limited: it is the answer its caller asked for, and refusing it would leave the
   * call to time out; the limit keeps handlers from running on what they were not written for.
   */
  maxDepth?: number;
}

/**
 * `text` without a leading byte order mark (a .NET writer's UTF-8 with BOM, a file Notepad or PowerShell saved), which
 * is no part of the JSON (`JSON.parse` refuses it): RFC 8259 lets a parser skip it, and `fetch` does.
 */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** Parses and classifies one text frame. Never throws. */
export function decode(text: string, limits: DecodeLimits = {}): Decoded {
  let value: unknown;
  try {
    value = JSON.parse(withoutBom(text));
  } catch (err) {
    return { kind: 'unparseable', reason: `not valid JSON: ${(err as Error).message}`, code: ErrorCodes.ParseError };
  }
  const { maxBatch, maxDepth } = limits;
  // Nesting deeper than maxDepth takes at least 2 * (maxDepth + 1) bracket characters: shorter frames skip the walk.
  if (maxDepth !== undefined && text.length > 2 * maxDepth && nestedTooDeep(value, maxDepth)) {
    return {
      kind: 'unparseable',
      reason: `frame nested deeper than ${countOf(maxDepth, 'level')} (maxDepth)`,
      code: ErrorCodes.InvalidRequest,
    };
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return { kind: 'unparseable', reason: 'empty batch', code: ErrorCodes.InvalidRequest };
    if (maxBatch !== undefined && value.length > maxBatch) {
      return {
        kind: 'unparseable',
        reason: `batch of ${countOf(value.length, 'message')} exceeds ${maxBatch} (maxBatch)`,
        code: ErrorCodes.InvalidRequest,
      };
    }
    return { kind: 'batch', messages: value.map(classify) };
  }
  return { kind: 'single', message: classify(value) };
}

/**
 * Whether a parsed JSON value nests arrays and objects deeper than `max` (the
 * value itself at depth 1). Iterative, with an explicit stack, so a hostile
 * frame cannot exhaust the call stack; stops at the first level too deep.
 */
export function depthExceeds(value: unknown, max: number): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const current = values.pop();
    const depth = depths.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth > max) return true;
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) {
      if (child !== null && typeof child === 'object') {
        values.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

export function requestFrame(id: Id, method: string, params: unknown): RequestFrame {
  return params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
}

export function notificationFrame(method: string, params: unknown): NotificationFrame {
  return params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params };
}

/**
 * Serializes a result response, the text `encode(resultFrame(id, result))`
 * would be, except that a result which encodes to nothing (undefined, a
 * function, a symbol, a `toJSON` that returns undefined) is sent as `null`:
 * JSON.stringify drops such a member, and a response without `result` matches
 * no call. Throws like `encode` (a BigInt, a cycle, a throwing `toJSON`).
 */
export function encodeResult(id: Id, result: unknown): string {
  const json: string | undefined = JSON.stringify(result);
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${json ?? 'null'}}`;
}

/** What every `$/cancelRequest` notice starts with, up to its id. */
const CANCEL_FRAME_HEAD = `{"jsonrpc":"2.0","method":${JSON.stringify(CANCEL_METHOD)},"params":{"id":`;

/** Serializes the `$/cancelRequest` notice for call `id`: the text `encode(notificationFrame(CANCEL_METHOD, { id }))` would be, made without the objects. */
export function cancelFrame(id: Id): string {
  return `${CANCEL_FRAME_HEAD}${JSON.stringify(id)}}}`;
}

export function resultFrame(id: Id, result: unknown): ResultFrame {
  // JSON has no `undefined`: a handler that returns nothing answers `null`.
  return { jsonrpc: '2.0', id, result: result === undefined ? null : result };
}

export function errorFrame(id: Id | null, error: ErrorObject): ErrorFrame {
  return { jsonrpc: '2.0', id, error };
}

/**
 * Serializes a frame. Throws JSON.stringify's `TypeError` when a value cannot
 * be represented in JSON (a BigInt, a cycle); callers turn that into a typed error.
 */
export function encode(frame: Frame | Frame[]): string {
  return JSON.stringify(frame);
}
