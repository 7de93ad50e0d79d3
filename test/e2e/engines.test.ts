/**
 * Both engines behind the same API, over real sockets: the light engine (the
 * default) and a full XState actor per call (`engine: 'xstate'`) must give
 * callers the same results and errors, and leave nothing behind.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { sharedDeadlines } from '../../src/engine/deadlines.js';
import { connect, serve, type Client, type Server } from '../../src/index.js';
import { abortWatcher, closeAfterEach, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
closeAfterEach(() => [client, server]);

describe.each(['light', 'xstate'] as const)('engine: %s', (engine) => {
  it('resolves, rejects with RemoteError, times out, aborts and fails on close, as the other engine does', async () => {
    const clock = new SimulatedClock();
    const { handler, entered, aborted } = abortWatcher();
    server = await serve({
      engine,
      methods: { echo: (p: unknown) => p, fail: () => Promise.reject(new Error('nope')), hang: handler, idle: () => new Promise(() => {}) },
    });
    client = connect(server.url, { engine, clock });

    const early = client.request('echo', { queued: true });
    expect(await early).toEqual({ queued: true });
    const failed = await settle(client.request('fail'));
    expect([failed.error.name, failed.error.code, failed.error.message]).toEqual(['RemoteError', -32603, 'nope']);

    const timedOut = settle(client.request('hang', {}, { timeout: 50 }));
    await entered;
    clock.increment(50);
    expect((await timedOut).error.name).toBe('TimeoutError');
    expect(await aborted).toBe(true);

    const controller = new AbortController();
    const cancelled = settle(client.request('idle', {}, { signal: controller.signal }));
    controller.abort(new Error('changed my mind'));
    expect((await cancelled).error.message).toBe('changed my mind');

    const pending = settle(client.request('idle'));
    await until(() => [...server!.connections][0]?.handlingCalls === 1, 'the server to take the call');
    await client.close();
    expect((await pending).error.name).toBe('ConnectionClosedError');
    expect(client.pendingCalls).toBe(0);
  });

  it("leaves the ctx.signal of a handler that has answered unaborted, after the answer and the connection's end, as XState's fromPromise does", async () => {
    const signals: AbortSignal[] = [];
    server = await serve({
      engine,
      methods: {
        now: (_p: unknown, ctx) => (signals.push(ctx.signal), 'now'),
        later: async (_p: unknown, ctx) => (signals.push(ctx.signal), await null, 'later'),
        fails: (_p: unknown, ctx) => {
          signals.push(ctx.signal);
          throw new Error('no');
        },
      },
    });
    client = connect(server.url, { engine });
    expect(await client.request('now')).toBe('now');
    expect(await client.request('later')).toBe('later');
    expect((await settle(client.request('fails'))).error.message).toBe('no');
    await client.close();
    await until(() => server!.connections.size === 0, 'the connection to end');
    expect(signals.map((signal) => signal.aborted)).toEqual([false, false, false]);
  });

  it('leaves no deadline on the shared timer once calls settle (no clock given)', async () => {
    server = await serve({ engine, methods: { echo: (p: unknown) => p } });
    client = connect(server.url, { engine });
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => client!.request('echo', [n])));
    expect(results.map((r) => (r as number[])[0])).toEqual(Array.from({ length: 200 }, (_, n) => n));
    expect(client.pendingCalls).toBe(0);
    expect(sharedDeadlines().size).toBe(0);
    expect(sharedDeadlines().armed).toBe(false);
  });
});

describe.each(['light', 'xstate'] as const)("a server's connection actor on engine %s", (engine) => {
  it('tells subscribers each snapshot as its connection goes, then completes when it closes (peer.actor.subscribe)', async () => {
    const values: unknown[] = [];
    let completed = 0;
    server = await serve({ engine, methods: { echo: (params: unknown) => params } });
    server.on('connection', (peer) => {
      peer.actor.subscribe({ next: (snapshot) => values.push(snapshot.value), complete: () => completed++ });
    });
    client = connect(server.url);
    expect(await client.request('echo', [1])).toEqual([1]);
    // The server closes it: its side goes through closing (the close handshake) to closed.
    await server.close();
    await until(() => completed === 1, 'the subscriber is told the actor completed');
    expect(values.slice(-2)).toEqual(['closing', 'closed']);
  });

  it('keeps a subscriber that throws out of the connection: its error is thrown outside, the connection goes on', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', onUncaught);
    try {
      server = await serve({ engine, methods: { echo: (params: unknown) => params } });
      server.on('connection', (peer) => {
        peer.actor.subscribe(() => {
          throw new Error('subscriber bug');
        });
      });
      client = connect(server.url);
      expect(await client.request('echo', [2])).toEqual([2]);
      await client.close();
      await until(() => server!.connections.size === 0, 'the connection closed');
      await until(() => uncaught.length > 0, 'the subscriber error is thrown outside');
      expect((uncaught[0] as Error).message).toBe('subscriber bug');
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});

describe('engine option', () => {
  it('rejects an unknown engine before connecting', () => {
    expect(() => connect('ws://127.0.0.1:1', { engine: 'fast' as never })).toThrow(
      new TypeError(`options.engine must be 'light' or 'xstate', got "fast"`),
    );
  });
});

describe('writes gathered per tick', () => {
  it('sends the small frames made in one tick in a few socket writes, in order, and a large frame alone', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    client = connect(server.url);
    await client.ready;
    const tcp = (client as unknown as { transport: { socket: { _socket: Record<string, (...args: any[]) => unknown> } } }).transport.socket
      ._socket;
    const writes: number[] = [];
    for (const name of ['_write', '_writev'] as const) {
      const original = tcp[name]!.bind(tcp);
      tcp[name] = (chunks: unknown, ...rest: unknown[]) => (
        writes.push(Array.isArray(chunks) ? chunks.length : 1),
        original(chunks, ...rest)
      );
    }
    const results = await Promise.all(Array.from({ length: 50 }, (_, n) => client!.request('echo', [n])));
    expect(results).toEqual(Array.from({ length: 50 }, (_, n) => [n]));
    // 50 frames of two chunks each (header, payload): the first written at once, the rest gathered 16 frames at a time.
    expect(writes.reduce((a, b) => a + b, 0)).toBe(100);
    expect(writes.length).toBeLessThanOrEqual(5);

    // A lone frame (a call at everyday rates) is written at once, leaving the socket uncorked; from the second frame
    // of a tick on, the socket stays corked until the tick ends.
    const corked = () => (tcp as unknown as { writableCorked: number }).writableCorked;
    writes.length = 0;
    const alone = client.request('echo', ['alone']);
    const afterOne = corked();
    const second = client.request('echo', ['second']);
    expect([afterOne, corked(), writes.length]).toEqual([0, 1, 1]);
    expect(await Promise.all([alone, second])).toEqual([['alone'], ['second']]);
    expect([corked(), writes.length]).toEqual([0, 2]);

    writes.length = 0;
    const big = 'x'.repeat(100_000);
    const [small, large] = await Promise.all([client.request('echo', ['small']), client.request('echo', [big])]);
    expect([small, (large as string[])[0]!.length]).toEqual([['small'], 100_000]);
    expect(writes.length).toBeGreaterThanOrEqual(2);
  });
});
