/**
 * Backpressure over real sockets: `maxInFlight` holds calls in `queued` and
 * lets them out in order as answers free room; `maxQueued` bounds what may
 * wait, and one more call rejects with QueueFullError at once; a peer that
 * stops reading (a slow reader) fills the socket's buffer up to
 * `highWaterMark`, after which calls wait instead of piling bytes into the
 * socket, and everything admitted completes once it reads again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, QueueFullError, serve, type Client, type Server } from '../../src/index.js';
import { echoServer } from '../echo-server.js';
import { closeAfterEach, deferred, settle, until, type Deferred } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
closeAfterEach(() => [client, server]);
afterEach(() => {
  [client, server] = [undefined, undefined];
});

describe('maxInFlight and maxQueued', () => {
  it('holds calls beyond maxInFlight in queued and sends them in order as answers come', async () => {
    const started: number[] = [];
    const gates: Deferred<number>[] = [];
    server = await serve({
      methods: {
        work: ([n]: [number]) => {
          started.push(n);
          const gate = deferred<number>();
          gates[n] = gate;
          return gate.promise;
        },
      },
    });
    client = connect(server.url, { maxInFlight: 2 });
    await client.ready;
    const calls = [0, 1, 2, 3, 4].map((n) => client!.request('work', [n]));
    expect([client.pendingCalls, client.queuedCalls]).toEqual([5, 3]);
    await until(() => started.length === 2, 'two calls to start');
    // Release out of order: the freed room goes to the next call in line, never past the limit.
    gates[1]!.resolve(1);
    await until(() => started.length === 3, 'the third call');
    expect(started).toEqual([0, 1, 2]);
    gates[0]!.resolve(0);
    gates[2]!.resolve(2);
    await until(() => started.length === 5, 'the rest');
    gates[3]!.resolve(3);
    gates[4]!.resolve(4);
    expect(await Promise.all(calls)).toEqual([0, 1, 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect([client.pendingCalls, client.queuedCalls]).toEqual([0, 0]);
  });

  it('rejects one call more than maxQueued with QueueFullError, at once, and sends nothing for it', async () => {
    let handled = 0;
    const gate = deferred();
    server = await serve({ methods: { work: async () => (handled++, await gate.promise, 'done') } });
    client = connect(server.url, { maxInFlight: 1, maxQueued: 2 });
    await client.ready;
    const admitted = [client.request('work'), client.request('work'), client.request('work')];
    const { error } = await settle(client.request('work'));
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error.code).toBe('ERR_QUEUE_FULL');
    expect(error.maxQueued).toBe(2);
    expect(error.message).toMatch(
      /^call "work" was not sent: 2 calls and notifications already wait on the connection to ws:\/\/127\.0\.0\.1:\d+ \(maxQueued 2\), because 1 call is in flight \(maxInFlight\)$/,
    );
    expect(() => client!.notify('log', {})).toThrow(QueueFullError);
    gate.resolve();
    expect(await Promise.all(admitted)).toEqual(['done', 'done', 'done']);
    expect(handled).toBe(3);
  });

  it('bounds the bytes waiting in queued by maxBufferedAmount: a call that would pass it rejects with QueueFullError', async () => {
    let handled = 0;
    const gate = deferred();
    server = await serve({ methods: { work: async () => (handled++, await gate.promise, 'done') } });
    client = connect(server.url, { maxInFlight: 1, highWaterMark: 100, maxBufferedAmount: 1000 });
    await client.ready;
    const admitted = [client.request('work', ['x'.repeat(600)]), client.request('work', ['x'.repeat(600)])];
    const { error } = await settle(client.request('work', ['x'.repeat(600)]));
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error.message).toMatch(
      /^call "work" was not sent: 1 call or notification already waits on the connection to ws:\/\/127\.0\.0\.1:\d+ \(\d+ characters; \d+ characters more would pass maxBufferedAmount 1000\), because 1 call is in flight \(maxInFlight\)$/,
    );
    expect(() => client!.notify('log', ['x'.repeat(600)])).toThrow(QueueFullError);
    // Small ones still fit.
    const small = client.request('work', [1]);
    gate.resolve();
    expect(await Promise.all([...admitted, small])).toEqual(['done', 'done', 'done']);
    expect(handled).toBe(3);
  });

  it('a queued call that times out or is aborted leaves the line, and the others keep their order', async () => {
    const started: string[] = [];
    const gate = deferred();
    server = await serve({ methods: { work: async ([tag]: [string]) => (started.push(tag), await gate.promise, tag) } });
    client = connect(server.url, { maxInFlight: 1 });
    await client.ready;
    const controller = new AbortController();
    const first = client.request('work', ['first']);
    const aborted = settle(client.request('work', ['aborted'], { signal: controller.signal }));
    const last = client.request('work', ['last']);
    controller.abort(new Error('changed my mind'));
    expect((await aborted).error.message).toBe('changed my mind');
    expect(client.queuedCalls).toBe(1);
    gate.resolve();
    expect([await first, await last]).toEqual(['first', 'last']);
    expect(started).toEqual(['first', 'last']);
  });

  it('notifications made while calls wait keep their place among them, on the wire', async () => {
    const peer = await echoServer();
    client = connect(peer.url, { maxInFlight: 1 });
    try {
      await client.ready;
      const calls = [client.request('work', { tag: 'call 1' }), client.request('work', { tag: 'call 2' })];
      client.notify('log', { tag: 'note after call 2' });
      expect(client.queuedCalls).toBe(1);
      await Promise.all(calls);
      await until(() => peer.frames.length === 3, 'the notification');
      expect(peer.frames).toEqual(['work call 1', 'work call 2', 'log note after call 2']);
    } finally {
      await client.close();
      await peer.close();
    }
  });
});

describe('a slow reader', () => {
  it('fills the socket only up to highWaterMark, queues the rest within maxQueued, and loses nothing when it reads again', async () => {
    const reader = await echoServer();
    const HIGH_WATER = 256 * 1024;
    const PAYLOAD = 'x'.repeat(32 * 1024);
    client = connect(reader.url, { highWaterMark: HIGH_WATER, maxQueued: 50, heartbeat: 0, timeout: 60_000 });
    try {
      await client.ready;
      await until(reader.connected, 'the server to accept');
      reader.pause();

      // Far more than the kernel's loopback buffers hold plus the high-water mark.
      const calls: Array<Promise<{ value?: unknown; error?: any }>> = [];
      let maxBuffered = 0;
      for (let n = 0; n < 2_000; n++) {
        calls.push(settle(client.request('echo', { n, pad: PAYLOAD })));
        maxBuffered = Math.max(maxBuffered, client.bufferedAmount);
        // Let the socket write between bursts, as a busy application would.
        if (n % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
        if (client.queuedCalls === 50) break;
      }
      expect(client.queuedCalls).toBe(50);
      // The socket never held more than the mark plus the one frame that crossed it.
      expect(maxBuffered).toBeLessThan(HIGH_WATER + PAYLOAD.length + 100);
      const overflow = await settle(client.request('echo', { n: -1 }));
      expect(overflow.error).toBeInstanceOf(QueueFullError);
      expect(overflow.error.message).toMatch(/because its socket's buffer is full \(highWaterMark\)$/);

      reader.resume();
      const outcomes = await Promise.all(calls);
      outcomes.forEach((outcome, n) => expect((outcome.value as { n: number }).n).toBe(n));
      expect(reader.seen.size).toBe(calls.length);
      expect([...reader.seen.values()].every((count) => count === 1)).toBe(true);
      expect([client.pendingCalls, client.queuedCalls]).toEqual([0, 0]);
    } finally {
      await client.close();
      await reader.close();
    }
  });
});
