/** Middleware, onError, logger and exposeErrors, over real sockets. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  connect,
  ErrorCodes,
  RemoteError,
  RpcError,
  serve,
  type Client,
  type ErrorInfo,
  type Logger,
  type Middleware,
  type Server,
  type StandardSchemaV1,
} from '../../src/index.js';
import { closeAfterEach, collectUncaught, deferred, rawClient, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
let raw: Awaited<ReturnType<typeof rawClient>> | undefined;

closeAfterEach(() => [raw, client, server]);

/** A logger that records each call as [level, message, fields]. */
function recordingLogger() {
  const lines: Array<[string, string, Record<string, unknown>]> = [];
  const at = (level: string) => (fields: object, message: string) => void lines.push([level, message, fields as Record<string, unknown>]);
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { logger, lines };
}

describe('middleware (options.use)', () => {
  it('runs around every handler in order, onion-style, with the params and connection in ctx', async () => {
    const trail: string[] = [];
    const outer: Middleware = async (ctx, next) => {
      trail.push(`outer in ${ctx.method} ${JSON.stringify(ctx.params)} ${ctx.connection.transport}`);
      const result = await next();
      trail.push('outer out');
      return result;
    };
    const inner: Middleware = async (_ctx, next) => {
      trail.push('inner in');
      const result = await next();
      trail.push('inner out');
      return result;
    };
    server = await serve({ use: [outer, inner], methods: { add: ([a, b]: [number, number]) => (trail.push('handler'), a + b) } });
    client = connect(server.url);
    expect(await client.request('add', [1, 2])).toBe(3);
    expect(trail).toEqual(['outer in add [1,2] ws', 'inner in', 'handler', 'inner out', 'outer out']);
  });

  it('can refuse with an RpcError (the handler does not run), change the result, or answer without the handler', async () => {
    let ran = 0;
    const refuse: Middleware = (ctx, next) => {
      if (ctx.method === 'secret') throw new RpcError(-32003, 'not for you', { method: ctx.method });
      return next();
    };
    const double: Middleware = async (ctx, next) => (ctx.method === 'add' ? ((await next()) as number) * 2 : next());
    const cached: Middleware = (ctx, next) => (ctx.method === 'cached' ? 'from cache' : next());
    server = await serve({
      use: [refuse, double, cached],
      methods: {
        secret: () => (ran++, 'the secret'),
        add: ([a, b]: [number, number]) => a + b,
        cached: () => (ran++, 'from handler'),
      },
    });
    client = connect(server.url);
    const refused = await settle(client.request('secret'));
    expect(refused.error).toBeInstanceOf(RemoteError);
    expect([refused.error.code, refused.error.message, refused.error.data]).toEqual([-32003, 'not for you', { method: 'secret' }]);
    expect(await client.request('add', [1, 2])).toBe(6);
    expect(await client.request('cached')).toBe('from cache');
    expect(ran).toBe(0);
  });

  it('answers -32603 when a middleware calls next() twice, and the handler runs once', async () => {
    let ran = 0;
    server = await serve({
      use: [
        async (_ctx, next) => {
          await next();
          return next();
        },
      ],
      methods: { once: () => ++ran },
    });
    client = connect(server.url);
    const { error } = await settle(client.request('once'));
    expect([error.code, error.message]).toEqual([-32603, 'next() called more than once by middleware 0 (options.use[0])']);
    expect(ran).toBe(1);
  });

  it('refuses a use that is not an array of functions, a logger without its levels and an onError that is not a function', async () => {
    await expect(serve({ use: [() => {}, 'x' as never], methods: {} })).rejects.toThrow(
      new TypeError('options.use[1] must be a function, got string'),
    );
    // A hole is no function either (forEach would skip it; every call would then fail -32603).
    // eslint-disable-next-line no-sparse-arrays
    await expect(serve({ use: [() => {}, , () => {}] as never, methods: {} })).rejects.toThrow(
      new TypeError('options.use[1] must be a function, got undefined'),
    );
    await expect(serve({ use: (() => {}) as never, methods: {} })).rejects.toThrow(
      new TypeError('options.use must be an array of functions, got function'),
    );
    await expect(serve({ logger: { debug() {}, info() {}, warn() {} } as never, methods: {} })).rejects.toThrow(
      new TypeError('options.logger.error must be a function, got undefined'),
    );
    await expect(serve({ onError: 1 as never, methods: {} })).rejects.toThrow(
      new TypeError('options.onError must be a function, got number'),
    );
    await expect(serve({ exposeErrors: 'no' as never, methods: {} })).rejects.toThrow(
      new TypeError('options.exposeErrors must be a boolean, got string'),
    );
    expect(() => connect('ws://127.0.0.1:1', { use: [null as never] })).toThrow(
      new TypeError('options.use[0] must be a function, got null'),
    );
  });
});

describe('onError and logger', () => {
  it('sees what a handler throws, message and stack, with method, id and connection; the client gets the message by default', async () => {
    const seen: Array<[unknown, ErrorInfo]> = [];
    const { logger, lines } = recordingLogger();
    server = await serve({
      onError: (error, info) => seen.push([error, info]),
      logger,
      methods: {
        boom: () => {
          throw new Error('secret internals');
        },
      },
    });
    client = connect(server.url);
    const { error } = await settle(client.request('boom'));
    expect([error.code, error.message]).toEqual([-32603, 'secret internals']);
    expect(seen).toHaveLength(1);
    const [thrown, info] = seen[0]!;
    expect((thrown as Error).message).toBe('secret internals');
    expect((thrown as Error).stack).toContain('hooks.test.ts');
    expect(info).toMatchObject({ method: 'boom', kind: 'handler', response: { code: -32603, message: 'secret internals' } });
    expect(typeof info.id).toBe('string');
    expect(info.connection.transport).toBe('ws');
    expect(lines.map(([level, message]) => [level, message])).toEqual([['error', '"boom" threw: secret internals']]);
    expect(lines[0]![2]).toMatchObject({ err: thrown, method: 'boom', code: -32603, kind: 'handler' });
  });

  it("runs onError as a plain function: its `this` is not callstate's internals", async () => {
    const thisValues: unknown[] = [];
    server = await serve({
      onError: function (this: unknown) {
        thisValues.push(this);
      },
      methods: {
        boom: () => {
          throw new Error('boom');
        },
      },
    });
    client = connect(server.url);
    await settle(client.request('boom'));
    expect(thisValues).toEqual([undefined]);
  });

  it('with exposeErrors: false, answers -32603 "internal error" while onError and logger still see the message', async () => {
    const seen: unknown[] = [];
    server = await serve({
      exposeErrors: false,
      onError: (error) => seen.push(error),
      methods: {
        boom: () => {
          throw new Error('secret internals');
        },
        refuse: () => {
          throw new RpcError(-32010, 'meant for the caller', { retry: false });
        },
      },
    });
    client = connect(server.url);
    const hidden = await settle(client.request('boom'));
    expect([hidden.error.code, hidden.error.message, hidden.error.data]).toEqual([-32603, 'internal error', undefined]);
    expect((seen[0] as Error).message).toBe('secret internals');
    const refused = await settle(client.request('refuse'));
    expect([refused.error.code, refused.error.message, refused.error.data]).toEqual([-32010, 'meant for the caller', { retry: false }]);
  });

  it.each([true, false])(
    'sees a result that cannot be encoded (what its toJSON throws); with exposeErrors %s the caller gets its message or "internal error"',
    async (exposeErrors) => {
      const seen: Array<[unknown, ErrorInfo]> = [];
      const { logger, lines } = recordingLogger();
      server = await serve({
        exposeErrors,
        onError: (error, info) => seen.push([error, info]),
        logger,
        methods: {
          leaky: () => ({
            toJSON() {
              throw new Error('secret internals');
            },
          }),
        },
      });
      client = connect(server.url);
      const message = 'the result of "leaky" cannot be encoded as JSON: secret internals';
      const { error } = await settle(client.request('leaky'));
      expect([error.code, error.message, error.data]).toEqual([-32603, exposeErrors ? message : 'internal error', undefined]);
      expect(seen).toHaveLength(1);
      const [reported, info] = seen[0]!;
      expect([(reported as Error).name, (reported as Error).message, ((reported as Error).cause as Error).message]).toEqual([
        'TypeError',
        message,
        'secret internals',
      ]);
      expect(info).toMatchObject({ method: 'leaky', kind: 'handler', response: { code: -32603, message: error.message } });
      expect(lines.map(([level, line]) => [level, line])).toEqual([['error', `"leaky" threw: ${message}`]]);
    },
  );

  it('sees what a middleware throws, and logs an RpcError thrown on purpose at debug, not error', async () => {
    const seen: Array<[unknown, ErrorInfo]> = [];
    const { logger, lines } = recordingLogger();
    server = await serve({
      use: [
        () => {
          throw new RpcError(-32003, 'denied');
        },
      ],
      onError: (error, info) => seen.push([error, info]),
      logger,
      methods: { m: () => 1 },
    });
    client = connect(server.url);
    await settle(client.request('m'));
    expect(seen.map(([error, info]) => [(error as RpcError).code, info.kind, info.method])).toEqual([[-32003, 'handler', 'm']]);
    expect(lines.map(([level, message]) => [level, message])).toEqual([['debug', '"m" answered -32003: denied']]);
  });

  it('sees the protocol errors the server answers: parse error, invalid request, method not found, batch limit, busy', async () => {
    const seen: Array<[number, ErrorInfo['kind'], string | undefined, unknown]> = [];
    const { logger, lines } = recordingLogger();
    let release!: () => void;
    server = await serve({
      maxBatch: 2,
      maxInFlightPerConnection: 1,
      onError: (error, info) => seen.push([(error as RpcError).code, info.kind, info.method, info.id]),
      logger,
      methods: { hold: () => new Promise<void>((resolve) => (release = resolve)) },
    });
    raw = await rawClient(server.url);
    raw.send('{"jsonrpc":');
    expect(await raw.next()).toMatchObject({ id: null, error: { code: -32700 } });
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 7 }));
    expect(await raw.next()).toMatchObject({ id: 1, error: { code: -32600 } });
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'nope' }));
    expect(await raw.next()).toMatchObject({ id: 2, error: { code: -32601 } });
    raw.send(JSON.stringify([1, 2, 3].map((id) => ({ jsonrpc: '2.0', id, method: 'hold' }))));
    expect(await raw.next()).toMatchObject({ id: null, error: { code: -32600 } });
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'hold' }));
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'hold' }));
    expect(await raw.next()).toMatchObject({ id: 4, error: { code: -32000 } });
    release();
    expect(await raw.next()).toMatchObject({ id: 3, result: null });
    expect(seen).toEqual([
      [-32700, 'protocol', undefined, null],
      [-32600, 'protocol', undefined, 1],
      [-32601, 'protocol', 'nope', 2],
      [-32600, 'protocol', undefined, null],
      [-32000, 'protocol', 'hold', 4],
    ]);
    expect(new Set(lines.map(([level]) => level))).toEqual(new Set(['warn']));
    expect(lines).toHaveLength(5);
  });

  it('keeps answering when onError and the logger throw; a throwing onError is logged at error, the logger failing on console.error once', async () => {
    const reported: unknown[][] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void reported.push(args));
    const errors: string[] = [];
    const throwing = () => {
      throw new Error('hook broke');
    };
    server = await serve({
      onError: throwing,
      logger: {
        debug: throwing,
        info: throwing,
        warn: throwing,
        error: (_fields, message) => {
          errors.push(message);
          throw new Error('logger broke too');
        },
      },
      methods: {
        boom: () => {
          throw new Error('x');
        },
        ok: () => 'fine',
      },
    });
    client = connect(server.url);
    const { error } = await settle(client.request('boom'));
    expect([error.code, error.message]).toEqual([-32603, 'x']);
    expect((await settle(client.request('missing'))).error.code).toBe(-32601);
    expect(await client.request('ok')).toBe('fine');
    expect(errors).toEqual(['onError threw: hook broke', '"boom" threw: x', 'onError threw: hook broke']);
    spy.mockRestore();
    expect(reported).toEqual([['callstate: the logger failed (later failures are not reported): logger broke too']]);
  });

  it('a client answering its server has the same hooks', async () => {
    const seen: ErrorInfo[] = [];
    server = await serve({ methods: {} });
    client = connect(server.url, {
      use: [async (ctx, next) => `${String(await next())} via ${ctx.method}`],
      onError: (_error, info) => seen.push(info),
      methods: {
        hello: () => 'hi',
        fail: () => {
          throw new Error('client side');
        },
      },
    });
    await client.ready;
    await until(() => server!.connections.size === 1, 'the server to see the client');
    const peer = [...server.connections][0]!;
    expect(await peer.request('hello')).toBe('hi via hello');
    await settle(peer.request('fail'));
    expect(seen.map((info) => [info.method, info.kind])).toEqual([['fail', 'handler']]);
  });
});

describe('hooks that fail asynchronously', () => {
  const uncaught = collectUncaught();
  afterEach(() => void vi.restoreAllMocks());

  /** A turn of the event loop: unhandled rejections of the last one are reported by then. */
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('an onError that returns a rejecting promise is logged at error, and nothing is left unhandled', async () => {
    const { logger, lines } = recordingLogger();
    server = await serve({
      onError: async () => {
        throw new Error('async hook broke');
      },
      logger,
      methods: {
        boom: () => {
          throw new Error('x');
        },
      },
    });
    client = connect(server.url);
    expect((await settle(client.request('boom'))).error).toMatchObject({ code: -32603, message: 'x' });
    await until(() => lines.some(([, message]) => message.startsWith('onError rejected')), 'the rejection logged');
    await turn();
    expect(lines.filter(([level]) => level === 'error').map(([, message]) => message)).toEqual([
      '"boom" threw: x',
      'onError rejected: async hook broke',
    ]);
    expect(uncaught).toEqual([]);
  });

  it('a logger whose methods return rejecting promises: reported once on console.error, nothing left unhandled', async () => {
    const reported: unknown[][] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void reported.push(args));
    const rejecting = async () => {
      throw new Error('log sink down');
    };
    server = await serve({
      logger: { debug: rejecting, info: rejecting, warn: rejecting, error: rejecting },
      methods: {
        boom: () => {
          throw new Error('x');
        },
      },
    });
    client = connect(server.url);
    for (let i = 0; i < 3; i++) expect((await settle(client.request('boom'))).error).toMatchObject({ code: -32603, message: 'x' });
    expect((await settle(client.request('missing'))).error.code).toBe(-32601);
    await until(() => reported.length > 0, 'the logger failure reported');
    await turn();
    expect(reported).toHaveLength(1);
    expect(String(reported[0]![0])).toBe('callstate: the logger failed (later failures are not reported): log sink down');
    expect(uncaught).toEqual([]);
  });

  it('a middleware that calls next() without awaiting it leaves nothing unhandled when the handler rejects', async () => {
    let failed = 0;
    server = await serve({
      use: [
        (_ctx, next) => {
          void next();
          return 'answered before the handler';
        },
      ],
      methods: {
        fail: async () => {
          failed++;
          throw new Error('late failure');
        },
      },
    });
    client = connect(server.url);
    expect(await client.request('fail')).toBe('answered before the handler');
    expect(failed).toBe(1);
    await turn();
    expect(uncaught).toEqual([]);
  });
});

describe.each(['light', 'xstate'] as const)('a next() called once the call was answered (engine %s)', (engine) => {
  it('rejects and runs nothing more: the handler would run for nobody, counted in no limit', async () => {
    const ran: string[] = [];
    const saved: Array<() => Promise<unknown>> = [];
    server = await serve({
      engine,
      use: [
        async (_ctx, next) => next(),
        (_ctx, next) => {
          saved.push(next);
          return 'answered by middleware 1';
        },
      ],
      methods: { work: () => void ran.push('work'), log: () => void ran.push('log') },
    });
    client = connect(server.url);
    expect(await client.request('work')).toBe('answered by middleware 1');
    client.notify('log');
    await until(() => saved.length === 2, 'the notification through the middleware');
    await new Promise((resolve) => setImmediate(resolve));
    for (const next of saved) {
      const late = await settle(next());
      expect(late.error).toBeInstanceOf(Error);
      expect(late.error.message).toBe('next() called by middleware 1 (options.use[1]) after the call was answered: nothing more runs');
    }
    expect(ran).toEqual([]);
  });
});

describe.each(['light', 'xstate'] as const)('hooks reporting an RpcError whose code cannot be read (engine %s)', (engine) => {
  const uncaught = collectUncaught();

  /** An RpcError whose `code` is a getter that throws, or a symbol (which no template literal can print). */
  const unreadable = (kind: 'getter' | 'symbol') => {
    const error = new RpcError(-32050, `code ${kind}`);
    if (kind === 'getter')
      Object.defineProperty(error, 'code', {
        get() {
          throw new Error('code getter');
        },
      });
    else Object.defineProperty(error, 'code', { value: Symbol('code') });
    return error;
  };

  it('answers the call -32603 once, reports it to onError and the logger, and leaves nothing uncaught', async () => {
    const seen: Array<[string | undefined, string, number | undefined]> = [];
    const { logger, lines } = recordingLogger();
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      engine,
      onError: (_error, info) => void seen.push([info.method, info.kind, info.response?.code]),
      logger,
      methods: {
        getter: () => {
          throw unreadable('getter');
        },
        symbol: () => {
          throw unreadable('symbol');
        },
        ok: () => 'fine',
      },
    });
    client = connect(server.url, { timeout: 5_000 });
    for (const [i, method] of ['getter', 'symbol'].entries()) {
      const { error } = await settle(client.request(method));
      expect([error.code, error.message]).toEqual([-32603, `code ${method}`]);
      client.notify(method);
      // Reported before the next call is made: a call answered at once is reported while its frame is read, a
      // notification's handler a microtask later, so the two could arrive in one read and be reported the other way.
      await until(() => seen.length === 2 * (i + 1), `the notification "${method}" reported`);
    }
    expect(await client.request('ok')).toBe('fine');
    expect(seen).toEqual([
      ['getter', 'handler', -32603],
      ['getter', 'notification', undefined],
      ['symbol', 'handler', -32603],
      ['symbol', 'notification', undefined],
    ]);
    expect(lines.map(([level, message]) => [level, message])).toEqual([
      ['debug', '"getter" answered -32603: code getter'],
      ['debug', 'notification "getter" answered -32603: code getter'],
      ['debug', '"symbol" answered -32603: code symbol'],
      ['debug', 'notification "symbol" answered -32603: code symbol'],
    ]);
    await until(() => [...server!.connections][0]!.handlingCalls === 0, 'the server to release the calls');
    expect(uncaught).toEqual([]);
  });
});

describe.each(['light', 'xstate'] as const)('a call that ends while a middleware or an async schema waits (engine %s)', (engine) => {
  const uncaught = collectUncaught();

  /** A middleware that waits for `gate` before it calls next(), and records how next() settled. */
  function waitingMiddleware(gate: Promise<void>) {
    const outcome = deferred<unknown>();
    const middleware: Middleware = async (_ctx, next) => {
      await gate;
      try {
        const result = await next();
        outcome.resolve(result);
        return result;
      } catch (error) {
        outcome.resolve(error);
        throw error;
      }
    };
    return { middleware, outcome: outcome.promise };
  }

  const handlingCalls = () => [...server!.connections].reduce((sum, peer) => sum + peer.handlingCalls, 0);

  it('cancelled by its caller: next() rejects with the AbortError, the handler never runs', async () => {
    const gate = deferred();
    const { middleware, outcome } = waitingMiddleware(gate.promise);
    let ran = 0;
    const seen: ErrorInfo[] = [];
    server = await serve({ engine, use: [middleware], onError: (_e, info) => seen.push(info), methods: { work: () => ++ran } });
    client = connect(server.url, { engine });
    const controller = new AbortController();
    const call = settle(client.request('work', [], { signal: controller.signal }));
    await until(() => handlingCalls() === 1, 'the call to run');
    controller.abort();
    expect((await call).error.name).toBe('AbortError');
    await until(() => handlingCalls() === 0, 'the server to end the cancelled call');
    gate.resolve();
    const rejected = (await outcome) as DOMException;
    expect([rejected.name, ran, seen]).toEqual(['AbortError', 0, []]);
    expect(await client.request('work')).toBe(1);
    expect(uncaught).toEqual([]);
  });

  it('past its handlerTimeout: answered -32001, and then next() rejects with the TimeoutError, the handler never runs', async () => {
    const clock = new SimulatedClock();
    const gate = deferred();
    const { middleware, outcome } = waitingMiddleware(gate.promise);
    let ran = 0;
    server = await serve({ engine, clock, handlerTimeout: 1_000, use: [middleware], methods: { work: () => ++ran } });
    client = connect(server.url, { engine });
    const call = settle(client.request('work'));
    await until(() => handlingCalls() === 1, 'the call to run');
    clock.increment(1_000);
    expect((await call).error.code).toBe(ErrorCodes.HandlerTimeout);
    gate.resolve();
    const rejected = (await outcome) as DOMException;
    expect([rejected.name, ran, handlingCalls()]).toEqual(['TimeoutError', 0, 0]);
    expect(uncaught).toEqual([]);
  });

  it('a notification whose connection closes: the handler never runs', async () => {
    const gate = deferred();
    const { middleware, outcome } = waitingMiddleware(gate.promise);
    let ran = 0;
    const entered = deferred();
    server = await serve({
      engine,
      use: [(_ctx, next) => (entered.resolve(), next()), middleware],
      methods: { work: () => ++ran },
    });
    client = connect(server.url, { engine });
    client.notify('work');
    await entered.promise;
    await client.close();
    await until(() => server!.connections.size === 0, 'the connection to end');
    gate.resolve();
    expect([((await outcome) as DOMException).name, ran]).toEqual(['AbortError', 0]);
    expect(uncaught).toEqual([]);
  });

  it('cancelled while its async params schema checks: the handler never runs', async () => {
    const checked = deferred<StandardSchemaV1.Result<unknown>>();
    const entered = deferred();
    const schema: StandardSchemaV1 = {
      '~standard': { version: 1, vendor: 'test', validate: () => (entered.resolve(), checked.promise) },
    };
    let ran = 0;
    const seen: ErrorInfo[] = [];
    server = await serve({ engine, onError: (_e, info) => seen.push(info), methods: { work: { params: schema, handler: () => ++ran } } });
    client = connect(server.url, { engine });
    const controller = new AbortController();
    const call = settle(client.request('work', [], { signal: controller.signal }));
    await entered.promise;
    controller.abort();
    expect((await call).error.name).toBe('AbortError');
    await until(() => handlingCalls() === 0, 'the server to end the cancelled call');
    checked.resolve({ value: [] });
    await new Promise((resolve) => setImmediate(resolve));
    expect([ran, seen]).toEqual([0, []]);
    expect(uncaught).toEqual([]);
  });
});

describe.each(['light', 'xstate'] as const)('an onError that changes info.response (engine %s)', (engine) => {
  const uncaught = collectUncaught();

  /** Makes the response it is given malformed and impossible to encode. */
  const vandal = (_error: unknown, info: ErrorInfo) => {
    if (info.response) Object.assign(info.response, { code: 'changed', message: 7, data: 10n });
  };

  it('changes nothing sent over WebSocket, and throws nowhere: the caller gets the error as it was reported', async () => {
    let release!: () => void;
    server = await serve({
      engine,
      maxInFlightPerConnection: 1,
      onError: vandal,
      methods: {
        hold: () => new Promise<void>((resolve) => (release = resolve)),
        boom: () => {
          throw new RpcError(-32010, 'refused', { why: 'no' });
        },
        unencodable: () => 10n,
      },
    });
    raw = await rawClient(server.url);
    raw.send('{"jsonrpc":');
    expect(await raw.next()).toMatchObject({ id: null, error: { code: -32700 } });
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 7 }));
    expect(await raw.next()).toMatchObject({ id: 1, error: { code: -32600 } });
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'nope' }));
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 2, error: { code: -32601, message: 'method not found: nope' } });
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'boom' }));
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 3, error: { code: -32010, message: 'refused', data: { why: 'no' } } });
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'unencodable' }));
    expect(await raw.next()).toMatchObject({ id: 4, error: { code: -32603, message: expect.stringContaining('cannot be encoded') } });
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'hold' }));
    raw.send(JSON.stringify([{ jsonrpc: '2.0', id: 6, method: 'hold' }]));
    expect(await raw.next()).toMatchObject([{ id: 6, error: { code: -32000, data: { maxInFlightPerConnection: 1 } } }]);
    release();
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 5, result: null });
    expect(uncaught).toEqual([]);
  });

  it('changes nothing sent over HTTP', async () => {
    server = await serve({ engine, onError: vandal, methods: {} });
    const url = server.url.replace('ws:', 'http:');
    const post = async (body: string) =>
      (await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })).json() as Promise<unknown>;
    expect(await post('{"jsonrpc":')).toMatchObject({ id: null, error: { code: -32700 } });
    expect(await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'nope' }))).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32601, message: 'method not found: nope' },
    });
    expect(uncaught).toEqual([]);
  });
});
