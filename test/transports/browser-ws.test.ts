/**
 * The browser transport's application-level heartbeat (browsers cannot send
 * ping frames), on a fake standard WebSocket and a simulated clock: the
 * browser build's connect() with a global WebSocket stubbed in.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, type Client } from '../../src/browser.js';
import { FakeWebSocket as FakeSocket } from '../fake-websocket.js';
import { settle, until } from '../helpers.js';

let client: Client | undefined;
afterEach(async () => {
  await client?.terminate();
  client = undefined;
  vi.unstubAllGlobals();
});

async function openClient(clock: SimulatedClock) {
  vi.stubGlobal('WebSocket', FakeSocket);
  client = connect('ws://127.0.0.1:1', { clock, heartbeat: 1_000, timeout: 60_000 });
  const socket = FakeSocket.last!;
  socket.open();
  await client.ready;
  const unmatched: unknown[] = [];
  client.on('unmatched', (event) => unmatched.push(event));
  return { client, socket, unmatched };
}

describe('the browser transport’s opening handshake', () => {
  it('gives up on a socket still connecting after handshakeTimeout: ready rejects with the reason', async () => {
    vi.useFakeTimers();
    try {
      vi.stubGlobal('WebSocket', FakeSocket);
      client = connect('ws://127.0.0.1:1', { handshakeTimeout: 100 });
      const ready = settle(client.ready);
      await vi.advanceTimersByTimeAsync(100);
      const { error } = await ready;
      expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 'ERR_CONNECTION_CLOSED' });
      expect(error.message).toBe('could not connect to ws://127.0.0.1:1 (code 1006): Opening handshake has timed out');
      expect(FakeSocket.last!.readyState).toBe(3); // the browser socket was closed
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('the browser transport’s heartbeat', () => {
  it('sends a $/heartbeat request every half interval, and takes any answer (even -32601) as a sign of life, never as unmatched', async () => {
    const clock = new SimulatedClock();
    const { client, socket, unmatched } = await openClient(clock);
    for (let i = 1; i <= 4; i++) {
      clock.increment(500);
      const heartbeats = socket.heartbeats();
      expect(heartbeats).toHaveLength(i);
      const { id } = heartbeats[i - 1]!;
      expect(id).toEqual(expect.stringMatching(/^cs-heartbeat-/));
      // What a server without that method answers (a callstate server, or any JSON-RPC server).
      socket.receive({ jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } });
    }
    expect(client.state).toBe('open');
    expect(unmatched).toEqual([]);
  });

  it('takes late answers to earlier heartbeats too, once another frame kept the connection alive', async () => {
    const clock = new SimulatedClock();
    const { client, socket, unmatched } = await openClient(clock);
    clock.increment(500); // heartbeat 1
    socket.receive({ jsonrpc: '2.0', method: 'tick' }); // a notification: a sign of life, so heartbeat 2 follows
    clock.increment(500); // heartbeat 2
    const [first, second] = socket.heartbeats();
    socket.receive({ jsonrpc: '2.0', id: first!.id, result: null });
    socket.receive({ jsonrpc: '2.0', id: second!.id, result: null });
    expect(unmatched).toEqual([]);
    expect(client.state).toBe('open');
  });

  it('drops a server that answers nothing for an interval, failing pending calls at once', async () => {
    const clock = new SimulatedClock();
    const { client, socket } = await openClient(clock);
    const pending = settle(client.request('wait'));
    clock.increment(500); // heartbeat sent
    expect(socket.heartbeats()).toHaveLength(1);
    clock.increment(500); // nothing heard since: gone
    const { error } = await pending;
    expect(error).toMatchObject({ name: 'ConnectionClosedError', code: 'ERR_CONNECTION_CLOSED' });
    expect(error.message).toContain('the peer answered no heartbeat for 1000 ms');
    await until(() => client.state === 'closed', 'the client to close');
  });

  it('keeps a server that reads a large frame slowly, its heartbeat answer behind it: the buffer shrinking is a sign of life', async () => {
    const clock = new SimulatedClock();
    const { client, socket } = await openClient(clock);
    socket.reading = false;
    const upload = settle(client.request('upload', ['x'.repeat(30_000)]));
    const id = socket.frames().at(-1)!.id;
    // Each half interval the server reads a third of it; the heartbeat requests wait behind, unanswered.
    for (let i = 0; i < 3; i++) {
      clock.increment(500);
      socket.bufferedAmount = Math.max(0, socket.bufferedAmount - 10_100);
    }
    expect(client.state).toBe('open');
    // All read: it answers the upload and the heartbeats.
    socket.receive({ jsonrpc: '2.0', id, result: 'stored' });
    for (const heartbeat of socket.heartbeats()) socket.receive({ jsonrpc: '2.0', id: heartbeat.id, result: null });
    expect(await upload).toEqual({ value: 'stored' });
    expect(client.state).toBe('open');
  });

  it('still drops a server that stops reading a large frame halfway, within an interval of its last read', async () => {
    const clock = new SimulatedClock();
    const { client, socket } = await openClient(clock);
    socket.reading = false;
    const upload = settle(client.request('upload', ['x'.repeat(30_000)]));
    clock.increment(500); // heartbeat 1, behind the upload
    socket.bufferedAmount -= 10_000; // read a third, then nothing more
    clock.increment(500); // it read: heartbeat 2
    expect(client.state).toBe('open');
    clock.increment(500); // nothing read, nothing heard: gone
    const { error } = await upload;
    expect(error.message).toContain('the peer answered no heartbeat for 1000 ms');
    await until(() => client.state === 'closed', 'the client to close');
  });

  it('still drops a dead server whose buffer held only frames written just before each heartbeat, gone by the next', async () => {
    const clock = new SimulatedClock();
    const { client, socket } = await openClient(clock);
    const pending = settle(client.request('wait'));
    // A notification written as the heartbeat goes out, not yet handed on (a browser counts it down a moment later).
    socket.bufferedAmount = 200;
    clock.increment(500); // heartbeat 1
    socket.bufferedAmount = 0; // handed on to the network (a dead peer's kernel takes it in all the same)
    clock.increment(500); // nothing heard, nothing read: gone
    const { error } = await pending;
    expect(error.message).toContain('the peer answered no heartbeat for 1000 ms');
  });

  it('reports a response with another id as unmatched, even while a heartbeat waits', async () => {
    const clock = new SimulatedClock();
    const { socket, unmatched } = await openClient(clock);
    clock.increment(500);
    socket.receive({ jsonrpc: '2.0', id: 'cs-heartbeat-not-ours-1', result: null });
    expect(unmatched).toMatchObject([{ reason: 'unknown' }]);
  });
});
