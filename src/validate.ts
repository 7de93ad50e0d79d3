/**
 * Option validation, in one place, before anything starts: misuse throws
 * `TypeError` or `RangeError` synchronously with the option's name.
 */
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

export function validateMethodName(method: unknown): asserts method is string {
  if (typeof method !== 'string' || method.length === 0) {
    throw new TypeError(`method must be a non-empty string, got ${describe(method)}`);
  }
}

export function validateRequestOptions(options: unknown): RequestOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`request options must be an object, got ${describe(options)}`);
  }
  const { timeout, signal } = options as RequestOptions;
  if (timeout !== undefined) validateTimeout(timeout, 'options.timeout');
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new TypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
  }
  return { timeout, signal };
}

export function validateMethods(methods: unknown, name: string): Record<string, (...args: any[]) => unknown> {
  if (methods === undefined) return {};
  if (methods === null || typeof methods !== 'object' || Array.isArray(methods)) {
    throw new TypeError(`${name} must be an object of functions, got ${Array.isArray(methods) ? 'an array' : describe(methods)}`);
  }
  for (const [key, fn] of Object.entries(methods)) {
    if (typeof fn !== 'function') throw new TypeError(`${name}.${key} must be a function, got ${describe(fn)}`);
  }
  return methods as Record<string, (...args: any[]) => unknown>;
}

export function validateInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  if (value < min || value > max) throw new RangeError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function'
  );
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' || typeof value === 'function') return typeof value;
  return `${typeof value} ${String(value)}`;
}
