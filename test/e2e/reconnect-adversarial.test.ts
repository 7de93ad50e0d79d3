/**
 * Reconnecting against hostile or unlucky servers, over real sockets: a retry call the server closes every connection
 * for, a server that accepts and closes at once, one that never answers, one that restarts mid-call, and close()
 * or an abort in each phase of a reconnect. Backoff delays run on a SimulatedClock; nothing here asserts timing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, ConnectionClosedError, serve, type Client, type ReconnectingEvent, type Server } from '../../src/index.js';
import { closeAfterEach, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
closeAfterEach(() => [client, server]);
afterEach(() => {
  [client, server] = [undefined, undefined];
});

const POLICY = { initialDelay: 100, maxDelay: 400, jitter: 0, minUptime: 0 };

describe('reconnect against hostile servers', () => {
  it('a retry call whose frame the server closes each connection for (1009) is re-sent at most twice, then fails saying so', async () => {
    const clock = new SimulatedClock();
    const seen: number[] = [];
    server = await serve({ maxPayload: 1_024, methods: { echo: (p: { n: number }) => (seen.push(p.n), p) } });
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0, timeout: 60_000 });
    const reconnecting: ReconnectingEvent[] = [];
    client.on('reconnecting', (event) => reconnecting.push(event));
    await client.ready;
    const poison = settle(client.request('echo', { n: 0, big: 'x'.repeat(2_000) }, { retry: true }));
    await until(() => reconnecting.length === 1, 'the first loss');
    expect(reconnecting[0]!.code).toBe(1009);
    // Re-sent first on each new connection, which the server closes for it again.
    for (let loss = 1; loss <= 2; loss++) {
      clock.increment(reconnecting.at(-1)!.delay);
      await until(() => reconnecting.length === loss + 1, `loss ${loss + 1}`);
    }
    await until(() => client!.pendingCalls === 0, 'the retry call to fail with its third connection');
    const { error } = await poison;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1009);
    expect(error.message).toMatch(
      /^the connection to ws:\/\/127\.0\.0\.1:\d+ was lost after the call was written \(code 1009\); this retry call was written 3 times, each time on a connection then lost, and is not sent again \(retry: at most 2 re-sends\)$/,
    );
    // The next connection carries other calls again.
    clock.increment(reconnecting.at(-1)!.delay);
    expect(await client.request('echo', { n: 1 })).toEqual({ n: 1 });
    expect(seen).toEqual([1]);
    expect(reconnecting).toHaveLength(3);
  });

  it('retry: n sets how many times a call is re-sent after a lost connection; retry: 0 is retry: false', async () => {
    const clock = new SimulatedClock();
    server = await serve({ maxPayload: 1_024, methods: { echo: (p: unknown) => p } });
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0, timeout: 60_000 });
    let losses = 0;
    client.on('reconnecting', ({ delay }) => (losses++, clock.increment(delay)));
    await client.ready;
    const once = await settle(client.request('echo', { big: 'x'.repeat(2_000) }, { retry: 1 }));
    expect(once.error).toBeInstanceOf(ConnectionClosedError);
    expect(once.error.message).toMatch(
      /\(code 1009\); this retry call was written 2 times, each time on a connection then lost, and is not sent again \(retry: at most 1 re-send\)$/,
    );
    expect(losses).toBe(2);
    await until(() => client!.state === 'open', 'the reconnect');
    const never = await settle(client.request('echo', { big: 'x'.repeat(2_000) }, { retry: 0 }));
    expect(never.error.message).toMatch(/a call is re-sent only with \{ retry: true \}$/);
    expect(losses).toBe(3);
    expect(() => client!.request('echo', {}, { retry: -1 })).toThrow(RangeError);
    expect(() => client!.request('echo', {}, { retry: 1.5 })).toThrow(
      /options\.retry must be a boolean or a whole number of re-sends from 0 to 100, got number 1\.5$/,
    );
    expect(() => client!.request('echo', {}, { retry: 'yes' as never })).toThrow(TypeError);
  });
});

describe('reconnect backoff against a crowd', () => {
  it('refuses an initialDelay under 10 ms (0 doubled is 0: a tight loop) with a RangeError saying why', () => {
    for (const initialDelay of [0, 9]) {
      expect(() => connect('ws://127.0.0.1:1', { reconnect: { initialDelay } })).toThrow(
        new RangeError(
          `options.reconnect.initialDelay must be at least 10 ms, got ${initialDelay}: a shorter one reconnects in a tight loop to a server that drops each connection`,
        ),
      );
    }
    expect(() => connect('ws://127.0.0.1:1', { reconnect: { initialDelay: 10, maxDelay: 0 } })).toThrow(/maxDelay \(0\) must be at least/);
  });

  it('clients dropped together by a server restart draw different delays (jitter 0.5 by default)', async () => {
    const clock = new SimulatedClock();
    server = await serve({ methods: {} });
    const clients = Array.from({ length: 8 }, () => connect(server!.url, { reconnect: true, clock, heartbeat: 0 }));
    const delays: number[] = [];
    try {
      await Promise.all(clients.map((c) => c.ready));
      for (const c of clients) c.on('reconnecting', ({ delay }) => delays.push(delay));
      await server.close();
      server = undefined;
      await until(() => delays.length === clients.length, 'every client to plan its reconnect');
      expect(new Set(delays).size).toBeGreaterThan(1);
      // 500 ms less a random part of up to half of it.
      expect(delays.every((delay) => delay >= 250 && delay <= 500)).toBe(true);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
  });
});
