/**
 * The browser transport against what a browser's WebSocket really does (test/fake-websocket.ts is as strict as
 * the standard): close codes a page may not send, an error with no close after it, a server that stops
 * reading, a frame of multi-byte text, options and URLs the browser build refuses.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, type Client } from '../../src/browser.js';
import { serve } from '../../src/index.js';
import { HEARTBEAT_METHOD } from '../../src/transports/browser-ws.js';
import { FakeWebSocket as StandardFakeSocket } from '../fake-websocket.js';
import { rawClient, settle } from '../helpers.js';

let client: Client | undefined;
// The test ends each close handshake itself (`closed`), to see what the transport does before it ends.
beforeEach(() => {
  StandardFakeSocket.echoClose = false;
});
afterEach(async () => {
  StandardFakeSocket.echoClose = true;
  await client?.terminate();
  client = undefined;
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

async function openClient(options: Parameters<typeof connect>[1]) {
  vi.stubGlobal('WebSocket', StandardFakeSocket);
  client = connect('ws://127.0.0.1:1', { heartbeat: 0, ...options });
  const socket = StandardFakeSocket.last!;
  socket.open();
  await client.ready;
  return { client, socket };
}

describe('closing the browser transport with a code a browser may not send', () => {
  it('close(1001) starts the close handshake instead of throwing InvalidAccessError and leaving the connection closing', async () => {
    const { client, socket } = await openClient({});
    const closing = settle(Promise.resolve().then(() => client.close(1001, 'going away')));
    await Promise.resolve();
    expect(socket.closeFrame).toEqual({ code: 1000, reason: 'going away' });
    socket.closed(1000, 'going away');
    expect(await closing).toEqual({ value: undefined });
    expect(client.state).toBe('closed');
  });

  it('drops a server that stops reading (drainTimeout, 1008 in Node) with a close it can send, failing its calls', async () => {
    const clock = new SimulatedClock();
    const { client, socket } = await openClient({ clock, highWaterMark: 100, drainTimeout: 1_000, timeout: 60_000 });
    socket.reading = false;
    const pending = settle(client.request('echo', ['x'.repeat(200)]));
    expect(client.bufferedAmount).toBeGreaterThanOrEqual(100);
    clock.increment(1_000); // the buffer did not drain: the server is dropped
    const { error } = await pending;
    expect(error).toMatchObject({ name: 'ConnectionClosedError' });
    expect(error.message).toContain('drainTimeout');
    expect(socket.closeFrame).toEqual({ code: 1000, reason: 'not reading: too much data waits to be sent' });
    expect(client.state).toBe('closing');
    socket.closed(1006, '');
    await client.closed;
    expect(client.state).toBe('closed');
  });

  it('never drops for one large frame of multi-byte text written onto an empty buffer (bytes are not characters)', async () => {
    const clock = new SimulatedClock();
    const { client, socket } = await openClient({ clock, highWaterMark: 1_024, maxBufferedAmount: 4_096, timeout: 60_000 });
    socket.reading = false;
    const pending = settle(client.request('echo', ['€'.repeat(2_000)])); // about 2,000 characters, 6,000 bytes
    expect(socket.bufferedAmount).toBeGreaterThan(4_096);
    expect(client.state).toBe('open');
    expect(socket.closeFrame).toBeUndefined();
    // The server reads it after all, and answers: the call resolves.
    socket.bufferedAmount = 0;
    const { id } = JSON.parse(socket.sent.at(-1)!) as { id: string };
    socket.onmessage?.({ data: JSON.stringify({ jsonrpc: '2.0', id, result: 'ok' }) });
    expect(await pending).toEqual({ value: 'ok' });
  });
});

describe('a connection the browser refuses with an error event and no close event (Chromium, under a CSP connect-src)', () => {
  /** What Chromium does for a URL the page's Content-Security-Policy blocks: the socket is closed at once, and only error fires. */
  function refuse(socket: StandardFakeSocket): void {
    socket.readyState = 3;
    socket.onerror?.({});
  }

  it('ends the connection: ready rejects, close is emitted (1006), closed resolves', async () => {
    vi.useFakeTimers();
    vi.stubGlobal('WebSocket', StandardFakeSocket);
    client = connect('ws://127.0.0.1:1', { handshakeTimeout: 60_000 });
    const outcome: { ready?: unknown; closes: unknown[]; closed: boolean } = { closes: [], closed: false };
    client.ready.catch((error: unknown) => (outcome.ready = error));
    client.on('close', ({ code }) => outcome.closes.push(code));
    void client.closed.then(() => (outcome.closed = true));
    refuse(StandardFakeSocket.last!);
    await vi.advanceTimersByTimeAsync(0); // no close event comes
    expect(outcome.ready).toMatchObject({ name: 'ConnectionClosedError', code: 'ERR_CONNECTION_CLOSED' });
    expect(outcome.closes).toEqual([1006]);
    expect(outcome.closed).toBe(true);
  });

  it('with reconnect, tries again after the backoff and gives up after maxAttempts', async () => {
    vi.useFakeTimers();
    vi.stubGlobal('WebSocket', StandardFakeSocket);
    client = connect('ws://127.0.0.1:1', { handshakeTimeout: 60_000, reconnect: { initialDelay: 100, jitter: 0, maxAttempts: 1 } });
    const reconnecting: number[] = [];
    client.on('reconnecting', ({ attempt }) => reconnecting.push(attempt));
    const first = StandardFakeSocket.last!;
    refuse(first);
    await vi.advanceTimersByTimeAsync(0);
    expect(reconnecting).toEqual([1]);
    await vi.advanceTimersByTimeAsync(100);
    expect(StandardFakeSocket.last).not.toBe(first); // a second attempt
    refuse(StandardFakeSocket.last!);
    await vi.advanceTimersByTimeAsync(0);
    expect(client.state).toBe('closed');
  });

  it('leaves no handshake timer behind for each refused attempt: a page reconnecting often holds one timer, not one per attempt', async () => {
    vi.useFakeTimers();
    vi.stubGlobal('WebSocket', StandardFakeSocket);
    client = connect('ws://127.0.0.1:1', { handshakeTimeout: 60_000, reconnect: { initialDelay: 10, maxDelay: 10, jitter: 0 } });
    const timers: number[] = [];
    for (let attempt = 0; attempt < 20; attempt++) {
      refuse(StandardFakeSocket.last!);
      await vi.advanceTimersByTimeAsync(0); // the close is reported: the backoff's timer waits
      timers.push(vi.getTimerCount());
      await vi.advanceTimersByTimeAsync(10); // the next attempt
    }
    expect(timers).toEqual(Array(20).fill(1));
  });
});

describe('an open connection the browser fails (the server broke the WebSocket protocol): an error event, then a close (1006)', () => {
  it('fails the calls saying the browser failed the connection and why it does, not with a bare "WebSocket error"', async () => {
    const { client, socket } = await openClient({ timeout: 60_000 });
    const pending = settle(client.request('x'));
    socket.readyState = 3;
    socket.onerror?.({});
    socket.closed(1006, '');
    const { error } = await pending;
    expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 'ERR_CONNECTION_CLOSED' });
    expect(error.message).toBe(
      'the connection to ws://127.0.0.1:1 closed before the call settled (code 1006): the browser failed the connection, and does not tell why (the server broke the WebSocket protocol: text that is not UTF-8, a masked or malformed frame, an invalid close code or reason)',
    );
  });
});

describe('options the browser build cannot honour', () => {
  it('refuses tls (a page cannot pick the CA, a client certificate or skip verification) instead of ignoring it', () => {
    vi.stubGlobal('WebSocket', StandardFakeSocket);
    expect(() => {
      client = connect('wss://127.0.0.1:1', { tls: { rejectUnauthorized: false } });
    }).toThrow(
      new TypeError('options.tls is not supported in the browser build: a browser verifies TLS with its own trust store and certificates'),
    );
  });

  it('validates maxPayload as the Node client does (checked once a frame has arrived: see the browser e2e test)', () => {
    vi.stubGlobal('WebSocket', StandardFakeSocket);
    expect(() => connect('ws://127.0.0.1:1', { maxPayload: 0 })).toThrow(
      new RangeError('options.maxPayload must be between 1 and 9007199254740991, got 0'),
    );
    expect(() => connect('ws://127.0.0.1:1', { maxPayload: 'x' as unknown as number })).toThrow(
      new TypeError('options.maxPayload must be an integer, got "x"'),
    );
  });
});

describe('URLs the browser build does not connect to', () => {
  it('says an http:// URL needs the Node build, instead of listing http:// among the URLs it takes', () => {
    vi.stubGlobal('WebSocket', StandardFakeSocket);
    for (const url of ['http://127.0.0.1:1/rpc', 'https://example.com/rpc']) {
      expect(() => connect(url)).toThrow(
        new TypeError(
          'http:// and https:// URLs need the Node build of callstate (JSON-RPC over HTTP POST): the browser build connects to ws:// and wss:// URLs',
        ),
      );
    }
  });
});

describe('a callstate server answering the browser build’s heartbeat', () => {
  it('answers $/heartbeat (-32601) without reporting it to onError or the logger: every tab sends one every half interval', async () => {
    const reported: unknown[] = [];
    const report = (...args: unknown[]) => void reported.push(args);
    const server = await serve({
      port: 0,
      host: '127.0.0.1',
      methods: { echo: (params: unknown) => params },
      onError: report,
      logger: { error: report, warn: report, info: () => {}, debug: () => {} },
    });
    const socket = await rawClient(server.url);
    try {
      // The frame the browser transport sends as its heartbeat (browser-ws.ts ping()).
      socket.send(`{"jsonrpc":"2.0","id":"cs-heartbeat-abc-1","method":"${HEARTBEAT_METHOD}"}`);
      expect(await socket.next()).toMatchObject({ id: 'cs-heartbeat-abc-1', error: { code: -32601 } });
      // Another call after it, answered after it: by then the heartbeat was reported, if it was going to be.
      socket.send('{"jsonrpc":"2.0","id":"2","method":"nope"}');
      expect(await socket.next()).toMatchObject({ id: '2', error: { code: -32601 } });
      expect(reported.length).toBeGreaterThan(0); // the unknown method "nope" is reported...
      expect(JSON.stringify(reported)).not.toContain(HEARTBEAT_METHOD); // ...the heartbeat is not
    } finally {
      await socket.close();
      await server.close();
    }
  });
});
