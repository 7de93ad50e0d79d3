/**
 * A middleware's `next()` called once that middleware has settled (returned or thrown), or once the chain answered
 * the call, or a second time: it rejects, runs no handler, and its error is reported to the hooks (never an
 * unhandled rejection). Unit level on `invoke`, and one call over a real WebSocket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Context, invoke, type AnyMethod } from '../src/core/invoke.js';
import { connect, RpcError, serve, type Client, type ErrorInfo, type Middleware, type Server } from '../src/index.js';
import { Hooks } from '../src/hooks.js';
import { collectUncaught, deferred, settle, until } from './helpers.js';

const uncaught = collectUncaught();

/** Runs `method` for one request through `use`; records what `onError` is told and how often the handler ran. */
function run(id: number | undefined, use: Middleware[]) {
  const reported: Array<[string, ErrorInfo['kind'], ErrorInfo['response']]> = [];
  const hooks = new Hooks({ use, onError: (error, info) => void reported.push([(error as Error).message, info.kind, info.response]) });
  const ran: string[] = [];
  const method: AnyMethod = () => (ran.push('handler'), 'from the handler');
  const ctx = new Context({ signal: new AbortController().signal }, {} as never, {} as never, id, 'work', []);
  const outcome = settle(Promise.resolve(invoke(method, hooks, ctx)));
  return { outcome, reported, ran };
}

/** Lets every queued reaction run (a macrotask comes after all microtasks). */
const turn = () => new Promise((resolve) => setImmediate(resolve));

const settledError = (i: number) =>
  `next() called by middleware ${i} (options.use[${i}]) after it had returned or thrown: nothing more runs`;
const answeredError = (i: number) => `next() called by middleware ${i} (options.use[${i}]) after the call was answered: nothing more runs`;

describe('next() called after its middleware settled', () => {
  afterEach(() => expect(uncaught).toEqual([]));

  it('an async middleware that queues next() as a microtask and then refuses: refused, the handler never runs, the misuse reported', async () => {
    const { outcome, reported, ran } = run(1, [
      async (_ctx, next) => {
        queueMicrotask(() => void next());
        throw new RpcError(-32003, 'refused');
      },
    ]);
    const result = await outcome;
    expect(result.error).toBeInstanceOf(RpcError);
    expect(result.error.message).toBe('refused');
    await turn();
    expect(ran).toEqual([]);
    expect(reported).toEqual([[answeredError(0), 'handler', undefined]]);
  });

  it('Promise.resolve().then(next) before answering on its own: the answer stands, the handler never runs', async () => {
    const rejected: string[] = [];
    const { outcome, reported, ran } = run(1, [
      (_ctx, next) => {
        // This promise is the middleware's own: its rejection is the middleware's to handle, as any promise it makes.
        void Promise.resolve()
          .then(next)
          .catch((error: Error) => rejected.push(error.message));
        return 'answered by the middleware';
      },
    ]);
    expect(await outcome).toEqual({ value: 'answered by the middleware' });
    await turn();
    expect(ran).toEqual([]);
    expect(rejected).toEqual([answeredError(0)]);
    expect(reported).toEqual([[answeredError(0), 'handler', undefined]]);
  });

  it('an inner middleware that throws with next() queued while the outer one still awaits it: the handler never runs', async () => {
    const rejected: string[] = [];
    const { outcome, reported, ran } = run(1, [
      async (_ctx, next) => {
        try {
          return await next();
        } catch (error) {
          // Still running: the inner one threw, its queued next() runs before this one settles.
          await Promise.resolve();
          await Promise.resolve();
          throw error;
        }
      },
      async (_ctx, next) => {
        void Promise.resolve()
          .then(next)
          .catch((error: Error) => rejected.push(error.message));
        throw new RpcError(-32003, 'inner refused');
      },
    ]);
    const result = await outcome;
    expect(result.error.message).toBe('inner refused');
    await turn();
    expect(ran).toEqual([]);
    expect(rejected).toEqual([settledError(1)]);
    expect(reported).toEqual([[settledError(1), 'handler', undefined]]);
  });

  it('a synchronous middleware that throws after keeping next, called later: rejects, nothing runs', async () => {
    let kept: (() => Promise<unknown>) | undefined;
    const { outcome, reported, ran } = run(1, [
      (_ctx, next) => {
        kept = next;
        throw new RpcError(-32003, 'no');
      },
    ]);
    expect((await outcome).error.message).toBe('no');
    const late = await settle(kept!());
    expect(late.error.message).toBe(answeredError(0));
    expect(ran).toEqual([]);
    expect(reported).toEqual([[answeredError(0), 'handler', undefined]]);
  });

  it('a notification: the misuse is reported as the notification kind', async () => {
    const { outcome, reported, ran } = run(undefined, [
      (_ctx, next) => {
        queueMicrotask(() => void next());
        return undefined;
      },
    ]);
    expect(await outcome).toEqual({ value: undefined });
    await turn();
    expect(ran).toEqual([]);
    expect(reported).toEqual([[answeredError(0), 'notification', undefined]]);
  });
});

describe('next() called while its middleware still runs', () => {
  afterEach(() => expect(uncaught).toEqual([]));

  it('after an await, before the middleware settles: the handler runs (no misuse)', async () => {
    const gate = deferred();
    const { outcome, reported, ran } = run(1, [
      async (_ctx, next) => {
        await gate.promise;
        return `${String(await next())} via the middleware`;
      },
      async (_ctx, next) => {
        await Promise.resolve();
        return next();
      },
    ]);
    gate.resolve();
    expect(await outcome).toEqual({ value: 'from the handler via the middleware' });
    expect(ran).toEqual(['handler']);
    expect(reported).toEqual([]);
  });

  it('the outer middleware answered on its own; the inner one calls next() later: nothing runs', async () => {
    const gate = deferred();
    const inner = deferred<{ value?: unknown; error?: any }>();
    const { outcome, reported, ran } = run(1, [
      (_ctx, next) => {
        void next();
        return 'outer answered';
      },
      async (_ctx, next) => {
        await gate.promise;
        inner.resolve(await settle(next()));
      },
    ]);
    expect(await outcome).toEqual({ value: 'outer answered' });
    gate.resolve();
    expect((await inner.promise).error.message).toBe(answeredError(1));
    expect(ran).toEqual([]);
    expect(reported).toEqual([[answeredError(1), 'handler', undefined]]);
  });

  it('next() twice, the second not awaited: the handler runs once, the second call is reported once', async () => {
    const { outcome, reported, ran } = run(1, [
      async (_ctx, next) => {
        const first = next();
        void next();
        return first;
      },
    ]);
    expect(await outcome).toEqual({ value: 'from the handler' });
    await turn();
    expect(ran).toEqual(['handler']);
    expect(reported).toEqual([['next() called more than once by middleware 0 (options.use[0])', 'handler', undefined]]);
  });

  it('next() twice, the second awaited: its error is the answer, and not reported again here', async () => {
    const { outcome, reported, ran } = run(1, [
      async (_ctx, next) => {
        await next();
        return next();
      },
    ]);
    expect((await outcome).error.message).toBe('next() called more than once by middleware 0 (options.use[0])');
    await turn();
    expect(ran).toEqual(['handler']);
    expect(reported).toEqual([]);
  });
});

describe.each(['light', 'xstate'] as const)('over a WebSocket (engine %s)', (engine) => {
  let server: Server | undefined;
  let client: Client | undefined;
  afterEach(async () => {
    await client?.close();
    await server?.close();
    expect(uncaught).toEqual([]);
  });

  it('a refusal with next() queued as a microtask: the caller is refused, the handler never runs, onError hears both', async () => {
    const ran: string[] = [];
    const reported: Array<[string, ErrorInfo['kind'], number | undefined]> = [];
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      engine,
      use: [
        async (_ctx, next) => {
          queueMicrotask(() => void next());
          throw new RpcError(-32003, 'refused');
        },
      ],
      onError: (error, info) => void reported.push([(error as Error).message, info.kind, info.response?.code]),
      methods: { work: () => void ran.push('work') },
    });
    client = connect(server.url);
    const result = await settle(client.request('work'));
    expect([result.error.code, result.error.message]).toEqual([-32003, 'refused']);
    await until(() => reported.length !== 0, 'the refusal reported');
    // The queued next() ran in the microtasks after the refusal: all of them have run once a macrotask comes.
    await new Promise((resolve) => setImmediate(resolve));
    expect(ran).toEqual([]);
    // In either order: the xstate engine reports the refusal a few reactions later than the light one.
    await until(() => reported.length === 2, 'the refusal and the late next() reported');
    expect(reported).toContainEqual(['refused', 'handler', -32003]);
    expect(reported).toContainEqual([answeredError(0), 'handler', undefined]);
  });
});
