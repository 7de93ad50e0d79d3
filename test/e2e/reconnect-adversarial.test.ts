/**
 * Reconnecting against hostile or unlucky servers, over real sockets: a retry call the server closes every connection
 * for, a server that accepts and closes at once, one that never answers, one that restarts mid-call, and close()
 * or an abort in each phase of a reconnect. Backoff delays run on a SimulatedClock; nothing here asserts timing.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import NodeWebSocket, { WebSocketServer, type WebSocket } from 'ws';
import { SimulatedClock } from 'xstate';
import {
  connect,
  ConnectionClosedError,
  serve,
  TimeoutError,
  type Client,
  type ReconnectingEvent,
  type Server,
  type UnmatchedEvent,
} from '../../src/index.js';
import { connect as connectBrowser } from '../../src/browser.js';
import { closeAfterEach, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
/** A server of the test's own making (bare `ws`, or HTTP written by hand). */
let bare: { close(): Promise<void> } | undefined;
closeAfterEach(() => [client, server, bare]);
afterEach(() => {
  [client, server, bare] = [undefined, undefined, undefined];
});

const POLICY = { initialDelay: 100, maxDelay: 400, jitter: 0, minUptime: 0 };

/**
 * Connects to `url` with reconnect (each backoff stepped through at once) and makes a 32 MiB retry call, which must fail
 * after its two re-sends; returns how many connections were lost.
 */
async function hugeRetryCallFails(url: string): Promise<number> {
  const clock = new SimulatedClock();
  client = connect(url, { reconnect: POLICY, clock, heartbeat: 0, timeout: 600_000 });
  let losses = 0;
  client.on('reconnecting', ({ delay }) => (losses++, clock.increment(delay)));
  await client.ready;
  const { error } = await settle(client.request('echo', { big: 'x'.repeat(32 * 2 ** 20) }, { retry: true }));
  expect(error).toBeInstanceOf(ConnectionClosedError);
  expect(error.message).toMatch(
    /this retry call was written 3 times, each time on a connection then lost, and is not sent again \(retry: at most 2 re-sends\)$/,
  );
  return losses;
}

describe('reconnect against hostile servers', () => {
  it.each(['light', 'xstate'] as const)(
    '(engine %s) a retry call whose frame the server closes each connection for (1009) is re-sent at most twice, then fails saying so',
    async (engine) => {
      const clock = new SimulatedClock();
      const seen: number[] = [];
      server = await serve({ maxPayload: 1_024, methods: { echo: (p: { n: number }) => (seen.push(p.n), p) } });
      client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0, timeout: 60_000, engine });
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
    },
  );

  it('a 32 MiB retry call, which the server closes for at its header (1009) with most of it unread, is bounded the same way', async () => {
    server = await serve({ maxPayload: 1_024, methods: { echo: (p: unknown) => p } });
    expect(await hugeRetryCallFails(server.url)).toBe(3);
  });

  it('a retry call the server resets the TCP connection for as it comes, with most of it unwritten, is bounded the same way', async () => {
    const http = createServer();
    let upgrades = 0;
    http.on('upgrade', (request, socket: Socket) => {
      upgrades++;
      socket.write(upgradeAnswer(request));
      // The first bytes of a frame: the connection is reset, with most of the frame still unwritten.
      socket.once('data', () => socket.resetAndDestroy());
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    bare = { close: () => new Promise((resolve) => http.close(() => resolve())) };
    expect(await hugeRetryCallFails(`ws://127.0.0.1:${port}`)).toBe(3);
    expect(upgrades).toBe(3);
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

/** A bare `ws` server on a free port: the test decides what each connection does. */
async function wsServer(options: { autoPong?: boolean } = {}): Promise<{ wss: WebSocketServer; url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', ...options });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const { port } = wss.address() as AddressInfo;
  return {
    wss,
    url: `ws://127.0.0.1:${port}`,
    close: () => {
      for (const socket of wss.clients) socket.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

/** The answer that completes a WebSocket upgrade `request`, written by hand. */
function upgradeAnswer(request: IncomingMessage): string {
  const accept = createHash('sha1').update(`${request.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  return `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
}

/** An HTTP server on `port` (any free one by default) that takes each upgrade request and never answers it. */
async function hangingUpgrades(port = 0): Promise<{ url: string; upgrades: () => number; close(): Promise<void> }> {
  const http: HttpServer = createServer();
  const sockets = new Set<Socket>();
  http.on('upgrade', (_request, socket: Socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}`,
    upgrades: () => sockets.size,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => http.close(() => resolve()));
    },
  };
}

/** Once `c` is open: a plain call 'plain' and a retry call 'again', both left to settle. */
async function plainAndRetry(c: Client) {
  await c.ready;
  return [settle(c.request('plain')), settle(c.request('again', undefined, { retry: true }))] as const;
}

describe('reconnect against servers that misbehave on the wire', () => {
  it('a server that answers, on a new connection, calls of the lost one: a failed call is late, a re-sent one takes the answer once, then duplicate', async () => {
    const clock = new SimulatedClock();
    const s = await wsServer();
    bare = s;
    const received: Array<{ id: string; method: string }> = [];
    const sockets: WebSocket[] = [];
    const answer = (socket: WebSocket, id: string, result: unknown) => socket.send(JSON.stringify({ jsonrpc: '2.0', id, result }));
    s.wss.on('connection', (socket) => {
      sockets.push(socket);
      socket.on('message', (data) => received.push(JSON.parse(String(data))));
      // The second connection opens with answers to the first one's calls, before it reads anything.
      if (sockets.length === 2) for (const { id, method } of received) for (let n = 0; n < 2; n++) answer(socket, id, `${method} ${n}`);
    });
    client = connect(s.url, { reconnect: POLICY, clock, heartbeat: 0, timeout: 60_000 });
    const unmatched: UnmatchedEvent[] = [];
    client.on('unmatched', (event) => unmatched.push(event));
    const [plain, again] = await plainAndRetry(client);
    await until(() => received.length === 2, 'both calls to arrive');
    const [plainId, againId] = received.map((frame) => frame.id);
    sockets[0]!.terminate();
    expect((await plain).error).toBeInstanceOf(ConnectionClosedError);
    clock.increment(100);
    // Re-sent on open with the same id, it takes the first answer with that id; the one after is a duplicate.
    expect((await again).value).toBe('again 0');
    await until(() => unmatched.length === 3, 'the stray answers to be reported');
    expect(unmatched.map(({ reason, message }) => [reason, (message as { id: string }).id])).toEqual([
      ['late', plainId],
      ['late', plainId],
      ['duplicate', againId],
    ]);
    expect(client.pendingCalls).toBe(0);
    expect(client.state).toBe('open');
  });

  it('a server that takes the upgrade and then says nothing, ever: each connection is dropped by the heartbeat, and a retry call fails after its re-sends', async () => {
    const clock = new SimulatedClock();
    const s = await wsServer({ autoPong: false });
    bare = s;
    let calls = 0;
    s.wss.on('connection', (socket) => socket.on('message', () => calls++));
    client = connect(s.url, { reconnect: POLICY, clock, heartbeat: 1_000, timeout: 600_000 });
    const reconnecting: ReconnectingEvent[] = [];
    client.on('reconnecting', (event) => reconnecting.push(event));
    const [plain, again] = await plainAndRetry(client);
    for (let loss = 1; loss <= 3; loss++) {
      await until(() => calls === loss + 1, `the calls on connection ${loss}`);
      // Half an interval: the ping; another half: no answer, dropped.
      clock.increment(500);
      clock.increment(500);
      await until(() => reconnecting.length === loss, `loss ${loss}`);
      expect((reconnecting[loss - 1]!.error as Error).message).toMatch(/dropped: the peer answered no heartbeat for 1000 ms$/);
      if (loss < 3) clock.increment(reconnecting[loss - 1]!.delay);
    }
    expect((await plain).error.message).toMatch(/was dropped: the peer answered no heartbeat for 1000 ms$/);
    const { error } = await again;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(
      /^the connection to ws:\/\/127\.0\.0\.1:\d+ was dropped: the peer answered no heartbeat for 1000 ms; this retry call was written 3 times, each time on a connection then lost, and is not sent again \(retry: at most 2 re-sends\)$/,
    );
    expect(client.reconnecting).toBe(true);
  });

  it('a server that never answers any upgrade: each attempt fails at handshakeTimeout, counts as a failed attempt, and maxAttempts ends it', async () => {
    const clock = new SimulatedClock();
    const hang = await hangingUpgrades();
    bare = hang;
    client = connect(hang.url, { reconnect: { ...POLICY, maxAttempts: 2 }, clock, heartbeat: 0, handshakeTimeout: 50, timeout: 60_000 });
    const attempts: Array<[number, number]> = [];
    client.on('reconnecting', ({ attempt, delay }) => (attempts.push([attempt, delay]), clock.increment(delay)));
    const waiting = settle(client.request('echo', [], { retry: true }));
    const [ready, { error }] = await Promise.all([settle(client.ready), waiting]);
    expect(ready.error).toBeInstanceOf(ConnectionClosedError);
    expect(ready.error.message).toMatch(
      /^could not connect to ws:\/\/127\.0\.0\.1:\d+ \(code 1006\): .*; gave up after 2 attempts to reconnect \(maxAttempts\)$/,
    );
    expect(error).toBe(ready.error);
    expect(attempts).toEqual([
      [1, 100],
      [2, 200],
    ]);
    expect(hang.upgrades()).toBe(3);
  });

  it('close() while a reconnect attempt waits for its upgrade answer ends at once; ready, resolved by the first connection, stays so', async () => {
    const clock = new SimulatedClock();
    server = await serve({ methods: {} });
    const { port } = server;
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0, handshakeTimeout: 60_000 });
    await client.ready;
    await server.close();
    server = undefined;
    await until(() => client!.reconnecting, 'the loss');
    // Another server on the port takes the upgrade request and never answers it.
    const hang = await hangingUpgrades(port);
    bare = hang;
    const waiting = settle(client.request('echo', {}, { retry: true }));
    clock.increment(100);
    await until(() => hang.upgrades() === 1, 'the upgrade request');
    expect(client.state).toBe('connecting');
    await client.close();
    const { error } = await waiting;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/was closed locally$/);
    expect(client.state).toBe('closed');
    expect((await settle(client.ready)).error).toBeUndefined();
  });

  it('a first connection that cannot open and a reconnect that can: ready resolves then; close() before any opens rejects it', async () => {
    const clock = new SimulatedClock();
    const probe = await serve({ methods: {} });
    const { port, url } = probe;
    await probe.close();
    client = connect(url, { reconnect: POLICY, clock, heartbeat: 0 });
    let attempts = 0;
    client.on('reconnecting', () => attempts++);
    await until(() => attempts === 1, 'the first attempt to fail');
    let ready = false;
    void client.ready.then(() => (ready = true));
    server = await serve({ port, methods: { echo: (p: unknown) => p } });
    clock.increment(100);
    await client.ready;
    expect(ready).toBe(true);
    expect(client.reconnecting).toBe(false);

    const never = connect('ws://127.0.0.1:1', { reconnect: POLICY, clock, heartbeat: 0 });
    let failures = 0;
    never.on('reconnecting', () => failures++);
    await until(() => failures === 1, 'the failed attempt');
    await never.close();
    const { error } = await settle(never.ready);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/was closed locally$/);
  });

  it('a call whose signal aborts while it waits for the reconnect rejects with the reason and is never sent; a notify made then goes out after', async () => {
    const clock = new SimulatedClock();
    const seen: string[] = [];
    server = await serve({
      methods: { echo: (p: { n: number }) => (seen.push(`call ${p.n}`), p), log: (p: { n: number }) => void seen.push(`log ${p.n}`) },
    });
    const { port } = server;
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0 });
    await client.ready;
    await server.close();
    server = undefined;
    await until(() => client!.reconnecting, 'the loss');
    const controller = new AbortController();
    const aborted = settle(client.request('echo', { n: 1 }, { signal: controller.signal, retry: true }));
    client.notify('log', { n: 2 });
    const kept = client.request('echo', { n: 3 });
    expect(client.queuedCalls).toBe(2);
    controller.abort(new Error('user left'));
    expect((await aborted).error.message).toBe('user left');
    expect(client.queuedCalls).toBe(1);
    server = await serve({
      port,
      methods: { echo: (p: { n: number }) => (seen.push(`call ${p.n}`), p), log: (p: { n: number }) => void seen.push(`log ${p.n}`) },
    });
    clock.increment(100);
    expect(await kept).toEqual({ n: 3 });
    await until(() => seen.length === 2, 'the notification');
    expect(seen).toEqual(['log 2', 'call 3']);
  });

  it('a call whose timeout passes during the backoff fails with TimeoutError, is never sent, and the reconnect goes on', async () => {
    const clock = new SimulatedClock();
    let handled = 0;
    server = await serve({ methods: { echo: (p: unknown) => (handled++, p) } });
    client = connect(server.url, { reconnect: { ...POLICY, initialDelay: 400 }, clock, heartbeat: 0 });
    await client.ready;
    for (const peer of server.connections) void peer.terminate();
    await until(() => client!.reconnecting, 'the loss');
    const retry = settle(client.request('echo', {}, { retry: true, timeout: 100 }));
    clock.increment(100);
    expect((await retry).error).toBeInstanceOf(TimeoutError);
    expect(client.queuedCalls).toBe(0);
    clock.increment(300);
    await until(() => client!.state === 'open', 'the reconnect');
    expect(await client.request('echo', [1])).toEqual([1]);
    expect(handled).toBe(1);
  });

  it('a server that sends its close frame and holds the TCP connection open: dropped after closeTimeout, then reconnected', async () => {
    const clock = new SimulatedClock();
    const http = createServer();
    const held = new Set<Socket>();
    http.on('upgrade', (request, socket: Socket) => {
      held.add(socket);
      socket.write(upgradeAnswer(request));
      // A close frame (1001, "bye"), then nothing: the TCP connection stays open.
      socket.write(Buffer.from([0x88, 0x05, 0x03, 0xe9, 0x62, 0x79, 0x65]));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const { port } = http.address() as AddressInfo;
    bare = { close: () => (held.forEach((socket) => socket.destroy()), new Promise((resolve) => http.close(() => resolve()))) };
    client = connect(`ws://127.0.0.1:${port}`, { reconnect: POLICY, clock, heartbeat: 0, closeTimeout: 50 });
    const reconnecting: ReconnectingEvent[] = [];
    client.on('reconnecting', (event) => reconnecting.push(event));
    await client.ready;
    await until(() => reconnecting.length === 1, 'the loss, once closeTimeout has passed');
    expect([reconnecting[0]!.code, reconnecting[0]!.reason]).toEqual([1001, 'bye']);
    await bare.close();
    bare = undefined;
    server = await serve({ port, methods: { echo: (p: unknown) => p } });
    const call = client.request('echo', [1]);
    clock.increment(reconnecting[0]!.delay);
    expect(await call).toEqual([1]);
  });

  it.each(['reconnecting', 'open'] as const)(
    "close() from a listener of '%s' ends the connection for good: no further attempt, every waiting call fails",
    async (event) => {
      const clock = new SimulatedClock();
      server = await serve({ methods: { hang: () => new Promise(() => {}) } });
      client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0, timeout: 60_000 });
      await client.ready;
      const c = client;
      let attempts = 0;
      c.on('reconnecting', () => attempts++);
      const calls: Array<Promise<{ error?: any }>> = [];
      c.on(event, () => {
        if (event === 'open' && c.epoch === 1) return;
        calls.push(settle(c.request('hang', [], { retry: true })));
        void c.close();
      });
      const written = settle(c.request('hang', [], { retry: true }));
      await until(() => server!.connections.size === 1 && c.pendingCalls === 1);
      for (const peer of server.connections) void peer.terminate();
      await until(() => attempts === 1, 'the loss');
      clock.increment(100);
      await c.closed;
      clock.increment(10_000);
      expect(attempts).toBe(1);
      expect(c.state).toBe('closed');
      for (const { error } of await Promise.all([written, ...calls])) {
        expect(error).toBeInstanceOf(ConnectionClosedError);
      }
      expect(c.pendingCalls).toBe(0);
    },
  );

  it('terminate() while waiting to reconnect ends at once; a retry call waiting fails with "terminated locally"', async () => {
    const clock = new SimulatedClock();
    server = await serve({ methods: {} });
    client = connect(server.url, { reconnect: POLICY, clock, heartbeat: 0 });
    await client.ready;
    for (const peer of server.connections) void peer.terminate();
    await until(() => client!.reconnecting, 'the loss');
    const waiting = settle(client.request('echo', [], { retry: true }));
    await client.terminate();
    expect((await waiting).error.message).toMatch(/was terminated locally$/);
    expect(client.state).toBe('closed');
  });

  it("the server's calls and batch running on the client when the connection is lost are never answered on the next connection", async () => {
    const clock = new SimulatedClock();
    const s = await wsServer();
    bare = s;
    const sockets: WebSocket[] = [];
    const frames: string[][] = [];
    s.wss.on('connection', (socket) => {
      const mine: string[] = [];
      frames.push(mine);
      sockets.push(socket);
      socket.on('message', (data) => mine.push(String(data)));
    });
    const release: Array<() => void> = [];
    const aborted: string[] = [];
    const slow = (params: { n: number }, ctx: { signal: AbortSignal }) => {
      ctx.signal.addEventListener('abort', () => aborted.push(`slow ${params.n}`));
      // A handler that ignores its signal and answers anyway, late.
      return new Promise((resolve) => release.push(() => resolve(params.n)));
    };
    client = connect(s.url, { reconnect: POLICY, clock, heartbeat: 0, methods: { slow } });
    await client.ready;
    await until(() => sockets.length === 1, 'the server to accept');
    const call = (id: string, n: number) => ({ jsonrpc: '2.0', id, method: 'slow', params: { n } });
    sockets[0]!.send(JSON.stringify(call('single', 1)));
    sockets[0]!.send(JSON.stringify([call('b1', 2), call('b2', 3)]));
    await until(() => release.length === 3, 'the three handlers to run');
    release[0]!(); // 'single' answered on the first connection
    await until(() => frames[0]!.length === 1, 'the first answer');
    sockets[0]!.terminate();
    await until(() => client!.reconnecting, 'the loss');
    expect(aborted.sort()).toEqual(['slow 2', 'slow 3']);
    clock.increment(100);
    await until(() => client!.state === 'open' && sockets.length === 2, 'the reconnect');
    for (const done of release.slice(1)) done();
    // A call on the new connection, answered: anything the old handlers sent would be before its answer.
    sockets[1]!.send(JSON.stringify(call('fresh', 4)));
    await until(() => release.length === 4, 'the new handler');
    release[3]!();
    await until(() => frames[1]!.length >= 1, 'the answer on the new connection');
    expect(frames[0]!.map((text) => JSON.parse(text).id)).toEqual(['single']);
    expect(frames[1]!.map((text) => JSON.parse(text))).toEqual([{ jsonrpc: '2.0', id: 'fresh', result: 4 }]);
  });
});

describe('the browser build, on the same calls (ws standing in for the global WebSocket)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('re-sends a retry call the server closes each connection for at most twice, then fails it saying so', async () => {
    vi.stubGlobal('WebSocket', NodeWebSocket);
    const clock = new SimulatedClock();
    server = await serve({ maxPayload: 1_024, methods: { echo: (p: unknown) => p } });
    const browser = connectBrowser(server.url, { reconnect: POLICY, clock, heartbeat: 0, timeout: 60_000 });
    client = browser as unknown as Client;
    let losses = 0;
    browser.on('reconnecting', ({ delay }) => (losses++, clock.increment(delay)));
    await browser.ready;
    const { error } = await settle(browser.request('echo', { big: 'x'.repeat(2_000) }, { retry: true }));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(
      /\(code 1009\); this retry call was written 3 times, each time on a connection then lost, and is not sent again \(retry: at most 2 re-sends\)$/,
    );
    expect(losses).toBe(3);
    await until(() => browser.state === 'open', 'the reconnect');
    expect(await browser.request('echo', [1])).toEqual([1]);
  });
});
