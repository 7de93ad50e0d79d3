/**
 * Reconnecting over real sockets, in one process: the server drops the
 * connection (or goes away and comes back on the same port) and the client
 * with `reconnect` opens a new one. Backoff delays run on a SimulatedClock
 * where the test steps through them; real faults come from the server side.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, ConnectionClosedError, serve, TimeoutError, type Client, type ReconnectingEvent, type Server } from '../../src/index.js';
import { closeAfterEach, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
closeAfterEach(() => [client, server]);
afterEach(() => {
  [client, server] = [undefined, undefined];
});

const POLICY = { initialDelay: 100, maxDelay: 400, jitter: 0 };

/** Drops every socket the server holds, without a close frame. */
function dropAll(s: Server): void {
  for (const peer of s.connections) void peer.terminate();
}

describe('reconnect', () => {
  it('is off by default: a dropped connection closes and fails its calls', async () => {
    server = await serve({ methods: { hang: () => new Promise(() => {}) } });
    client = connect(server.url, { heartbeat: 0 });
    await client.ready;
    const call = settle(client.request('hang'));
    await until(() => server!.connections.size === 1 && client!.pendingCalls === 1);
    dropAll(server);
    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    await client.closed;
    expect(client.state).toBe('closed');
  });

  it('reconnects after the server drops the socket: each drop is a new epoch, and `open` fires each time', async () => {
    // Each connection stays open minUptime (5 s by default) before the next drop: each loss starts the backoff over.
    let handled = 0;
    server = await serve({ methods: { echo: (p: unknown) => (handled++, p) } });
    const clock = new SimulatedClock();
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0 });
    const events: string[] = [];
    client.on('open', () => events.push(`open ${client!.epoch}`));
    client.on('reconnecting', ({ attempt, delay }) => events.push(`reconnecting ${attempt} in ${delay}`));
    await client.ready;

    for (let drop = 1; drop <= 3; drop++) {
      dropAll(server);
      await until(() => client!.reconnecting, 'the client to notice the drop');
      clock.increment(100);
      await until(() => client!.state === 'open', 'the client to reopen');
      expect(await client.request('echo', { drop })).toEqual({ drop });
      clock.increment(5_000);
    }
    expect(events).toEqual([
      'open 1',
      'reconnecting 1 in 100',
      'open 2',
      'reconnecting 1 in 100',
      'open 3',
      'reconnecting 1 in 100',
      'open 4',
    ]);
    expect(handled).toBe(3);
  });

  it('backs off exponentially while the server is away, and calls made meanwhile wait, then go out', async () => {
    const clock = new SimulatedClock();
    server = await serve({ methods: { echo: (p: unknown) => p } });
    const { port } = server;
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0 });
    const reconnecting: ReconnectingEvent[] = [];
    client.on('reconnecting', (event) => reconnecting.push(event));
    await client.ready;

    await server.close();
    server = undefined;
    await until(() => reconnecting.length === 1, 'the loss');
    const waiting = [1, 2, 3].map((n) => client!.request('echo', { n }));
    expect(client.queuedCalls).toBe(3);
    // Each attempt is refused: the delays double up to maxDelay.
    for (const delay of [100, 200, 400]) {
      expect(reconnecting.at(-1)!.delay).toBe(delay);
      const before = reconnecting.length;
      clock.increment(delay);
      await until(() => reconnecting.length === before + 1, 'the attempt to fail');
    }
    expect(reconnecting.map((e) => [e.attempt, e.delay])).toEqual([
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 400],
    ]);
    expect(reconnecting.at(-1)!.error).toBeInstanceOf(Error);

    server = await serve({ port, methods: { echo: (p: unknown) => p } });
    clock.increment(400);
    expect(await Promise.all(waiting)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(client.epoch).toBe(2);
  });

  it.each(['light', 'xstate'] as const)(
    '(engine %s) counts a connection lost within minUptime as a failed attempt: a server that drops every connection at once gets growing delays, then a client that gives up',
    async (engine) => {
      server = await serve({ methods: {} });
      server.on('connection', (peer) => void peer.terminate());
      const clock = new SimulatedClock();
      client = connect(server.url, { reconnect: { ...POLICY, maxAttempts: 3 }, clock, heartbeat: 0, engine });
      const events: string[] = [];
      client.on('open', () => events.push(`open ${client!.epoch}`));
      client.on('reconnecting', ({ attempt, delay, uptime }) => events.push(`reconnecting ${attempt} in ${delay} after ${uptime} ms open`));
      await client.ready;
      for (const [attempt, delay] of [
        [1, 100],
        [2, 200],
        [3, 400],
      ] as const) {
        // Each connection was lost as it opened (the clock had not moved): 0 ms open.
        await until(() => events.includes(`reconnecting ${attempt} in ${delay} after 0 ms open`), `attempt ${attempt} announced`);
        clock.increment(delay);
      }
      await client.closed;
      expect(events).toEqual([
        'open 1',
        'reconnecting 1 in 100 after 0 ms open',
        'open 2',
        'reconnecting 2 in 200 after 0 ms open',
        'open 3',
        'reconnecting 3 in 400 after 0 ms open',
        'open 4',
      ]);
      expect(client.state).toBe('closed');
    },
  );

  it('gives up after maxAttempts: ready rejects and queued calls fail, saying so', async () => {
    const probe = await serve({ methods: {} });
    const url = probe.url;
    await probe.close();
    const clock = new SimulatedClock();
    client = connect(url, { reconnect: { ...POLICY, maxAttempts: 2 }, clock, heartbeat: 0, timeout: 60_000 });
    const call = settle(client.request('echo', {}));
    let attempts = 0;
    const uptimes: unknown[] = [];
    client.on('reconnecting', ({ uptime }) => (attempts++, uptimes.push(uptime)));
    await until(() => attempts === 1, 'the first failure');
    clock.increment(100);
    await until(() => attempts === 2, 'the second failure');
    clock.increment(200);
    const [ready, { error }] = await Promise.all([settle(client.ready), call]);
    expect(ready.error).toBeInstanceOf(ConnectionClosedError);
    expect(ready.error.message).toMatch(
      /^could not connect to ws:\/\/127\.0\.0\.1:\d+ \(code 1006\): .*; gave up after 2 attempts to reconnect \(maxAttempts\)$/,
    );
    expect(error).toBe(ready.error);
    expect(client.state).toBe('closed');
    // No attempt ever opened.
    expect(uptimes).toEqual([undefined, undefined]);
  });

  it('close() while waiting to reconnect closes at once and fails what waits', async () => {
    const clock = new SimulatedClock();
    server = await serve({ methods: {} });
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0 });
    await client.ready;
    await server.close();
    server = undefined;
    await until(() => client!.reconnecting, 'the loss');
    const call = settle(client.request('echo', {}));
    await client.close();
    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/was closed locally$/);
    expect(client.state).toBe('closed');
    expect(client.pendingCalls).toBe(0);
  });

  it('a call waiting through an outage still times out at its own deadline, and is never sent', async () => {
    const clock = new SimulatedClock();
    let handled = 0;
    server = await serve({ methods: { echo: (p: unknown) => (handled++, p) } });
    const { port } = server;
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0 });
    await client.ready;
    await server.close();
    await until(() => client!.reconnecting, 'the loss');
    const plain = settle(client.request('echo', { n: 1 }, { timeout: 50 }));
    clock.increment(50);
    const { error } = await plain;
    expect(error).toBeInstanceOf(TimeoutError);
    server = await serve({ port, methods: { echo: (p: unknown) => (handled++, p) } });
    clock.increment(100);
    await until(() => client!.state === 'open', 'the reconnect');
    expect(await client.request('echo', { n: 2 })).toEqual({ n: 2 });
    expect(handled).toBe(1);
  });

  it('a retry call lost with its connection is re-sent within its deadline, or times out', async () => {
    const clock = new SimulatedClock();
    const seen: string[] = [];
    let answer = false;
    server = await serve({ methods: { get: (p: { key: string }) => (seen.push(p.key), answer ? p.key : new Promise(() => {})) } });
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0 });
    await client.ready;
    const kept = client.request('get', { key: 'kept' }, { retry: true, timeout: 1_000 });
    const expiring = settle(client.request('get', { key: 'expiring' }, { retry: true, timeout: 150 }));
    await until(() => seen.length === 2, 'both calls to arrive');
    answer = true;
    dropAll(server);
    await until(() => client!.reconnecting, 'the loss');
    expect(client.queuedCalls).toBe(2);
    clock.increment(100);
    await until(() => client!.state === 'open', 'the reconnect');
    expect(await kept).toBe('kept');
    // Re-sent together on the new connection; 'expiring' answered too, within 150 ms of simulated time.
    expect((await expiring).value).toBe('expiring');
    expect(seen).toEqual(['kept', 'expiring', 'kept', 'expiring']);

    const late = settle(client.request('get', { key: 'late' }, { retry: true, timeout: 150 }));
    answer = false;
    await until(() => seen.length === 5, 'the call to arrive');
    dropAll(server);
    await until(() => client!.reconnecting, 'the second loss');
    clock.increment(150);
    expect((await late).error).toBeInstanceOf(TimeoutError);
    clock.increment(100);
    await until(() => client!.state === 'open', 'the second reconnect');
    answer = true;
    expect(await client.request('get', { key: 'after' })).toBe('after');
    // The expired call was not re-sent on the new connection.
    expect(seen.slice(4)).toEqual(['late', 'after']);
  });

  it('rejects bad reconnect options and reconnect on nats:// synchronously', () => {
    expect(() => connect('ws://127.0.0.1:1', { reconnect: { initialDelay: -1 } })).toThrow(RangeError);
    expect(() => connect('ws://127.0.0.1:1', { reconnect: { jitter: 2 } })).toThrow(
      /options\.reconnect\.jitter must be a number from 0 to 1/,
    );
    expect(() => connect('ws://127.0.0.1:1', { reconnect: { initialDelay: 500, maxDelay: 100 } })).toThrow(
      /maxDelay \(100\) must be at least/,
    );
    expect(() => connect('ws://127.0.0.1:1', { reconnect: { minUptime: -1 } })).toThrow(RangeError);
    expect(() => connect('ws://127.0.0.1:1', { reconnect: { delay: 1 } as never })).toThrow(/options\.reconnect\.delay is not an option/);
    expect(() => connect('ws://127.0.0.1:1', { reconnect: 'yes' as never })).toThrow(TypeError);
    expect(() => connect('nats://127.0.0.1:4222', { subject: 'x', reconnect: true })).toThrow(/applies to WebSocket URLs only/);
  });
});
