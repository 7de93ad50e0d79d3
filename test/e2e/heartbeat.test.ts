/**
 * Heartbeat: a peer gone without a close frame (here, one that stops reading
 * its socket, so it neither reads pings nor answers them) is dropped within
 * one heartbeat interval, failing pending calls then and not at their
 * timeouts. Time is a simulated clock.
 */
import { WebSocket, WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, ConnectionClosedError, type Client, type PeerEvents, type Server } from '../../src/index.js';
import { abortWatcher, closeAfterEach, deferred, rawClient, settle, until } from '../helpers.js';
import { rawServer, rawUpgrade, textFrame } from '../raw-websocket.js';

let server: Server | undefined;
let client: Client | undefined;
let silent: WebSocketServer | undefined;
closeAfterEach(() => [client, server]);
afterEach(async () => {
  for (const socket of silent?.clients ?? []) socket.terminate();
  await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
  silent = undefined;
});

/** What a test reads of the TCP socket under a server's connection. */
interface TcpCounts {
  bytesWritten: number;
  writableLength: number;
  destroyed: boolean;
}

/** A WebSocket server whose sockets stop reading once open: no pong, no close frame, nothing. */
async function frozenServer(): Promise<string> {
  silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => silent!.once('listening', resolve));
  silent.on('connection', (socket) => (socket as unknown as { _socket: { pause(): void } })._socket.pause());
  return `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`;
}

describe('heartbeat', () => {
  it('drops a server that stopped answering within one interval, failing pending calls then, not at their timeout', async () => {
    const clock = new SimulatedClock();
    client = connect(await frozenServer(), { clock, heartbeat: 1_000, timeout: 60_000 });
    await client.ready;
    const call = settle(client.request('anything'));
    // Let the request reach the wire (awaiting), as calls stuck on a half-open connection are.
    await new Promise((resolve) => setImmediate(resolve));
    clock.increment(500); // ping
    expect(client.state).toBe('open');
    clock.increment(500); // nothing heard since the ping: gone
    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect([error.code, error.closeCode]).toEqual(['ERR_CONNECTION_CLOSED', 1006]);
    expect(error.message).toMatch(/answered no heartbeat for 1000 ms/);
    await client.closed;
    expect(client.state).toBe('closed');
  });

  it('keeps a connection whose peer answers the pings', async () => {
    const clock = new SimulatedClock();
    server = await serve({ methods: { echo: (p: unknown) => p } });
    client = connect(server.url, { clock, heartbeat: 1_000 });
    await client.ready;
    for (let beat = 0; beat < 5; beat++) {
      clock.increment(500);
      // The server's pong was sent before this response: once the response is here, so is the pong.
      expect(await client.request('echo', [beat])).toEqual([beat]);
    }
    clock.increment(500);
    expect(client.state).toBe('open');
    expect(await client.request('echo', ['still open'])).toEqual(['still open']);
  });

  it('lets the server drop a client gone silent, aborting its handlers', async () => {
    const clock = new SimulatedClock();
    const { handler, entered, aborted } = abortWatcher();
    server = await serve({ methods: { hang: handler }, clock, heartbeat: 1_000 });
    const raw = await rawClient(server.url);
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hang' }));
    await entered;
    (raw.socket as unknown as { _socket: { pause(): void } })._socket.pause();
    clock.increment(500);
    clock.increment(500);
    expect(await aborted).toBe(true);
    await until(() => server!.connections.size === 0, 'the server to drop the client');
    raw.socket.terminate();
  });

  it("takes a close frame that arrives as the heartbeat runs out for the peer's close, not for silence", async () => {
    // A server that answers no ping, then starts the close handshake and stops reading: the client holds its close frame.
    silent = new WebSocketServer({ port: 0, host: '127.0.0.1', autoPong: false });
    await new Promise((resolve) => silent!.once('listening', resolve));
    const accepted = new Promise<WebSocket>((resolve) => silent!.once('connection', resolve));
    const clock = new SimulatedClock();
    client = connect(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, { clock, heartbeat: 1_000, timeout: 60_000 });
    await client.ready;
    const peer = await accepted;
    const closeEvent = new Promise<PeerEvents['close']>((resolve) => client!.once('close', resolve));
    const call = settle(client.request('anything'));
    await new Promise((resolve) => setImmediate(resolve));
    clock.increment(500); // ping, never answered
    peer.close(1001, 'going away');
    (peer as unknown as { _socket: { pause(): void } })._socket.pause();
    const socket = (client as unknown as { transport: { socket: WebSocket } }).transport.socket;
    await until(() => socket.readyState === WebSocket.CLOSING, "the server's close frame to arrive");
    clock.increment(500); // the heartbeat runs out, with the close handshake under way

    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect([error.closeCode, error.closeReason]).toEqual([1001, 'going away']);
    expect(error.message).toMatch(/closed before the call settled \(code 1001, reason "going away"\)$/);
    const { code, reason, error: why } = await closeEvent;
    expect([code, reason, why]).toEqual([1001, 'going away', undefined]);
    expect(client.state).toBe('closed');
  });

  it('keeps a client whose large request is still arriving (its pong waits behind it), and drops it once nothing more comes', async () => {
    const clock = new SimulatedClock();
    server = await serve({ port: 0, host: '127.0.0.1', methods: { echo: (p: unknown) => p }, clock, heartbeat: 1_000 });
    const socket = await rawUpgrade(server.url);
    socket.on('error', () => {});
    await until(() => server!.connections.size === 1, 'the connection');
    const [peer] = [...server.connections];
    const tcp = (peer as unknown as { transport: { socket: { _socket: { bytesRead: number; destroyed: boolean } } } }).transport.socket
      ._socket;
    const closed = new Promise<PeerEvents['close']>((resolve) => peer!.once('close', resolve));
    // One masked frame of about 64 KB, written a piece at a time as a slow link carries it: a client can send no pong
    // in the middle of a frame, so its answers to the pings wait until the frame is all sent.
    const frame = textFrame(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: ['x'.repeat(64_000)] }), true);
    const piece = 16_384;
    let sent = 0;
    const sendPiece = async () => {
      const start = tcp.bytesRead;
      socket.write(frame.subarray(sent, sent + piece));
      sent += piece;
      await until(() => tcp.bytesRead >= start + piece, 'the piece to arrive');
    };
    await sendPiece();
    clock.increment(500); // ping
    await sendPiece();
    clock.increment(500); // no pong since the ping, but the request arrives: alive
    expect(tcp.destroyed).toBe(false); // a drop destroys the socket at once
    await sendPiece();
    clock.increment(500);
    expect(tcp.destroyed).toBe(false);
    // Nothing more comes: dropped within the next interval, as a silent peer.
    clock.increment(500);
    const { code, error } = await closed;
    expect(code).toBe(1006);
    expect((error as Error | undefined)?.message).toMatch(/was dropped: the peer answered no heartbeat for 1000 ms$/);
    socket.destroy();
  });

  it('keeps a client that reads while new answers fill the buffer again (no smaller than at the ping), and drops it once it stops', async () => {
    const MiB = 1024 * 1024;
    const clock = new SimulatedClock();
    const gate = deferred();
    let started = 0;
    let ran = 0;
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      clock,
      heartbeat: 1_000,
      highWaterMark: MiB,
      drainTimeout: 60_000,
      methods: {
        big: () => (ran++, 'x'.repeat(MiB)),
        later: async () => (started++, await gate.promise, 'x'.repeat(256 * 1024)),
      },
    });
    const socket = await rawUpgrade(server.url); // answers no ping: only what it reads tells it is alive
    socket.on('error', () => {});
    socket.pause();
    await until(() => server!.connections.size === 1, 'the connection');
    const [peer] = [...server.connections];
    const tcp = (peer as unknown as { transport: { socket: { _socket: TcpCounts } } }).transport.socket._socket;
    const sent = () => tcp.bytesWritten - tcp.writableLength;
    const frame = (id: number, method: string) => textFrame(JSON.stringify({ jsonrpc: '2.0', id, method }), true);
    // 32 calls whose answers (8 MiB in all) come later; then 1 MiB answers until the buffer holds the mark.
    for (let id = 1; id <= 32; id++) socket.write(frame(id, 'later'));
    await until(() => started === 32, 'the calls to start');
    for (let id = 100; peer!.bufferedAmount < MiB; id++) {
      expect(id).toBeLessThan(300);
      socket.write(frame(id, 'big'));
      await until(() => ran === id - 99, `request ${id} to run`);
    }
    const atPing = peer!.bufferedAmount;
    clock.increment(500); // ping, behind all of it
    // The client reads 2 MiB, then stops; the 32 answers then fill the buffer past where it was at the ping.
    const before = sent();
    let read = 0;
    socket.on('data', (chunk: Buffer) => {
      read += chunk.length;
      if (read >= 2 * MiB) socket.pause();
    });
    socket.resume();
    await until(() => read >= 2 * MiB, 'the client to read 2 MiB');
    await until(() => sent() > before, 'the server to see it read');
    gate.resolve();
    await until(() => peer!.handlingCalls === 0, 'the answers to be written');
    expect(peer!.bufferedAmount).toBeGreaterThanOrEqual(atPing);
    clock.increment(500); // no pong, the buffer no smaller, but some of it was read: alive
    expect(tcp.destroyed).toBe(false); // a drop destroys the socket at once
    clock.increment(500); // ping
    clock.increment(500); // nothing read since: gone
    expect(tcp.destroyed).toBe(true);
    socket.destroy();
  });

  it('keeps a server whose large answer is still arriving (its pong waits behind it), and drops it once nothing more comes', async () => {
    const raw = await rawServer(); // answers no ping
    const clock = new SimulatedClock();
    try {
      client = connect(raw.url, { clock, heartbeat: 1_000, timeout: 60_000 });
      await client.ready;
      const socket = await raw.accepted;
      socket.on('error', () => {});
      const tcp = (client as unknown as { transport: { socket: { _socket: { bytesRead: number; destroyed: boolean } } } }).transport.socket
        ._socket;
      const closed = new Promise<PeerEvents['close']>((resolve) => client!.once('close', resolve));
      const frame = textFrame(JSON.stringify({ jsonrpc: '2.0', method: 'big', params: ['x'.repeat(64_000)] }), false);
      let sent = 0;
      const sendPiece = async () => {
        const start = tcp.bytesRead;
        socket.write(frame.subarray(sent, sent + 16_384));
        sent += 16_384;
        await until(() => tcp.bytesRead >= start + 16_384, 'the piece to arrive');
      };
      await sendPiece();
      clock.increment(500); // ping
      await sendPiece();
      clock.increment(500); // no pong, but the frame arrives: alive
      expect(tcp.destroyed).toBe(false);
      await sendPiece();
      clock.increment(500);
      expect(tcp.destroyed).toBe(false);
      clock.increment(500); // nothing more: gone
      const { code, error } = await closed;
      expect(code).toBe(1006);
      expect((error as Error | undefined)?.message).toMatch(/was dropped: the peer answered no heartbeat for 1000 ms$/);
    } finally {
      await raw.close();
    }
  });

  it('does nothing with heartbeat: 0', async () => {
    const clock = new SimulatedClock();
    client = connect(await frozenServer(), { clock, heartbeat: 0 });
    await client.ready;
    clock.increment(120_000);
    expect(client.state).toBe('open');
  });

  it('refuses heartbeat values that are not an integer number of ms', async () => {
    expect(() => connect('ws://127.0.0.1:1', { heartbeat: -1 })).toThrow(
      new RangeError('options.heartbeat must be between 0 and 2147483647, got -1'),
    );
    expect(() => connect('ws://127.0.0.1:1', { heartbeat: '5' as never })).toThrow(TypeError);
    await expect(serve({ methods: {}, heartbeat: 1.5 })).rejects.toThrow(TypeError);
  });
});
