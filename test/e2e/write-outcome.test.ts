/**
 * Written or not written: a call whose bytes reached the socket fails as
 * "closed before the call settled" (it may have run), one that never reached
 * it fails as "could not be written" (it never ran), whatever the order in
 * which the socket's close and the writes' callbacks arrive.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, ConnectionClosedError, QueueFullError, type Client } from '../../src/index.js';
import { closeAfterEach, settle, until } from '../helpers.js';

let client: Client | undefined;
let wss: WebSocketServer | undefined;
closeAfterEach(() => [client, { close: () => new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve())) }]);

/** The ws socket under a client (its readyState shows the close handshake the connection actor does not see yet). */
function socketOf(peer: Client): WebSocket {
  return (peer as unknown as { transport: { socket: WebSocket } }).transport.socket;
}

describe('the written / not-written distinction', () => {
  it("a call made after the peer's close frame fails as not written, and the call still being written is not blamed for it", async () => {
    // A server that stops reading, then starts the close handshake: the client's big write stays in its socket.
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss!.once('listening', resolve));
    const accepted = new Promise<WebSocket>((resolve) => wss!.once('connection', resolve));
    const { port } = wss.address() as { port: number };
    client = connect(`ws://127.0.0.1:${port}`, { heartbeat: 0, highWaterMark: 256 * 1024 * 1024 });
    await client.ready;
    const server = await accepted;
    (server as unknown as { _socket: { pause(): void } })._socket.pause();

    // 32 MB: more than loopback's socket buffers take, so its write callback is still pending.
    const big = settle(client.request('store', { blob: 'x'.repeat(32 * 1024 * 1024) }, { timeout: 60_000 }));
    await until(() => client!.bufferedAmount > 0, 'the big request to be held in the socket');
    server.close(1001, 'going away');
    await until(() => socketOf(client!).readyState === 2, "the server's close frame to arrive");
    expect(client.state).toBe('open');

    let bigSettled = false;
    void big.then(() => (bigSettled = true));
    const late = await settle(client.request('echo', {}, { timeout: 5_000 }));
    expect(late.error).toBeInstanceOf(ConnectionClosedError);
    expect(late.error.code).toBe('ERR_CONNECTION_CLOSED');
    expect(late.error.message).toMatch(/^call "echo" \(id [\w-]+\) could not be written$/);
    // The big call's bytes are in the socket: it was written, so it is not failed as unwritten.
    await new Promise((resolve) => setImmediate(resolve));
    expect(bigSettled).toBe(false);

    server.terminate();
    const { error } = await big;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).not.toMatch(/could not be written/);
  });
});

/** A ws server on a free port whose sockets are handed to the test, and each socket's frames (method names). */
async function listen(): Promise<{ url: string; accepted: WebSocket[]; seen: Map<WebSocket, string[]> }> {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss!.once('listening', resolve));
  const accepted: WebSocket[] = [];
  const seen = new Map<WebSocket, string[]>();
  wss.on('connection', (socket) => {
    accepted.push(socket);
    seen.set(socket, []);
    socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { id?: string; method: string };
      seen.get(socket)!.push(frame.method);
      if (frame.id) socket.send(JSON.stringify({ jsonrpc: '2.0', id: frame.id, result: frame.method }));
    });
  });
  return { url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}`, accepted, seen };
}

/** The server starts its close handshake and does not read the client's answer yet: the client's socket is closing, its connection still open. */
async function closeFrameArrives(client: Client, server: WebSocket): Promise<void> {
  (server as unknown as { _socket: { pause(): void } })._socket.pause();
  server.close(1001, 'going away');
  await until(() => socketOf(client).readyState === 2, "the server's close frame to arrive");
  expect(client.state).toBe('open');
}

describe("calls and notifications made after the peer's close frame", () => {
  it.each(['light', 'xstate'] as const)(
    '(engine %s) with reconnect: wait for the next connection and go out there, in order, instead of failing unwritten',
    async (engine) => {
      const { url, accepted, seen } = await listen();
      const clock = new SimulatedClock();
      client = connect(url, { engine, heartbeat: 0, clock, reconnect: { initialDelay: 100, maxDelay: 100, jitter: 0 } });
      await client.ready;
      await until(() => accepted.length === 1, 'the first connection');
      const first = accepted[0]!;
      await closeFrameArrives(client, first);

      const call = settle(client.request('echo', {}, { timeout: 5_000 }));
      client.notify('log', ['after the close frame']);
      expect(client.queuedCalls).toBe(1);
      (first as unknown as { _socket: { resume(): void } })._socket.resume();
      await until(() => client!.reconnecting, 'the loss of the first connection');
      clock.increment(100);

      expect(await call).toEqual({ value: 'echo' });
      await until(() => seen.get(accepted[1]!)?.length === 2, 'both frames on the second connection');
      expect(seen.get(accepted[1]!)).toEqual(['echo', 'log']);
      expect(seen.get(first)).toEqual([]);
      expect(client.epoch).toBe(2);
    },
  );

  it('without reconnect: notify() throws ConnectionClosedError and sends nothing, as the call fails unwritten', async () => {
    const { url, accepted, seen } = await listen();
    client = connect(url, { heartbeat: 0 });
    await client.ready;
    await until(() => accepted.length === 1, 'the connection');
    const server = accepted[0]!;
    await closeFrameArrives(client, server);

    expect(() => client!.notify('log', ['after the close frame'])).toThrow(
      expect.objectContaining({
        name: 'ConnectionClosedError',
        code: 'ERR_CONNECTION_CLOSED',
        message: `notification "log" could not be written: the connection to ${url} is closing`,
      }),
    );
    const call = await settle(client.request('echo', {}));
    expect(call.error).toBeInstanceOf(ConnectionClosedError);
    expect(call.error.message).toMatch(/^call "echo" \(id [\w-]+\) could not be written$/);
    (server as unknown as { _socket: { resume(): void } })._socket.resume();
    await client.closed;
    expect(seen.get(server)).toEqual([]);
  });
});

describe("a notification that waited in line and meets the peer's close frame", () => {
  it('without reconnect: stays in line behind the call that could not be written, and is reported to onError as unsent when the connection closes', async () => {
    const { url, accepted, seen } = await listen();
    const unsent: Array<{ error: unknown; method: string | undefined; kind: string }> = [];
    client = connect(url, {
      heartbeat: 0,
      maxInFlight: 1,
      onError: (error, { method, kind }) => unsent.push({ error, method, kind }),
    });
    await client.ready;
    await until(() => accepted.length === 1, 'the connection');
    const server = accepted[0]!;
    // The server reads nothing from here on: the first call stays unanswered, in flight.
    (server as unknown as { _socket: { pause(): void } })._socket.pause();
    const controller = new AbortController();
    const held = settle(client.request('hold', {}, { signal: controller.signal }));
    const waiting = settle(client.request('echo', {}));
    // Behind the waiting call (maxInFlight 1): the notification waits in line too.
    client.notify('log', ['behind a waiting call']);
    expect(client.queuedCalls).toBe(1);
    server.close(1001, 'going away');
    await until(() => socketOf(client!).readyState === 2, "the server's close frame to arrive");

    // The held call leaves: the line moves on, onto a socket that takes nothing any more.
    controller.abort();
    expect((await held).error).toBeDefined();
    const { error } = await waiting;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/^call "echo" \(id [\w-]+\) could not be written$/);
    // A refused write means the socket is going: nothing more is written on it, the line waits for its close.
    expect(unsent).toEqual([]);
    (server as unknown as { _socket: { resume(): void } })._socket.resume();
    await client.closed;
    await until(() => unsent.length === 1, 'the notification reported');
    expect(unsent[0]).toMatchObject({ method: 'log', kind: 'unsent' });
    expect(unsent[0]!.error).toBeInstanceOf(ConnectionClosedError);
    expect((unsent[0]!.error as Error).message).toBe(
      `notification "log" was not sent: the connection to ${url} closed while it waited in line`,
    );
    expect(seen.get(server)).not.toContain('log');
  });
});

describe("a call refused by a full line after the peer's close frame", () => {
  it('with reconnect: says the connection is closing, not that earlier calls wait', async () => {
    const { url, accepted } = await listen();
    client = connect(url, { heartbeat: 0, maxQueued: 0, reconnect: { initialDelay: 60_000, maxDelay: 60_000, jitter: 0 } });
    await client.ready;
    await until(() => accepted.length === 1, 'the connection');
    await closeFrameArrives(client, accepted[0]!);
    const { error } = await settle(client.request('echo', {}));
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error.message).toBe(
      `call "echo" was not sent: 0 calls and notifications already wait on the connection to ${url} (maxQueued 0), because it is closing (the next connection takes them)`,
    );
    (accepted[0] as unknown as { _socket: { resume(): void } })._socket.resume();
  });
});

describe('retry calls whose writes fail as the socket is lost', () => {
  it.each(['light', 'xstate'] as const)('(engine %s) go out on the next connection in the order they were made', async (engine) => {
    const { url, accepted, seen } = await listen();
    const clock = new SimulatedClock();
    client = connect(url, { engine, heartbeat: 0, clock, highWaterMark: 64 * 2 ** 20, reconnect: { initialDelay: 100, jitter: 0 } });
    await client.ready;
    await until(() => accepted.length === 1, 'the first connection');
    // The server reads nothing: the first requests fill loopback's buffers, the rest wait in the client's socket.
    const first = accepted[0]! as unknown as { _socket: { pause(): void; resetAndDestroy(): void } };
    first._socket.pause();
    const methods = Array.from({ length: 12 }, (_, i) => `set${i}`);
    const calls = methods.map((method) => settle(client!.request(method, ['x'.repeat(2 ** 20)], { retry: true, timeout: 60_000 })));
    await until(() => client!.bufferedAmount > 2 * 2 ** 20, 'at least two requests to wait in the socket');
    // A reset: each request still in the socket fails its write, in order, before the socket's close.
    first._socket.resetAndDestroy();
    await until(() => client!.reconnecting, 'the loss');
    clock.increment(100);

    expect(await Promise.all(calls)).toEqual(methods.map((method) => ({ value: method })));
    expect(seen.get(accepted[1]!)).toEqual(methods);
    expect([client.pendingCalls, client.queuedCalls]).toEqual([0, 0]);
  });
});
