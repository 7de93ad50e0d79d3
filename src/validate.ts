/**
 * Option validation, in one place, before anything starts: misuse throws
 * `TypeError` or `RangeError` synchronously with the option's name.
 */
import type { ClientTlsOptions } from './transports/tls.js';
import { MIN_RECONNECT_DELAY } from '../machines/connection.logic.js';
import type { ReconnectPolicy } from '../machines/connection.machine.js';
import type { AnyMethod } from './core/invoke.js';
import { isStandardSchema } from './core/params-schema.js';
import { CANCEL_METHOD } from './protocol/jsonrpc.js';
import type { RequestOptions } from './types.js';

/** setTimeout's largest delay; a longer one would fire at once. */
export const MAX_TIMEOUT = 2_147_483_647;

export function validateTimeout(value: unknown, name: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new TypeError(`${name} must be a number of milliseconds, got ${describe(value)}`);
  }
  if (!(value > 0 && value <= MAX_TIMEOUT)) {
    throw new RangeError(`${name} must be greater than 0 and at most ${MAX_TIMEOUT} ms, got ${value}`);
  }
  return value;
}

/** A timeout option: the fallback when not given, else validated as `validateTimeout` does. */
export function optionalTimeout(value: unknown, name: string, fallback: number): number {
  return value === undefined ? fallback : validateTimeout(value, name);
}

/** An HTTP header name: a token (RFC 9110). */
const HTTP_HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A NATS header name, as nats.js takes it: printable ASCII but ':' (no spaces). */
const NATS_HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
/** What an HTTP header value may hold (as Node's http and fetch check it): tab, printable ASCII and Latin-1. */
const HTTP_HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A NATS header value is one line of its header block, sent as UTF-8: anything but CR, LF (and NUL). */
const NATS_HEADER_VALUE = /^[^\r\n\0]*$/;

/**
 * Extra headers (upgrade request or POST, or every NATS message): string names and values; none when not given.
 * Names and values the transport would refuse are refused here: Node's http throws from the upgrade request, out of
 * a timer (the process ends), and nats.js once connected (the connection to nats-server was left open).
 */
export function validateHeaders(value: unknown, name: string, carrier: 'http' | 'nats' = 'http'): Record<string, string> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new TypeError(`${name} must be an object of strings, got ${describe(value)}`);
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') throw new TypeError(`${name}.${key} must be a string, got ${describe(entry)}`);
    if (carrier === 'nats') {
      if (!NATS_HEADER_NAME.test(key))
        throw new TypeError(`${name}: ${JSON.stringify(key)} is not a NATS header name (printable ASCII but ':', no spaces)`);
      if (!NATS_HEADER_VALUE.test(entry)) throw new TypeError(`${name}.${key} must not hold CR, LF or NUL, got ${describe(entry)}`);
    } else {
      if (!HTTP_HEADER_NAME.test(key))
        throw new TypeError(`${name}: ${JSON.stringify(key)} is not a header name (letters, digits and !#$%&'*+-.^_\`|~ only)`);
      if (!HTTP_HEADER_VALUE.test(entry))
        throw new TypeError(`${name}.${key} must hold only tab, printable ASCII and Latin-1 characters (HTTP), got ${describe(entry)}`);
    }
  }
  return value as Record<string, string>;
}

/** A boolean option: false when not given. */
export function optionalBoolean(value: unknown, name: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** Params of a request or notification: absent, an object or an array (JSON-RPC 2.0). */
export function validateParams(params: unknown): void {
  if (params !== undefined && (params === null || typeof params !== 'object')) {
    throw new TypeError(`params must be an object or an array (JSON-RPC 2.0), got ${params === null ? 'null' : typeof params}`);
  }
}

export function validateMethodName(method: unknown): asserts method is string {
  if (typeof method !== 'string' || method.length === 0) {
    throw new TypeError(`method must be a non-empty string, got ${describe(method)}`);
  }
}

/** What `retry: true` means: how many times at most a call is re-sent after its connection was lost. */
export const DEFAULT_RETRIES = 2;
/** The most re-sends `retry` may ask for: each may take a connection, and the calls on it, down with it. */
const MAX_RETRIES = 100;

/** A call's options, checked; `retries`: how many times at most it is re-sent after a lost connection (0: never). */
export interface ResolvedRequestOptions {
  timeout: number | undefined;
  signal: AbortSignal | undefined;
  retries: number;
}

export function validateRequestOptions(options: unknown): ResolvedRequestOptions {
  if (options === undefined) return { timeout: undefined, signal: undefined, retries: 0 };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`request options must be an object, got ${describe(options)}`);
  }
  const { timeout, signal, retry } = options as RequestOptions;
  if (timeout !== undefined) validateTimeout(timeout, 'options.timeout');
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
  }
  return { timeout, signal, retries: retriesOf(retry) };
}

/** `retry` as a count of re-sends: false or absent 0, true `DEFAULT_RETRIES`, or the whole number given. */
function retriesOf(retry: unknown): number {
  if (retry === undefined || typeof retry === 'boolean') return retry === true ? DEFAULT_RETRIES : 0;
  const message = `options.retry must be a boolean or a whole number of re-sends from 0 to ${MAX_RETRIES}, got ${describe(retry)}`;
  if (typeof retry !== 'number') throw new TypeError(message);
  if (!Number.isInteger(retry) || retry < 0 || retry > MAX_RETRIES) throw new RangeError(message);
  return retry;
}

/** Methods: each a function, or `{ params: schema, handler }` with a Standard Schema and a function. */
export function validateMethods(methods: unknown, name: string): Record<string, AnyMethod> {
  if (methods === undefined) return {};
  if (methods === null || typeof methods !== 'object' || Array.isArray(methods)) {
    throw new TypeError(`${name} must be an object of functions, got ${Array.isArray(methods) ? 'an array' : describe(methods)}`);
  }
  // Only own properties are served (never `toString` or `constructor`): the methods of a class instance would be found
  // by no call, each answered -32601, with nothing to say why. An instance with handlers of its own (arrow-function
  // fields) and helper methods on its prototype serves its own, as documented.
  const inherited = Object.keys(methods).length === 0 ? inheritedMethods(methods) : [];
  if (inherited.length > 0) {
    const first = inherited[0]!.replace(/ \(a getter\)$/, '');
    throw new TypeError(
      `${name} is ${describeInstance(methods)} whose methods (${inherited.join(', ')}) are on its prototype: only an object's own properties are served. Pass them as an object, e.g. { ${first}: (params, ctx) => service.${first}(params, ctx) }`,
    );
  }
  if (Object.hasOwn(methods, CANCEL_METHOD))
    throw new TypeError(`${name}["${CANCEL_METHOD}"] is never run: that notification cancels a call, and callstate handles it itself`);
  for (const [key, method] of Object.entries(methods)) {
    if (typeof method === 'function') continue;
    if (method === null || typeof method !== 'object')
      throw new TypeError(`${name}.${key} must be a function or { params, handler }, got ${describe(method)}`);
    const { params, handler } = method as { params?: unknown; handler?: unknown };
    if (typeof handler !== 'function') throw new TypeError(`${name}.${key}.handler must be a function, got ${describe(handler)}`);
    if (!isStandardSchema(params))
      throw new TypeError(
        `${name}.${key}.params must be a Standard Schema (zod, valibot, arktype…: an object with '~standard'), got ${describe(params)}`,
      );
  }
  return methods as Record<string, AnyMethod>;
}

/**
 * The handlers `value`'s prototypes would offer if they were served, up to `Object.prototype` (not included), but
 * `constructor`: function-valued properties, and getters (a class's `get add() { return … }`, never called here), each
 * named as `name (a getter)`. Neither is served: only own properties are.
 */
function inheritedMethods(value: object): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  for (let proto = Object.getPrototypeOf(value); proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || seen.has(key)) continue;
      seen.add(key);
      const descriptor = Object.getOwnPropertyDescriptor(proto, key);
      if (typeof descriptor?.value === 'function') names.push(key);
      else if (descriptor?.get !== undefined) names.push(`${key} (a getter)`);
    }
  }
  return names;
}

/**
 * `an instance of Service` when `value` was made by a named class or constructor (its prototype's own `constructor`
 * names it), else `an object`: an `Object.create(methods)` inherits `constructor` from `Object.prototype`, and is no
 * instance of Object in any sense that helps.
 */
function describeInstance(value: object): string {
  const proto = Object.getPrototypeOf(value) as object;
  const constructor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value as unknown;
  const named = typeof constructor === 'function' && constructor.name !== '' && constructor.prototype === proto;
  return named ? `an instance of ${constructor.name}` : 'an object';
}

/** The `engine` option: 'light' (default) or 'xstate'. */
export function validateEngine(value: unknown): 'light' | 'xstate' {
  if (value === undefined) return 'light';
  if (value !== 'light' && value !== 'xstate') throw new TypeError(`options.engine must be 'light' or 'xstate', got ${describe(value)}`);
  return value;
}

export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

/** An integer option: the fallback when not given, else validated as `validateInteger` does. */
export function optionalInteger(value: unknown, name: string, fallback: number, min: number, max: number): number {
  return value === undefined ? fallback : validateInteger(value, name, min, max);
}

/**
 * An AbortSignal, of this realm or another (a polyfill's): what a call uses of it. A call that settles
 * unsubscribes from its signal, so an object without `removeEventListener` would fail there, inside the
 * call's machine, leaving the caller waiting forever.
 */
function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).removeEventListener === 'function'
  );
}

/** A value as misuse messages show it: a string quoted, an object or function by its type, anything else by its type and value. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' || typeof value === 'function') return typeof value;
  return `${typeof value} ${String(value)}`;
}

/** Portable (the browser build shares this file): no `Buffer`. */
const utf8 = new TextEncoder();

/** A close code an application may send, and a reason that fits a close frame. */
export function validateCloseCode(code: unknown, reason: unknown): void {
  if (typeof code !== 'number' || !Number.isInteger(code)) throw new TypeError(`close code must be an integer, got ${describe(code)}`);
  // As RFC 6455 and ws allow: 1004-1006 and 1015 are never sent in a close frame.
  const sendable = (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
  if (!sendable) throw new RangeError(`close code must be from 1000 to 1014 (not 1004-1006) or from 3000 to 4999, got ${code}`);
  if (typeof reason !== 'string') throw new TypeError(`close reason must be a string, got ${describe(reason)}`);
  const bytes = utf8.encode(reason).length;
  if (bytes > 123) throw new RangeError(`close reason must be at most 123 bytes of UTF-8, got ${bytes}`);
}

/** The `path` option of `serve()`: starts with '/', no query or fragment; '/' when not given. */
export function validatePath(value: unknown, name: string): string {
  if (value === undefined) return '/';
  if (typeof value !== 'string' || !value.startsWith('/') || /[?#\s]/.test(value)) {
    throw new TypeError(`${name} must be a path starting with '/' (no query, fragment or whitespace), got ${describe(value)}`);
  }
  return value;
}

/**
 * The `host` option of a listener: loopback only ('127.0.0.1') when not given, else a name or address, not blank.
 * Node takes an empty host for "every interface", and a URL made from it (`http://:7070/`) leads nowhere: every
 * interface is said with '0.0.0.0' or '::'.
 */
export function optionalHost(value: unknown): string {
  if (value === undefined) return '127.0.0.1';
  if (typeof value !== 'string' || value.trim() === '') {
    throw new TypeError(
      `options.host must be an interface's address or name ('0.0.0.0' or '::' for every interface), got ${describe(value)}`,
    );
  }
  return value;
}

/**
 * A NATS subject to publish to: dot-separated non-empty tokens, no whitespace,
 * no wildcards (`*`, `>`), since calls are published to it and cancellations to `<subject>.$cancel`.
 */
export function validateSubject(value: unknown, name: string): string {
  if (typeof value !== 'string') throw new TypeError(`${name} must be a NATS subject string, got ${describe(value)}`);
  const tokens = value.split('.');
  if (value === '' || /\s/.test(value) || tokens.some((t) => t === '' || t === '*' || t === '>')) {
    throw new TypeError(`${name} must be a NATS subject without wildcards, empty tokens or whitespace, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** A NATS queue group name: non-empty, no whitespace. */
export function validateQueue(value: unknown, name: string): string {
  if (typeof value !== 'string' || value === '' || /\s/.test(value)) {
    throw new TypeError(`${name} must be a non-empty string without whitespace, got ${describe(value)}`);
  }
  return value;
}

/** A count option that may be `Infinity` (no limit): the fallback when not given. */
export function optionalLimit(value: unknown, name: string, fallback: number, min: number): number {
  return value === Infinity ? value : optionalInteger(value, name, fallback, min, Number.MAX_SAFE_INTEGER);
}

/** What `reconnect: true` means; each field may be given on its own. */
export const DEFAULT_RECONNECT: ReconnectPolicy = {
  initialDelay: 500,
  maxDelay: 10_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
  minUptime: 5_000,
};

/** The `reconnect` option: false or absent (off), true (the defaults), or a policy whose fields override them. */
export function validateReconnect(value: unknown, name: string): ReconnectPolicy | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_RECONNECT;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`${name} must be a boolean or an object, got ${describe(value)}`);
  }
  const given = value as Partial<ReconnectPolicy>;
  for (const key of Object.keys(given)) {
    if (!(key in DEFAULT_RECONNECT)) throw new TypeError(`${name}.${key} is not an option (${Object.keys(DEFAULT_RECONNECT).join(', ')})`);
  }
  const policy: ReconnectPolicy = {
    initialDelay: optionalInteger(given.initialDelay, `${name}.initialDelay`, DEFAULT_RECONNECT.initialDelay, 0, MAX_TIMEOUT),
    maxDelay: optionalInteger(given.maxDelay, `${name}.maxDelay`, DEFAULT_RECONNECT.maxDelay, 0, MAX_TIMEOUT),
    factor: DEFAULT_RECONNECT.factor,
    jitter: DEFAULT_RECONNECT.jitter,
    maxAttempts: optionalLimit(given.maxAttempts, `${name}.maxAttempts`, DEFAULT_RECONNECT.maxAttempts, 1),
    minUptime: optionalInteger(given.minUptime, `${name}.minUptime`, DEFAULT_RECONNECT.minUptime, 0, MAX_TIMEOUT),
  };
  if (given.factor !== undefined) policy.factor = numberFrom(given.factor, `${name}.factor`, 1, 100);
  if (given.jitter !== undefined) policy.jitter = numberFrom(given.jitter, `${name}.jitter`, 0, 1);
  // 0 doubled is 0: a server that drops each connection at once would get a new one in a tight loop, from every client.
  if (policy.initialDelay < MIN_RECONNECT_DELAY) {
    throw new RangeError(
      `${name}.initialDelay must be at least ${MIN_RECONNECT_DELAY} ms, got ${policy.initialDelay}: a shorter one reconnects in a tight loop to a server that drops each connection`,
    );
  }
  if (policy.maxDelay < policy.initialDelay) {
    throw new RangeError(`${name}.maxDelay (${policy.maxDelay}) must be at least ${name}.initialDelay (${policy.initialDelay})`);
  }
  return policy;
}

/** A number from `min` to `max`, not only a whole one. */
function numberFrom(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw new RangeError(`${name} must be a number from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

const TLS_PEM_KEYS = ['ca', 'cert', 'key'] as const;

/** A client's `tls` option: only the known keys, each checked; none when not given. Undefined entries are left out. */
export function validateTls(value: unknown, name: string): ClientTlsOptions {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new TypeError(`${name} must be an object, got ${describe(value)}`);
  const given = value as Record<string, unknown>;
  const tls: ClientTlsOptions = {};
  for (const key of Object.keys(given)) {
    const entry = given[key];
    if (entry === undefined) continue;
    if ((TLS_PEM_KEYS as readonly string[]).includes(key)) {
      const items = Array.isArray(entry) ? entry : [entry];
      if (!items.every((item) => typeof item === 'string' || Buffer.isBuffer(item)))
        throw new TypeError(`${name}.${key} must be a PEM string or Buffer, or an array of them`);
      tls[key as (typeof TLS_PEM_KEYS)[number]] = entry as string;
    } else if (key === 'rejectUnauthorized') {
      if (typeof entry !== 'boolean') throw new TypeError(`${name}.rejectUnauthorized must be a boolean, got ${describe(entry)}`);
      tls.rejectUnauthorized = entry;
    } else if (key === 'servername') {
      if (typeof entry !== 'string') throw new TypeError(`${name}.servername must be a string, got ${describe(entry)}`);
      tls.servername = entry;
    } else throw new TypeError(`${name}.${key} is not a TLS option callstate passes on (ca, cert, key, rejectUnauthorized, servername)`);
  }
  return tls;
}

/**
 * A TypeError for the first of `names` given in `options` (not undefined: undefined is not given), where it has no
 * effect: `options.<name> <why>` (`serve()`'s options of the other kind of server, `connect()`'s of another transport,
 * the browser build's). `off`: a value that asks for nothing there (`reconnect: false`) counts as not given. Each option
 * is read once.
 */
export function refuseOptions(
  options: object,
  names: readonly string[],
  why: string | ((name: string) => string),
  off?: (name: string, value: unknown) => boolean,
): void {
  for (const name of names) {
    const value = (options as Record<string, unknown>)[name];
    if (value !== undefined && off?.(name, value) !== true)
      throw new TypeError(`options.${name} ${typeof why === 'string' ? why : why(name)}`);
  }
}
