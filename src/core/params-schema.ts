/**
 * Params checked by a Standard Schema before the handler runs: a method given
 * as `{ params: schema, handler }`. Invalid params are the caller's error,
 * -32602 with the schema's issues in `data` (made JSON-safe: a path segment can
 * be a symbol or an object, a message anything a library put there).
 */
import { RpcError } from '../errors.js';
import { ErrorCodes } from '../protocol/jsonrpc.js';
import type { StandardSchemaV1 } from '../standard-schema.js';
import { follow, thenOf } from '../engine/thenable.js';
import { safeString } from './handler-error.js';

/** Most issues sent back in one -32602: a schema can report one per element of a large array. */
const MAX_ISSUES = 100;
/**
 * Most characters of issues (messages and path keys) in one -32602, past the first issue: a message or a path can
 * echo the params (an object key of 100 KB in the path of each of 100 issues made a 10 MB answer of 100 KB sent).
 */
const MAX_ISSUES_LENGTH = 16_384;
/** Longest message, path key and path of an issue as sent; longer ones are cut (a string ends with "…"). */
const MAX_MESSAGE_LENGTH = 1_000;
const MAX_KEY_LENGTH = 100;
const MAX_PATH_LENGTH = 100;

/** One issue as it travels: a message and the path to the value, as keys. */
export interface ParamsIssue {
  message: string;
  path?: (string | number)[];
}

/** Whether `value` looks like a Standard Schema (version 1, with a `validate` function). */
export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false;
  const props = (value as { '~standard'?: { version?: unknown; validate?: unknown } })['~standard'];
  return props !== null && typeof props === 'object' && props.version === 1 && typeof props.validate === 'function';
}

/**
 * The params as the schema outputs them, or a rejection with -32602 naming the method, with the issues in
 * `data.issues`. Synchronous schemas answer synchronously (no promise made on the valid path).
 */
export function checkParams(schema: StandardSchemaV1, params: unknown, method: string): unknown {
  const result = schema['~standard'].validate(params);
  // A promise of another realm or of a library is a promise too: read as a result, it has no `issues`, and the
  // handler would run with params nobody checked. Its `then` is read once, for the same reason (read again, it
  // may be no function).
  const then = thenOf(result);
  if (then !== undefined) return follow<StandardSchemaV1.Result<unknown>>(result, then).then((settled) => outcome(settled, method));
  // Not a thenable (its `then` was read once, above).
  return outcome(result as StandardSchemaV1.Result<unknown>, method);
}

function outcome(result: StandardSchemaV1.Result<unknown>, method: string): unknown {
  // A schema's bug, not the caller's: said in words (answered -32603, reported to onError) rather than as a TypeError
  // about reading `issues` of null, or iterating what is not iterable.
  if (result === null || typeof result !== 'object') throw badResult(method, `returned ${result === null ? 'null' : typeof result}`);
  if (!result.issues) return result.value;
  // A string is iterable too: read as issues, each of its characters would be one.
  if (typeof result.issues === 'string') throw badResult(method, 'returned issues that are a string, not a list of issues');
  if (typeof (result.issues as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== 'function')
    throw badResult(method, `returned issues that are not iterable (${typeof result.issues})`);
  throw invalidParams(method, result.issues);
}

function badResult(method: string, what: string): TypeError {
  return new TypeError(`the params schema of "${method}" ${what}: a Standard Schema's validate returns { value } or { issues }`);
}

function invalidParams(method: string, issues: Iterable<StandardSchemaV1.Issue>): RpcError {
  // Read no further than sent: `issues` may be a lazy iterable, without end.
  const list: ParamsIssue[] = [];
  let length = 0;
  for (const issue of issues) {
    if (list.length === MAX_ISSUES) break;
    const json = toJson(issue);
    length += json.message.length + (json.path?.reduce<number>((sum, key) => sum + String(key).length + 1, 0) ?? 0);
    if (list.length > 0 && length > MAX_ISSUES_LENGTH) break;
    list.push(json);
  }
  const first = list[0] ? `: ${list[0].path ? `${list[0].path.join('.')}: ` : ''}${list[0].message}` : '';
  return new RpcError(ErrorCodes.InvalidParams, `invalid params for "${method}"${first}`, { issues: list });
}

function toJson(issue: StandardSchemaV1.Issue): ParamsIssue {
  // String() throws on what has no primitive value (an object without a prototype): safeString never does.
  if (issue === null || typeof issue !== 'object') return { message: safeString(issue) };
  const message = cut(typeof issue.message === 'string' ? issue.message : safeString(issue.message), MAX_MESSAGE_LENGTH);
  if (!issue.path || issue.path.length === 0) return { message };
  if (!Array.isArray(issue.path)) return { message };
  const path = issue.path.slice(0, MAX_PATH_LENGTH);
  return { message, path: path.map((segment) => key(typeof segment === 'object' && segment !== null ? segment.key : segment)) };
}

function key(segment: PropertyKey): string | number {
  if (typeof segment === 'number') return segment;
  return cut(typeof segment === 'symbol' ? (segment.description ?? 'symbol') : safeString(segment), MAX_KEY_LENGTH);
}

function cut(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
