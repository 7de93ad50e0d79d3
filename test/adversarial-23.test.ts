/**
 * Adversarial review 23, unit level: a middleware's `next()` queued before it returned a promise that is settled
 * already, but that `Promise.resolve` follows a turn later (a thenable that calls back at once, a promise of a subclass
 * of Promise), is refused as after a native one: the handler of a call that middleware refused never runs. A thenable
 * or subclass promise still pending when `next()` comes runs the handler once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Context, invoke } from '../src/core/invoke.js';
import { Hooks } from '../src/hooks.js';
import { RpcError, type Middleware } from '../src/index.js';
import { collectUncaught, settle } from './helpers.js';

const uncaught = collectUncaught();
afterEach(() => expect(uncaught).toEqual([]));

/** Runs one request (id 7) through `middleware` to a handler that counts its runs; what onError was told, by message. */
async function through(middleware: Middleware) {
  const state = { handlerRuns: 0, reported: [] as string[] };
  const hooks = new Hooks({ use: [middleware], onError: (error) => void state.reported.push((error as Error).message) });
  const scope = { signal: new AbortController().signal };
  const ctx = new Context(scope, {} as never, {} as never, 7, 'work', []);
  const outcome = await settle(Promise.resolve(invoke(() => ++state.handlerRuns, hooks, ctx)));
  // Every reaction queued by the refusal has run by the next macrotask.
  await new Promise((resolve) => setImmediate(resolve));
  return { ...state, outcome };
}

const refusedLate = 'next() called by middleware 0 (options.use[0]) after the call was answered: nothing more runs';
class SubPromise<T> extends Promise<T> {}

describe('next() queued before a middleware returns a refusal Promise.resolve follows a turn later', () => {
  it.each([
    ['a promise of a subclass of Promise, rejected already', () => SubPromise.reject(new RpcError(-32003, 'refused'))],
    [
      'a thenable that rejects as soon as its then is called',
      () => ({ then: (_resolve: unknown, reject: (reason: unknown) => void) => reject(new RpcError(-32003, 'refused')) }),
    ],
  ])('%s: the call is refused, its handler never runs, the misuse is reported', async (_what, refusal) => {
    const { outcome, handlerRuns, reported } = await through((_ctx, next) => {
      queueMicrotask(() => void next().catch(() => {}));
      return refusal();
    });
    expect(outcome.error).toBeInstanceOf(RpcError);
    expect(outcome.error.message).toBe('refused');
    expect(handlerRuns).toBe(0);
    expect(reported).toEqual([refusedLate]);
  });
});

describe('next() called while the thenable or subclass promise a middleware returned is pending', () => {
  it('a thenable that calls next() from its then, later: the handler runs once, its result is the answer', async () => {
    const { outcome, handlerRuns, reported } = await through((_ctx, next) => ({
      then: (resolve: (value: unknown) => void, reject: (reason: unknown) => void) =>
        void setTimeout(() => void next().then(resolve, reject), 0),
    }));
    expect(outcome).toEqual({ value: 1 });
    expect(handlerRuns).toBe(1);
    expect(reported).toEqual([]);
  });

  it('a thenable whose then calls next() at once: the handler runs once', async () => {
    const { outcome, handlerRuns } = await through((_ctx, next) => ({
      then: (resolve: (value: unknown) => void, reject: (reason: unknown) => void) => void next().then(resolve, reject),
    }));
    expect(outcome).toEqual({ value: 1 });
    expect(handlerRuns).toBe(1);
  });

  it('a pending promise of a subclass resolved with next() from a timer: the handler runs once', async () => {
    const { outcome, handlerRuns, reported } = await through(
      (_ctx, next) => new SubPromise((resolve) => void setTimeout(() => resolve(next()), 0)),
    );
    expect(outcome).toEqual({ value: 1 });
    expect(handlerRuns).toBe(1);
    expect(reported).toEqual([]);
  });
});

describe('the browser build refuses a nats:// URL in another case as one', () => {
  it.each(['NATS://127.0.0.1:4222', 'Nats://127.0.0.1:4222'])('%s: "nats:// URLs need the Node build"', async (url) => {
    const { connect } = await import('../src/browser.js');
    expect(() => connect(url)).toThrow(
      new TypeError('nats:// URLs need the Node build of callstate: the browser build connects to ws:// and wss:// URLs'),
    );
  });
});
