/**
 * The calling side of a WebSocket client against races and hostile peers:
 * every call settles once, with a clear error, and never waits on something
 * that will not come.
 */
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { AbortError, ConnectionClosedError, connect, type Client } from '../../src/index.js';
import { echoServer as startEchoServer, type EchoServer } from '../echo-server.js';
import { collectUncaught, settle, until } from '../helpers.js';
import { rawServer } from '../raw-websocket.js';

const uncaught = collectUncaught();

let client: Client | undefined;
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await client?.close();
  client = undefined;
  for (const server of servers.splice(0)) await server.close();
});

/** The echo server (test/echo-server.ts), closed after the test. */
async function echoServer(): Promise<EchoServer> {
  const server = await startEchoServer();
  servers.push(server);
  return server;
}

/** Resolves with what `promise` settles with, or with 'hung' if it has not settled after `ms` of real time (only to detect a hang). */
function orHang<T>(promise: Promise<T>, ms = 5_000): Promise<{ value?: T; error?: any } | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), ms)));
  return Promise.race([settle(promise), hung]).finally(() => clearTimeout(timer));
}

describe('a socket buffer filled by what is not a call', () => {
  it('a call queued behind a full buffer goes out once the buffer drains, though no call of its own was being written', async () => {
    const reader = await echoServer();
    const HIGH_WATER = 64 * 1024;
    // Calls are timed by a clock that never moves: only the drain can let this call out.
    client = connect(reader.url, { highWaterMark: HIGH_WATER, heartbeat: 0, clock: new SimulatedClock() });
    await client.ready;
    await until(reader.connected, 'the server to accept');
    reader.pause();
    // Notifications (no write callback of the send queue's) fill the socket past the mark.
    const pad = 'x'.repeat(16 * 1024);
    for (let n = 0; client.bufferedAmount < HIGH_WATER; n++) {
      client.notify('log', { n, pad });
      if (n % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
    }
    const call = client.request('echo', { n: 1 });
    expect(client.queuedCalls).toBe(1);
    reader.resume();
    await until(() => client!.bufferedAmount === 0, 'the buffer to drain');
    expect(await orHang(call)).toEqual({ value: { n: 1 } });
  });
});

/** An AbortSignal whose `reason` getter throws, as a hostile or broken signal's may. */
function signalWithThrowingReason(): { controller: AbortController; signal: AbortSignal } {
  const controller = new AbortController();
  Object.defineProperty(controller.signal, 'reason', {
    get() {
      throw new Error('the reason cannot be read');
    },
  });
  return { controller, signal: controller.signal };
}

describe('a signal whose reason cannot be read', () => {
  it('aborting it still cancels the call at once, with AbortError, and nothing escapes', async () => {
    const reader = await echoServer();
    client = connect(reader.url, { heartbeat: 0, clock: new SimulatedClock() });
    await client.ready;
    const { controller, signal } = signalWithThrowingReason();
    const call = client.request('hang', { n: 1 }, { signal });
    controller.abort();
    const outcome = await orHang(call);
    expect(outcome).not.toBe('hung');
    expect((outcome as { error?: unknown }).error).toBeInstanceOf(AbortError);
    expect(client.pendingCalls).toBe(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(uncaught).toEqual([]);
  });

  it('already aborted: request() rejects with AbortError instead of throwing', async () => {
    const reader = await echoServer();
    client = connect(reader.url, { heartbeat: 0 });
    await client.ready;
    const { controller, signal } = signalWithThrowingReason();
    controller.abort();
    let call: Promise<unknown> | undefined;
    expect(() => (call = client!.request('echo', { n: 1 }, { signal }))).not.toThrow();
    expect((await settle(call!)).error).toBeInstanceOf(AbortError);
  });
});

describe('an object that looks like an AbortSignal but cannot be unsubscribed from', () => {
  it('is refused with a TypeError when the call is made, not left to hang the call once answered', async () => {
    const reader = await echoServer();
    client = connect(reader.url, { heartbeat: 0 });
    await client.ready;
    // `aborted` and `addEventListener`, but no `removeEventListener`: settling the call must unsubscribe.
    const signal = { aborted: false, addEventListener() {} } as unknown as AbortSignal;
    let call: Promise<unknown> | undefined;
    expect(() => (call = client!.request('echo', { n: 1 }, { signal }))).toThrow(TypeError);
    if (call) expect(await orHang(call)).not.toBe('hung');
    expect(client.pendingCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });
});

describe('one AbortSignal shared by many calls', () => {
  it('raises no listener-leak warning, cancels every call when aborted, and is left with no listener', async () => {
    const reader = await echoServer();
    client = connect(reader.url, { heartbeat: 0, clock: new SimulatedClock() });
    await client.ready;
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const controller = new AbortController();
      const { signal } = controller;
      // Some answered (the signal outlives them), the rest still pending when it aborts.
      const answered = Array.from({ length: 20 }, (_, n) => client!.request('echo', { n }, { signal }));
      const pending = Array.from({ length: 30 }, (_, n) => settle(client!.request('hang', { n }, { signal })));
      expect(await Promise.all(answered)).toEqual(Array.from({ length: 20 }, (_, n) => ({ n })));
      controller.abort();
      const outcomes = await Promise.all(pending);
      expect(outcomes.every((outcome) => outcome.error?.name === 'AbortError')).toBe(true);
      expect(client.pendingCalls).toBe(0);
      expect(getEventListeners(signal, 'abort')).toHaveLength(0);
      // Node reports a listener leak on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.map((warning) => warning.name)).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('an inspector that throws', () => {
  it.each(['light', 'xstate'] as const)(
    '(engine %s) breaks no call and no close: the call settles with its answer, close() resolves',
    async (engine) => {
      const reader = await echoServer();
      const broken = new Error('the inspector broke');
      let throwing = false;
      client = connect(reader.url, {
        heartbeat: 0,
        engine,
        inspect: () => {
          if (throwing) throw broken;
        },
      });
      await client.ready;
      throwing = true;
      const answered = await orHang(client.request('echo', { n: 1 }));
      const closing = await orHang(client.close());
      throwing = false;
      expect(answered).toEqual({ value: { n: 1 } });
      expect(closing).not.toBe('hung');
      expect(client.pendingCalls).toBe(0);
      // The inspector's own errors are surfaced (as a throwing listener's are), and nothing else.
      await new Promise((resolve) => setImmediate(resolve));
      expect(uncaught.every((error) => error === broken)).toBe(true);
      uncaught.length = 0;
    },
  );
});

describe("params whose toJSON closes the client (the caller's code, run inside request())", () => {
  it('while waiting to reconnect: the call fails with ConnectionClosedError instead of waiting forever in the line of a closed connection', async () => {
    const reader = await echoServer();
    // Calls and the reconnect backoff are timed by a clock that never moves: only the close can settle this call.
    client = connect(reader.url, { heartbeat: 0, clock: new SimulatedClock(), reconnect: { initialDelay: 100, maxDelay: 100, jitter: 0 } });
    await client.ready;
    await reader.close();
    await until(() => client!.reconnecting, 'the client to lose the connection');
    const closing: Array<Promise<void>> = [];
    const params = {
      toJSON: () => {
        closing.push(client!.close());
        return { n: 1 };
      },
    };
    const outcome = await orHang(client.request('echo', params));
    expect(outcome).not.toBe('hung');
    expect((outcome as { error?: Error }).error?.name).toBe('ConnectionClosedError');
    await Promise.all(closing);
    expect([client.state, client.pendingCalls, client.queuedCalls]).toEqual(['closed', 0, 0]);
  });
});

describe('a server that sends its close frame and then keeps its TCP connection open', () => {
  it("is dropped after the client's closeTimeout, not ws's 30 s: its pending call fails and the client closes", async () => {
    const raw = await rawServer();
    servers.push(raw);
    client = connect(raw.url, { heartbeat: 0, closeTimeout: 100, timeout: 60_000 });
    await client.ready;
    const socket = await raw.accepted;
    socket.on('data', () => {});
    const call = settle(client.request('hang'));
    // An unmasked close frame, code 1000: the client answers it, and the server never ends the TCP connection.
    socket.write(Buffer.from([0x88, 2, 0x03, 0xe8]));
    // A hang detector (until gives up after 10 s; ws alone would wait 30 s), not a timing assertion.
    await until(() => client!.state === 'closed', 'the client to close');
    expect((await call).error).toBeInstanceOf(ConnectionClosedError);
    expect(uncaught).toEqual([]);
  });
});

describe('notifications made while connecting to a server that cannot be reached', () => {
  it("are told to onError (kind 'unsent') when the connection fails, not dropped without a word", async () => {
    const gone = await rawServer();
    const { url } = gone;
    await gone.close();
    const told: Array<{ error: unknown; method: string | undefined; kind: string }> = [];
    client = connect(url, { onError: (error, { method, kind }) => told.push({ error, method, kind }) });
    client.notify('first', [1]);
    client.notify('second', [2]);
    await settle(client.ready);
    await until(() => told.length === 2, 'both notifications told');
    expect(told.map(({ method, kind }) => [method, kind])).toEqual([
      ['first', 'unsent'],
      ['second', 'unsent'],
    ]);
    expect(told[0]!.error).toBeInstanceOf(ConnectionClosedError);
    expect((told[0]!.error as Error).message).toBe(
      `notification "first" was not sent: the connection to ${url} closed while it waited in line`,
    );
    expect(uncaught).toEqual([]);
  });
});

describe('a server that pings faster than it reads the pongs', () => {
  it("is dropped as ws drops it (60 pongs unsent), and the calls' error and the close event say why, not a bare 1006", async () => {
    const raw = await rawServer();
    servers.push(raw);
    client = connect(raw.url, { heartbeat: 0, timeout: 60_000 });
    const closed = new Promise<{ code: number | undefined; error?: unknown }>((resolve) => client!.once('close', resolve));
    await client.ready;
    const socket = await raw.accepted;
    socket.on('error', () => {}); // the client drops the socket while pings are still being written
    const call = settle(client.request('hang'));
    // Unmasked ping frames of 125 bytes, a thousand a write; the server reads nothing back.
    const ping = Buffer.alloc(127);
    ping[0] = 0x89;
    ping[1] = 125;
    const burst = Buffer.concat(Array.from({ length: 1_000 }, () => ping));
    for (let i = 0; i < 100 && client.state === 'open'; i++) {
      socket.write(burst);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const why = 'the server sent a ping while 60 pongs to its earlier pings were still unsent (it pings faster than it reads the pongs)';
    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect([error.closeCode, error.message]).toEqual([
      1006,
      `the connection to ${raw.url} closed before the call settled (code 1006): dropped: ${why}`,
    ]);
    const close = await closed;
    expect([close.code, (close.error as Error | undefined)?.message]).toEqual([1006, `dropped: ${why}`]);
    expect(uncaught).toEqual([]);
  });

  it('a server that pings and reads the pongs is answered, each ping with its own payload', async () => {
    const raw = await rawServer();
    servers.push(raw);
    client = connect(raw.url, { heartbeat: 0 });
    await client.ready;
    const socket = await raw.accepted;
    const pongs: string[] = [];
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      // Masked client frames of at most 125 bytes: 2 bytes of header, 4 of mask, the payload.
      while (data.length >= 6 && data.length >= 6 + (data[1]! & 0x7f)) {
        const length = data[1]! & 0x7f;
        const payload = Buffer.from(data.subarray(6, 6 + length));
        for (let i = 0; i < length; i++) payload[i]! ^= data[2 + (i % 4)]!;
        if ((data[0]! & 0x0f) === 0xa) pongs.push(payload.toString());
        data = data.subarray(6 + length);
      }
    });
    for (let i = 0; i < 200; i++) {
      const payload = Buffer.from(`p${i}`);
      socket.write(Buffer.concat([Buffer.from([0x89, payload.length]), payload]));
      if (i % 20 === 19) await until(() => pongs.length === i + 1, 'the pongs');
    }
    expect(pongs).toEqual(Array.from({ length: 200 }, (_, i) => `p${i}`));
    expect(client.state).toBe('open');
  });
});
