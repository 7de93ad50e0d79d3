/**
 * Lifecycle races over WebSocket: close and terminate at each state of the connection, from inside listeners and
 * callbacks, calls made in the same tick, signals aborted at each state of a call. Every pending call fails exactly
 * once with a typed error, nothing is left pending, and nothing escapes as an unhandled rejection.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, ConnectionClosedError, serve, TimeoutError, type Client, type Peer, type Server } from '../../src/index.js';
import { closeAfterEach, collectUncaught, deferred, orHang, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
closeAfterEach(() => [client, server]);
afterEach(() => {
  [client, server] = [undefined, undefined];
});
const uncaught = collectUncaught();

const POLICY = { initialDelay: 100, maxDelay: 400, jitter: 0 };

/** Counts how often a promise settles through the caller's view: once, or a defect. */
function once<T>(promise: Promise<T>) {
  let settled = 0;
  const outcome = settle(promise.finally(() => settled++));
  return { outcome, count: () => settled };
}

describe('close and terminate at each state of the connection', () => {
  it('close() while the opening handshake runs: ready and queued calls reject once, nothing pending', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    client = connect(server.url, { heartbeat: 0 });
    const ready = settle(client.ready);
    const call = once(client.request('echo', [1]));
    expect(client.state).toBe('connecting');
    const [a, b] = [client.close(), client.close()];
    await Promise.all([a, b]);
    expect((await ready).error).toBeInstanceOf(ConnectionClosedError);
    const { error } = await call.outcome;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(call.count()).toBe(1);
    expect(client.state).toBe('closed');
    expect(client.pendingCalls).toBe(0);
    expect(client.queuedCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });

  it('terminate() while the opening handshake runs', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    client = connect(server.url, { heartbeat: 0 });
    const call = once(client.request('echo', [1]));
    await client.terminate();
    const { error } = await call.outcome;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/terminated locally/);
    expect((await settle(client.ready)).error).toBe(error);
    expect(client.pendingCalls).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(uncaught).toEqual([]);
  });

  it('close() and terminate() concurrently on an open connection', async () => {
    server = await serve({ methods: { hang: () => new Promise(() => {}) } });
    client = connect(server.url, { heartbeat: 0 });
    await client.ready;
    const call = once(client.request('hang'));
    const a = client.close();
    const b = client.terminate();
    const c = client.close();
    await Promise.all([a, b, c]);
    const { error } = await call.outcome;
    expect(error.message).toMatch(/closed locally/);
    expect(call.count()).toBe(1);
    expect(client.pendingCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });

  it('close() from a reconnecting listener ends the connection before it returns; a terminate() after it changes nothing', async () => {
    const clock = new SimulatedClock();
    let running = 0;
    server = await serve({ methods: { hang: () => (running++, new Promise(() => {})) } });
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0 });
    await client.ready;
    const retried = once(client.request('hang', [], { retry: true }));
    const plain = once(client.request('hang', []));
    await until(() => running === 2, 'both calls to reach the server');
    let closing: Promise<void> | undefined;
    let stateAfterClose: string | undefined;
    client.on('reconnecting', () => {
      closing = client!.close();
      stateAfterClose = client!.state;
      void client!.terminate();
    });
    for (const peer of server.connections) void peer.terminate();
    await until(() => closing !== undefined);
    expect(stateAfterClose).toBe('closed');
    await closing;
    const [r, p] = [await retried.outcome, await plain.outcome];
    expect(p.error).toBeInstanceOf(ConnectionClosedError);
    expect(p.error.message).toMatch(/was lost after the call was written/);
    // The retry call waited for the next connection: close() failed it, and terminate() came too late to matter.
    expect(r.error).toBeInstanceOf(ConnectionClosedError);
    expect(r.error.message).toMatch(/was closed locally$/);
    clock.increment(10_000);
    expect(client.state).toBe('closed');
    expect(client.pendingCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });

  it('close() from an open listener takes effect at once: a call made after it is refused, and never sent', async () => {
    const seen: unknown[] = [];
    server = await serve({ methods: { record: (p: unknown) => (seen.push(p), p) } });
    client = connect(server.url, { heartbeat: 0 });
    const before = once(client.request('record', ['before']));
    let after: ReturnType<typeof once> | undefined;
    let stateAfterClose: string | undefined;
    client.on('open', () => {
      void client!.close();
      stateAfterClose = client!.state;
      after = once(client!.request('record', ['after']));
    });
    await client.closed;
    expect(stateAfterClose).toBe('closing');
    const { error } = await after!.outcome;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/^cannot call "record": the connection to .* is closing$/);
    // The call made before open went out as it opened; it fails with the close, once.
    expect((await before.outcome).error.message).toMatch(/was closed locally$/);
    expect(before.count()).toBe(1);
    // The server may have run the one written before close(), never the one made after it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).not.toContainEqual(['after']);
    expect(client.pendingCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });

  it("close() from a call's then, with a call queued behind it (maxInFlight 1): each fails or resolves once", async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    client = connect(server.url, { heartbeat: 0, maxInFlight: 1 });
    await client.ready;
    let closing: Promise<void> | undefined;
    const first = once(client.request('echo', [1]).then((value) => ((closing = client!.close()), value)));
    const behind = once(client.request('echo', [2]));
    expect(client.queuedCalls).toBe(1);
    expect((await first.outcome).value).toEqual([1]);
    await closing;
    // Released as the first settled, before close(): it fails with the close, once.
    expect((await behind.outcome).error).toBeInstanceOf(ConnectionClosedError);
    expect([first.count(), behind.count(), client.pendingCalls, client.queuedCalls]).toEqual([1, 1, 0, 0]);
    expect(uncaught).toEqual([]);
  });

  it('close() from a notification listener fails the call whose answer follows the notification', async () => {
    server = await serve({
      methods: {
        ping: (_p: unknown, ctx) => {
          ctx.peer.notify('hello', []);
          return 'pong';
        },
        hang: () => new Promise(() => {}),
      },
    });
    client = connect(server.url, { heartbeat: 0 });
    await client.ready;
    const hang = once(client.request('hang'));
    client.on('notification', () => void client!.close());
    const ping = once(client.request('ping'));
    await client.closed;
    expect((await hang.outcome).error).toBeInstanceOf(ConnectionClosedError);
    // The notification came before the answer: ping fails with the close.
    expect((await ping.outcome).error).toBeInstanceOf(ConnectionClosedError);
    expect(client.pendingCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });

  it('a call made in the same tick as close(), before and after', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    client = connect(server.url, { heartbeat: 0 });
    await client.ready;
    const before = once(client.request('echo', [1]));
    const closing = client.close();
    const after = once(client.request('echo', [2]));
    await closing;
    expect((await before.outcome).error).toBeInstanceOf(ConnectionClosedError);
    expect((await after.outcome).error.message).toMatch(/is closing/);
    expect(client.pendingCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });
});

describe('ready across reconnects', () => {
  it('resolves when a later attempt opens, and the call made before goes out then', async () => {
    const probe = await serve({ methods: {} });
    const { port, url } = probe;
    await probe.close();
    const clock = new SimulatedClock();
    client = connect(url, { reconnect: POLICY, clock, heartbeat: 0 });
    const call = client.request('echo', [1], { timeout: 60_000 });
    await until(() => client!.state === 'connecting' && (client!.actor.getSnapshot().value as any).connecting === 'waiting');
    server = await serve({ port, methods: { echo: (p: unknown) => p } });
    clock.increment(100);
    await client.ready;
    expect(await call).toEqual([1]);
    expect(uncaught).toEqual([]);
  });
});

describe('AbortSignal at each state of a call', () => {
  it('aborted while queued (connecting), while awaiting, after settled', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p, hang: () => new Promise(() => {}) } });
    client = connect(server.url, { heartbeat: 0 });
    const c1 = new AbortController();
    const queued = once(client.request('hang', [], { signal: c1.signal }));
    expect(client.queuedCalls).toBe(1);
    c1.abort(new Error('queued abort'));
    expect((await queued.outcome).error.message).toBe('queued abort');
    await client.ready;
    const c2 = new AbortController();
    const awaiting = once(client.request('hang', [], { signal: c2.signal }));
    await new Promise((r) => setImmediate(r));
    c2.abort();
    expect((await awaiting.outcome).error.name).toBe('AbortError');
    const c3 = new AbortController();
    expect(await client.request('echo', [3], { signal: c3.signal })).toEqual([3]);
    c3.abort();
    expect(client.pendingCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });

  it('aborted while the params are encoded (their toJSON aborts): the call rejects with the reason, not at its deadline', async () => {
    const clock = new SimulatedClock();
    server = await serve({ methods: { echo: (p: unknown) => p, hang: () => new Promise(() => {}) } });
    client = connect(server.url, { heartbeat: 0, clock, timeout: 60_000 });
    await client.ready;
    const controller = new AbortController();
    const params = { toJSON: () => (controller.abort(new Error('aborted while encoding')), {}) };
    const call = once(client.request('hang', params, { signal: controller.signal }));
    // The simulated clock never moves: without a rejection now, the call would wait for its 60 s deadline.
    const { error } = await orHang(call.outcome, 'the call aborted while encoding');
    expect(error.message).toBe('aborted while encoding');
    expect(call.count()).toBe(1);
    expect(client.pendingCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });
});

describe('server to client calls when the client closes', () => {
  it('fail on the server with ConnectionClosedError, and abort the client handler', async () => {
    const outcome = deferred<unknown>();
    const entered = deferred();
    server = await serve({
      methods: {
        callBack: async (_p: unknown, ctx) => {
          const r = await settle(ctx.peer.request('slow', []));
          outcome.resolve(r.error);
          return 'x';
        },
      },
    });
    const aborted = deferred<boolean>();
    client = connect(server.url, {
      heartbeat: 0,
      methods: {
        slow: (_p: unknown, ctx) =>
          new Promise((_, reject) => {
            entered.resolve();
            ctx.signal.addEventListener('abort', () => (aborted.resolve(true), reject(new Error('x'))));
          }),
      },
    });
    const first = once(client.request('callBack'));
    await entered.promise;
    await client.close();
    expect(await aborted.promise).toBe(true);
    expect(await outcome.promise).toBeInstanceOf(ConnectionClosedError);
    expect((await first.outcome).error).toBeInstanceOf(ConnectionClosedError);
    expect(client.handlingCalls).toBe(0);
    await until(() => server!.connections.size === 0);
    expect(uncaught).toEqual([]);
  });

  for (const engine of ['light', 'xstate'] as const) {
    it(`a close listener that tells every other client who left meets only open peers in server.connections (${engine})`, async () => {
      server = await serve({ methods: {}, engine });
      const seen: Array<[boolean, string]> = [];
      server.on('connection', (peer) => {
        peer.on('close', () => {
          seen.push([server!.connections.has(peer), peer.state]);
          for (const other of server!.connections) other.notify('left');
        });
      });
      const leaving = connect(server.url, { engine });
      await leaving.ready;
      await until(() => server!.connections.size === 1, 'the first client');
      client = connect(server.url, { engine });
      const told = deferred();
      client.on('notification', ({ method }) => method === 'left' && told.resolve());
      await client.ready;
      await until(() => server!.connections.size === 2, 'the second client');
      await leaving.close();
      await orHang(told.promise, 'the other client to be told');
      expect(seen).toEqual([[false, 'closed']]);
      expect(server.connections.size).toBe(1);
      expect(uncaught).toEqual([]);
    });
  }
});

describe('timeouts and responses in the same turn', () => {
  it('a deadline passed from a notification listener just before the response: times out once, the response is late', async () => {
    const clock = new SimulatedClock();
    server = await serve({
      methods: {
        ping: (_p: unknown, ctx) => {
          ctx.peer.notify('tick', []);
          return 'pong';
        },
      },
    });
    client = connect(server.url, { heartbeat: 0, clock, timeout: 1_000 });
    await client.ready;
    const unmatched: string[] = [];
    client.on('unmatched', (e) => unmatched.push(e.reason));
    client.on('notification', () => clock.increment(1_000));
    const call = once(client.request('ping'));
    const { error } = await call.outcome;
    expect(error).toBeInstanceOf(TimeoutError);
    await until(() => unmatched.length === 1);
    expect(unmatched).toEqual(['late']);
    expect(call.count()).toBe(1);
    expect(client.pendingCalls).toBe(0);
  });
});

/** Timers the simulated clock still holds: everything a closed connection armed should be gone. */
const timersOf = (clock: SimulatedClock) => (clock as unknown as { timeouts: Map<number, unknown> }).timeouts.size;

describe('nothing left behind', () => {
  for (const engine of ['light', 'xstate'] as const) {
    it(`close() with calls in flight and queued, heartbeat on (${engine}): no timer, no pending entry`, async () => {
      const clock = new SimulatedClock();
      server = await serve({ methods: { hang: () => new Promise(() => {}) }, heartbeat: 0 });
      client = connect(server.url, { clock, heartbeat: 1_000, engine, maxInFlight: 1, timeout: 5_000 });
      await client.ready;
      const calls = [1, 2, 3].map(() => once(client!.request('hang')));
      const signal = new AbortController().signal;
      calls.push(once(client.request('hang', [], { signal, retry: true })));
      expect(client.queuedCalls).toBe(3);
      expect(timersOf(clock)).toBeGreaterThan(0);
      await client.close();
      for (const call of calls) expect((await call.outcome).error).toBeInstanceOf(ConnectionClosedError);
      expect([client.pendingCalls, client.queuedCalls, timersOf(clock)]).toEqual([0, 0, 0]);
      expect(uncaught).toEqual([]);
    });
  }

  it('close() while waiting to reconnect, with queued calls: no timer left, the backoff never fires', async () => {
    const clock = new SimulatedClock();
    server = await serve({ methods: {} });
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 1_000, timeout: 5_000 });
    await client.ready;
    await server.close();
    server = undefined;
    await until(() => client!.reconnecting, 'the loss');
    const call = once(client.request('echo', [1], { retry: true }));
    let attempts = 0;
    client.on('reconnecting', () => attempts++);
    await client.close();
    expect((await call.outcome).error.message).toMatch(/was closed locally$/);
    expect([client.pendingCalls, timersOf(clock)]).toEqual([0, 0]);
    clock.increment(60_000);
    expect([client.state, attempts, client.epoch]).toEqual(['closed', 0, 1]);
  });

  for (const engine of ['light', 'xstate'] as const) {
    it(`handlers that ignore their signal stop counting when the connection is lost, notifications' as requests' (${engine})`, async () => {
      const clock = new SimulatedClock();
      server = await serve({ methods: {}, heartbeat: 0, engine });
      const peers: Peer[] = [];
      server.on('connection', (peer) => peers.push(peer));
      let started = 0;
      const hang = () => (started++, new Promise(() => {}));
      client = connect(server.url, {
        reconnect: { initialDelay: 10, jitter: 0 },
        clock,
        heartbeat: 0,
        engine,
        handlerTimeout: 60_000,
        maxInFlightPerConnection: 1,
        methods: { hangNotified: hang, hangCalled: hang, ping: () => 'pong' },
      });
      await client.ready;
      await until(() => peers.length === 1, 'the connection');
      peers[0]!.notify('hangNotified');
      await until(() => started === 1, 'the notification handler to start');
      await peers[0]!.terminate();
      await until(() => timersOf(clock) > 0 && client!.reconnecting, 'the loss');
      clock.increment(10); // the reconnect backoff
      await until(() => peers.length === 2 && client!.state === 'open', 'the reconnection');
      expect([client.handlingCalls, timersOf(clock)]).toEqual([0, 0]);
      // The new connection's one call in flight is free: the lost connection's handler no longer counts.
      expect(await peers[1]!.request('ping')).toBe('pong');

      const called = settle(peers[1]!.request('hangCalled'));
      await until(() => started === 2, 'the request handler to start');
      await client.close();
      expect((await called).error).toBeInstanceOf(ConnectionClosedError);
      expect([client.handlingCalls, timersOf(clock)]).toEqual([0, 0]);
      expect(uncaught).toEqual([]);
    });
  }

  it('a server whose client leaves mid-call keeps no timer: handler deadline, its call back to the client, heartbeat', async () => {
    const clock = new SimulatedClock();
    const back = deferred<unknown>();
    const entered = deferred();
    server = await serve({
      clock,
      heartbeat: 1_000,
      handlerTimeout: 10_000,
      methods: {
        callBack: async (_p: unknown, ctx) => {
          entered.resolve();
          back.resolve((await settle(ctx.peer.request('never', [], { timeout: 10_000 }))).error);
          return 'x';
        },
      },
    });
    client = connect(server.url, { heartbeat: 0, methods: { never: () => new Promise(() => {}) } });
    const call = once(client.request('callBack'));
    await entered.promise;
    await until(() => client!.handlingCalls === 1, 'the call back to reach the client');
    await client.close();
    expect((await call.outcome).error).toBeInstanceOf(ConnectionClosedError);
    expect(await back.promise).toBeInstanceOf(ConnectionClosedError);
    await until(() => server!.connections.size === 0, 'the server to see the close');
    await until(() => timersOf(clock) === 0, 'the server to clear its timers');
    expect(uncaught).toEqual([]);
  });
});

describe('the server restarts on the same port', () => {
  it('draining, then gone, then back: calls refused while it drains, written ones fail or (retry) go again, queued ones go out', async () => {
    const clock = new SimulatedClock();
    const release = deferred<string>();
    const seenBySecond: unknown[] = [];
    let entered = 0;
    const serverClock = new SimulatedClock();
    server = await serve({
      clock: serverClock,
      methods: { slow: () => (entered++, release.promise), hang: () => (entered++, new Promise(() => {})) },
    });
    const { port } = server;
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0, timeout: 60_000 });
    await client.ready;
    const slow = once(client.request('slow', []));
    const plain = once(client.request('hang', ['plain']));
    const retried = once(client.request('hang', ['retried'], { retry: true }));
    await until(() => entered === 3, 'the three calls to reach the first server');

    const draining = server.close({ drain: 60_000 });
    const refused = once(client.request('slow', [], { retry: true }));
    expect((await refused.outcome).error.message).toMatch(/^server closing: no new calls are accepted/);
    release.resolve('answered while draining');
    expect((await slow.outcome).value).toBe('answered while draining');
    serverClock.increment(60_000); // the drain window ends: the first server closes its connections (1001)
    await draining;
    await until(() => client!.reconnecting, 'the client to lose the first server');
    expect((await plain.outcome).error.message).toMatch(/was lost after the call was written \(code 1001, reason "server closing"\)/);

    const queued = once(client.request('echo', ['queued']));
    server = await serve({
      port,
      methods: { hang: (p: unknown) => (seenBySecond.push(p), p), echo: (p: unknown) => (seenBySecond.push(p), p) },
    });
    clock.increment(100);
    expect((await retried.outcome).value).toEqual(['retried']);
    expect((await queued.outcome).value).toEqual(['queued']);
    expect(seenBySecond).toEqual([['retried'], ['queued']]);
    for (const call of [slow, plain, retried, refused, queued]) expect(call.count()).toBe(1);
    expect([client.pendingCalls, client.queuedCalls, client.epoch]).toEqual([0, 0, 2]);
    expect(uncaught).toEqual([]);
  });
});

describe('events in lifecycle order', () => {
  it("a handler's abort listener that closes the connection as it is lost: 'close' is the last event, no 'reconnecting' after it", async () => {
    const clock = new SimulatedClock();
    const entered = deferred();
    server = await serve({
      methods: {
        go: (_p: unknown, ctx) => {
          void settle(ctx.peer.request('hang'));
          return 'going';
        },
      },
    });
    client = connect(server.url, {
      clock,
      heartbeat: 0,
      reconnect: POLICY,
      methods: {
        hang: (_p: unknown, ctx) =>
          new Promise(() => {
            entered.resolve();
            // The loss aborts this handler: it closes the connection then and there.
            ctx.signal.addEventListener('abort', () => void ctx.peer.close());
          }),
      },
    });
    const events: string[] = [];
    client.on('close', () => events.push('close'));
    client.on('reconnecting', () => events.push('reconnecting'));
    expect(await client.request('go')).toBe('going');
    await entered.promise;
    for (const peer of server.connections) void peer.terminate();
    await client.closed;
    clock.increment(10_000);
    expect(events).toEqual(['close']);
    expect([client.state, client.epoch, client.handlingCalls]).toEqual(['closed', 1, 0]);
    expect(uncaught).toEqual([]);
  });
});
