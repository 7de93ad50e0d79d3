import { describe, expect, it } from 'vitest';
import {
  MAX_TIMEOUT,
  validateInteger,
  validateMethodName,
  validateMethods,
  validateRequestOptions,
  validateTimeout,
} from '../src/validate.js';
import { shownUrl } from '../src/urls.js';

/** Runs `fn`, which must throw, and returns what it threw. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    if (err instanceof Error) return err;
    throw new Error(`threw a non-Error: ${String(err)}`);
  }
  throw new Error('expected the function to throw');
}

function expectThrows(fn: () => unknown, cls: typeof TypeError | typeof RangeError, message: string): void {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(cls);
  expect({ name: err.name, message: err.message }).toEqual({ name: cls.name, message });
}

describe('validateTimeout', () => {
  it('returns a valid timeout unchanged', () => {
    expect(validateTimeout(1, 'timeout')).toBe(1);
    expect(validateTimeout(30_000, 'timeout')).toBe(30_000);
    expect(validateTimeout(MAX_TIMEOUT, 'timeout')).toBe(MAX_TIMEOUT);
  });

  it("caps at setTimeout's largest delay, 2147483647 ms", () => {
    expect(MAX_TIMEOUT).toBe(2_147_483_647);
  });

  it.each([
    ['a string', '100', 'got "100"'],
    ['null', null, 'got null'],
    ['a boolean', true, 'got boolean true'],
    ['an object', {}, 'got object'],
    ['a function', () => 1, 'got function'],
    ['a bigint', 100n, 'got bigint 100'],
    ['NaN', Number.NaN, 'got number NaN'],
  ])('throws a TypeError naming the option for %s', (_name, value, got) => {
    expectThrows(() => validateTimeout(value, 'options.timeout'), TypeError, `options.timeout must be a number of milliseconds, ${got}`);
  });

  it.each([
    ['0', 0],
    ['-0', -0],
    ['a negative number', -1],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['one more than 2147483647', 2_147_483_648],
  ])('throws a RangeError naming the option for %s', (_name, value) => {
    expectThrows(
      () => validateTimeout(value, 'timeout'),
      RangeError,
      `timeout must be greater than 0 and at most 2147483647 ms, got ${value}`,
    );
  });

  it('uses the option name it is given', () => {
    expect(thrown(() => validateTimeout(0, 'connectTimeout')).message).toMatch(/^connectTimeout must be/);
    expect(thrown(() => validateTimeout('x', 'client.timeout')).message).toMatch(/^client\.timeout must be/);
  });
});

describe('validateMethodName', () => {
  it('accepts a non-empty string', () => {
    expect(() => validateMethodName('sum')).not.toThrow();
    expect(() => validateMethodName('$/cancelRequest')).not.toThrow();
    expect(() => validateMethodName(' ')).not.toThrow();
  });

  it.each([
    ['an empty string', '', 'got ""'],
    ['a number', 42, 'got number 42'],
    ['null', null, 'got null'],
    ['an object', { name: 'sum' }, 'got object'],
    ['a symbol', Symbol('sum'), 'got symbol Symbol(sum)'],
  ])('throws a TypeError for %s', (_name, value, got) => {
    expectThrows(() => validateMethodName(value), TypeError, `method must be a non-empty string, ${got}`);
  });
});

describe('validateRequestOptions', () => {
  it('returns no timeout, no signal and no re-sends for undefined', () => {
    expect(validateRequestOptions(undefined)).toEqual({ timeout: undefined, signal: undefined, retries: 0 });
  });

  it('returns timeout and signal and drops any other key', () => {
    const signal = new AbortController().signal;
    const options = validateRequestOptions({ timeout: 500, signal, extra: true });
    expect(options.timeout).toBe(500);
    expect(options.signal).toBe(signal);
    expect(options).not.toHaveProperty('extra');
  });

  it('accepts an empty object', () => {
    const options = validateRequestOptions({});
    expect(options.timeout).toBeUndefined();
    expect(options.signal).toBeUndefined();
  });

  it('accepts an AbortSignal-like object with a boolean aborted and addEventListener and removeEventListener methods', () => {
    const signal = { aborted: false, addEventListener() {}, removeEventListener() {} };
    expect(validateRequestOptions({ signal }).signal).toBe(signal);
  });

  it('accepts an already aborted signal', () => {
    const signal = AbortSignal.abort();
    expect(validateRequestOptions({ signal }).signal).toBe(signal);
  });

  it.each([
    ['null', null, 'got null'],
    ['a number', 5, 'got number 5'],
    ['a string', 'fast', 'got "fast"'],
    ['a function', () => {}, 'got function'],
  ])('throws a TypeError when the options are %s', (_name, value, got) => {
    expectThrows(() => validateRequestOptions(value), TypeError, `request options must be an object, ${got}`);
  });

  it.each([
    ['null', null, 'got null'],
    ['a plain object', {}, 'got object'],
    ['an object whose aborted is not a boolean', { aborted: 'no', addEventListener() {} }, 'got object'],
    ['an object without addEventListener', { aborted: false }, 'got object'],
    ['an object without removeEventListener', { aborted: false, addEventListener() {} }, 'got object'],
    ['an AbortController', new AbortController(), 'got object'],
    ['a boolean', true, 'got boolean true'],
    ['a string', 'abort', 'got "abort"'],
  ])('throws a TypeError when the signal is %s', (_name, signal, got) => {
    expectThrows(() => validateRequestOptions({ signal }), TypeError, `options.signal must be an AbortSignal, ${got}`);
  });

  it('validates the timeout under the name options.timeout', () => {
    expectThrows(
      () => validateRequestOptions({ timeout: 0 }),
      RangeError,
      'options.timeout must be greater than 0 and at most 2147483647 ms, got 0',
    );
    expectThrows(() => validateRequestOptions({ timeout: '5' }), TypeError, 'options.timeout must be a number of milliseconds, got "5"');
  });
});

describe('validateMethods', () => {
  it('returns an empty object for undefined', () => {
    expect(validateMethods(undefined, 'handlers')).toEqual({});
  });

  it('returns the same object when every value is a function', () => {
    const methods = { add: (a: number, b: number) => a + b, async ping() {} };
    expect(validateMethods(methods, 'handlers')).toBe(methods);
  });

  it('accepts an empty object', () => {
    const methods = {};
    expect(validateMethods(methods, 'handlers')).toBe(methods);
  });

  it.each([
    ['null', null, 'got null'],
    ['a number', 1, 'got number 1'],
    ['a string', 'add', 'got "add"'],
    ['a function', () => {}, 'got function'],
    ['an array', [() => {}], 'got an array'],
  ])('throws a TypeError naming the option when it is %s', (_name, value, got) => {
    expectThrows(() => validateMethods(value, 'handlers'), TypeError, `handlers must be an object of functions, ${got}`);
  });

  it.each([
    ['a number', 1, 'add must be a function or { params, handler }, got number 1'],
    ['a string', 'x', 'add must be a function or { params, handler }, got "x"'],
    ['null', null, 'add must be a function or { params, handler }, got null'],
    ['an object without handler', {}, 'add.handler must be a function, got undefined'],
    [
      'a handler without a schema',
      { handler: () => 1, params: { '~standard': { version: 2, validate: () => ({}) } } },
      "add.params must be a Standard Schema (zod, valibot, arktype…: an object with '~standard'), got object",
    ],
  ])('throws a TypeError naming the key when a value is %s', (_name, value, message) => {
    expectThrows(() => validateMethods({ ok() {}, add: value }, 'server.methods'), TypeError, `server.methods.${message}`);
  });

  it('refuses a class instance, whose methods would be found by no call, saying what to pass instead', () => {
    class Service {
      add([a, b]: [number, number]) {
        return a + b;
      }
      ping() {}
    }
    expectThrows(
      () => validateMethods(new Service(), 'options.methods'),
      TypeError,
      "options.methods is an instance of Service whose methods (add, ping) are on its prototype: only an object's own properties are served. Pass them as an object, e.g. { add: (params, ctx) => service.add(params, ctx) }",
    );
    // Own properties of an instance, or of an object without a prototype, are served as given.
    const bound = Object.assign(Object.create(null) as object, { add: () => 1 });
    expect(validateMethods(bound, 'options.methods')).toBe(bound);
    class Fields {
      add = () => 1;
    }
    const fields = new Fields();
    expect(validateMethods(fields, 'options.methods')).toBe(fields);
    // Handlers of its own beside helper methods on its prototype (or an EventEmitter's): its own are served, as before.
    class Mixed {
      add = () => this.helper();
      helper() {
        return 1;
      }
    }
    const mixed = new Mixed();
    expect(validateMethods(mixed, 'options.methods')).toBe(mixed);
  });

  it('refuses a method named $/cancelRequest, which the cancel notice never lets run', () => {
    expectThrows(
      () => validateMethods({ '$/cancelRequest': () => 1 }, 'options.methods'),
      TypeError,
      'options.methods["$/cancelRequest"] is never run: that notification cancels a call, and callstate handles it itself',
    );
  });

  it('accepts { params: schema, handler } beside functions', () => {
    const schema = { '~standard': { version: 1, vendor: 'test', validate: (value: unknown) => ({ value }) } };
    const methods = { ok() {}, add: { params: schema, handler: () => 1 } };
    expect(validateMethods(methods, 'server.methods')).toBe(methods);
  });
});

describe('validateInteger', () => {
  it('returns an integer within the bounds, inclusive', () => {
    expect(validateInteger(0, 'n', 0, 10)).toBe(0);
    expect(validateInteger(5, 'n', 0, 10)).toBe(5);
    expect(validateInteger(10, 'n', 0, 10)).toBe(10);
  });

  it.each([
    ['a fraction', 1.5, 'got number 1.5'],
    ['a numeric string', '5', 'got "5"'],
    ['NaN', Number.NaN, 'got number NaN'],
    ['Infinity', Number.POSITIVE_INFINITY, 'got number Infinity'],
    ['null', null, 'got null'],
    ['a bigint', 5n, 'got bigint 5'],
  ])('throws a TypeError naming the option for %s', (_name, value, got) => {
    expectThrows(() => validateInteger(value, 'maxPayload', 0, 10), TypeError, `maxPayload must be an integer, ${got}`);
  });

  it('throws a RangeError below the minimum', () => {
    expectThrows(() => validateInteger(-1, 'n', 0, 10), RangeError, 'n must be between 0 and 10, got -1');
  });

  it('throws a RangeError above the maximum', () => {
    expectThrows(() => validateInteger(11, 'n', 0, 10), RangeError, 'n must be between 0 and 10, got 11');
  });
});

describe('shownUrl', () => {
  it('shows what comes before the last @ of the authority as ***, in each URL of a list, and leaves the rest', () => {
    expect(shownUrl('ws://127.0.0.1:80/rpc')).toBe('ws://127.0.0.1:80/rpc');
    expect(shownUrl('wss://ann:s3cret@example.com/rpc?x=1')).toBe('wss://***@example.com/rpc?x=1');
    expect(shownUrl('nats://t0ken@127.0.0.1:4222')).toBe('nats://***@127.0.0.1:4222');
    // An unencoded @ in the password: the host is what follows the last one, as URL parsing has it.
    expect(shownUrl('ws://ann:p@ss@host/')).toBe('ws://***@host/');
    expect(shownUrl('nats://a:b@h1:4222,nats://c:d@h2:4222')).toBe('nats://***@h1:4222,nats://***@h2:4222');
    // An @ after the authority is not userinfo, nor is a URL in the query.
    expect(shownUrl('ws://host/path@x?mail=a@b#c@d')).toBe('ws://host/path@x?mail=a@b#c@d');
    expect(shownUrl('http://host/rpc?next=https://me@x.com')).toBe('http://host/rpc?next=https://me@x.com');
    // A comma separates URLs in a nats:// list only: in a ws:// password it is the password's.
    expect(shownUrl('ws://user:pa,ss@host/')).toBe('ws://***@host/');
    // A URL that does not parse (a # or ? in its password): all up to its last @ is hidden.
    expect(shownUrl('ws://u:p#x@host')).toBe('ws://***@host');
    expect(shownUrl('ws://u:p?x@host/a')).toBe('ws://***@host/a');
  });
});
