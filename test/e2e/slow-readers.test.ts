/**
 * A peer that asks for large answers and never reads them: what each side
 * buffers for it stays bounded. At `highWaterMark` unsent bytes its new
 * requests are answered busy without running; it is dropped (1008) once the
 * buffer passes `maxBufferedAmount`, or has not drained for `drainTimeout`.
 * The peers here are written by hand over TCP, so that they can stop reading.
 */
import type { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  connect,
  serve,
  ConnectionClosedError,
  ErrorCodes,
  type Client,
  type ClientOptions,
  type Peer,
  type Server,
} from '../../src/index.js';
import { closeAfterEach, deferred, settle, until } from '../helpers.js';
import { rawServer, rawUpgrade, textFrame } from '../raw-websocket.js';

let server: Server | undefined;
let client: Client | undefined;
let raw: Awaited<ReturnType<typeof rawServer>> | undefined;
let socket: Socket | undefined;
closeAfterEach(() => [client, server, raw, { close: async () => void socket?.destroy() }]);

const MiB = 1024 * 1024;
const request = (id: number, method: string) => JSON.stringify({ jsonrpc: '2.0', id, method });
const notification = (method: string) => JSON.stringify({ jsonrpc: '2.0', method });

/** Tracks the largest buffered amount a peer reaches until it closes. */
function watchBuffer(peer: Peer): { max: () => number } {
  let max = 0;
  let open = true;
  void peer.closed.then(() => (open = false));
  const look = () => {
    max = Math.max(max, peer.bufferedAmount);
    if (open) setImmediate(look);
  };
  look();
  return { max: () => max };
}

describe('a client that does not read its answers', () => {
  it('has its new requests answered busy at highWaterMark, unrun, and is dropped with 1008 when its buffer does not drain within drainTimeout', async () => {
    const clock = new SimulatedClock();
    let ran = 0;
    const busy: unknown[] = [];
    const connected = deferred<Peer>();
    server = await serve({
      clock,
      heartbeat: 0,
      highWaterMark: MiB,
      drainTimeout: 5_000,
      methods: { big: () => (ran++, 'x'.repeat(MiB)) },
      onError: (_error, { id, response }) => {
        if (response?.code === ErrorCodes.ServerBusy) busy.push(id);
      },
    });
    server.on('connection', (peer) => connected.resolve(peer));
    socket = await rawUpgrade(server.url);
    socket.pause(); // reads nothing from now on
    const peer = await connected.promise;
    const notified: string[] = [];
    peer.on('notification', ({ method }) => notified.push(method));
    // A server call to the client, pending: it tells how the connection ended.
    const pending = settle(peer.request('status', undefined, { timeout: 60_000 }));

    // Ask until what waits for the client (past what the kernel took) reaches the mark, one request at a time.
    // The last answer may still be on its way into the buffer when it is read here: a request sent then is
    // answered busy, unrun, which is the mark reached as well.
    for (let id = 1; peer.bufferedAmount < MiB && busy.length === 0; id++) {
      expect(id).toBeLessThan(200);
      socket.write(textFrame(request(id, 'big'), true));
      await until(() => ran === id || busy.includes(id), `request ${id} to run or be answered busy`);
    }
    const before = ran;
    socket.write(textFrame(request(1_000, 'big'), true));
    socket.write(textFrame(notification('after'), true));
    await until(() => notified.includes('after'), 'the request and the notification after it to be read');
    expect(ran).toBe(before);

    clock.increment(5_000);
    const { error } = await pending;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1008);
    expect(error.message).toMatch(
      /was dropped: the peer read nothing for 5000 ms while \d+ bytes waited to be sent to it \(drainTimeout\)$/,
    );
    await peer.closed;
    expect(server.connections.size).toBe(0);
  });

  it('is dropped with 1008 at once when answers already running pile up past maxBufferedAmount, and the buffer stays near it', async () => {
    const gate = deferred();
    let started = 0;
    const connected = deferred<Peer>();
    server = await serve({
      heartbeat: 0,
      highWaterMark: MiB,
      maxBufferedAmount: 4 * MiB,
      methods: { later: async () => (started++, await gate.promise, 'x'.repeat(MiB)) },
    });
    server.on('connection', (peer) => connected.resolve(peer));
    socket = await rawUpgrade(server.url);
    socket.pause();
    const peer = await connected.promise;
    const buffer = watchBuffer(peer);
    const closeEvent = new Promise<{ error?: unknown }>((resolve) => peer.on('close', resolve));
    const pending = settle(peer.request('status', undefined, { timeout: 60_000 }));
    // 40 answers of 1 MiB each, all released at once: 40 MiB if nothing stopped them.
    for (let id = 1; id <= 40; id++) socket.write(textFrame(request(id, 'later'), true));
    await until(() => started === 40, 'every call to start');
    gate.resolve();

    const { error } = await pending;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1008);
    expect(error.message).toMatch(/was dropped: \d+ bytes wait to be sent to a peer that is not reading \(maxBufferedAmount 4194304\)$/);
    await peer.closed;
    // The mark plus the answer that crossed it (1 MiB of characters and its framing).
    expect(buffer.max()).toBeLessThan(4 * MiB + MiB + 1024);
    // The close event says why the server dropped it.
    expect((await closeEvent).error).toBe(error);
    expect(peer.handlingCalls).toBe(0);
  });
});

/**
 * A server that stops reading while 40 calls of the client's run, each answering 1 MiB: the answers pile up past the
 * client's maxBufferedAmount (4 MiB), and the client's own pending call fails with the drop's 1008. `watch` sees the
 * client before it opens.
 */
async function answersPileUpPastMaxBufferedAmount(options: ClientOptions, watch?: (client: Client) => void): Promise<void> {
  const gate = deferred();
  let started = 0;
  raw = await rawServer();
  client = connect(raw.url, {
    heartbeat: 0,
    highWaterMark: MiB,
    maxBufferedAmount: 4 * MiB,
    methods: { later: async () => (started++, await gate.promise, 'x'.repeat(MiB)) },
    ...options,
  });
  watch?.(client);
  await client.ready;
  socket = await raw.accepted;
  socket.pause();
  const pending = settle(client.request('status', undefined, { timeout: 60_000 }));
  for (let id = 1; id <= 40; id++) socket.write(textFrame(request(id, 'later'), false));
  await until(() => started === 40, 'every call to start');
  gate.resolve();
  const { error } = await pending;
  expect(error).toBeInstanceOf(ConnectionClosedError);
  expect(error.closeCode).toBe(1008);
  expect(error.message).toMatch(/\d+ bytes wait to be sent to a peer that is not reading \(maxBufferedAmount 4194304\)$/);
}

describe('a server that does not read the answers to its calls', () => {
  it('flooding a client with calls: the client refuses them busy at highWaterMark and drops the server with 1008 after drainTimeout', async () => {
    const clock = new SimulatedClock();
    let ran = 0;
    const busy: unknown[] = [];
    raw = await rawServer();
    client = connect(raw.url, {
      clock,
      heartbeat: 0,
      highWaterMark: MiB,
      drainTimeout: 5_000,
      methods: { big: () => (ran++, 'x'.repeat(MiB)) },
      onError: (_error, { id, response }) => {
        if (response?.code === ErrorCodes.ServerBusy) busy.push(id);
      },
    });
    await client.ready;
    socket = await raw.accepted;
    socket.pause();
    const notified: string[] = [];
    client.on('notification', ({ method }) => notified.push(method));
    const pending = settle(client.request('status', undefined, { timeout: 60_000 }));

    // As above: a call answered busy, unrun, also tells the mark is reached.
    for (let id = 1; client.bufferedAmount < MiB && busy.length === 0; id++) {
      expect(id).toBeLessThan(200);
      socket.write(textFrame(request(id, 'big'), false));
      await until(() => ran === id || busy.includes(id), `call ${id} to run or be answered busy`);
    }
    const before = ran;
    for (let id = 1_000; id < 1_100; id++) socket.write(textFrame(request(id, 'big'), false));
    socket.write(textFrame(notification('after'), false));
    await until(() => notified.includes('after'), 'the flood and the notification after it to be read');
    expect(ran).toBe(before);

    clock.increment(5_000);
    const { error } = await pending;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1008);
    expect(error.message).toMatch(/the peer read nothing for 5000 ms/);
    await client.closed;
  });

  it('answers already running that pile up past maxBufferedAmount drop the server with 1008 at once', async () => {
    await answersPileUpPastMaxBufferedAmount({});
    await client!.closed;
  });

  it('with reconnect, the client drops the server that does not read and reconnects, as after a silent one', async () => {
    const clock = new SimulatedClock();
    const reconnecting: Array<{ code: number | undefined; error: unknown }> = [];
    await answersPileUpPastMaxBufferedAmount({ clock, reconnect: { initialDelay: 100, maxDelay: 100, jitter: 0 } }, (c) =>
      c.on('reconnecting', ({ code, error }) => reconnecting.push({ code, error })),
    );
    // A new connection starts with an empty buffer: the client goes on, on its next epoch.
    await until(() => client!.reconnecting, 'the client to wait to reconnect');
    expect(reconnecting).toHaveLength(1);
    clock.increment(100);
    await until(() => client!.state === 'open' && client!.epoch === 2, 'the second connection');
  });
});

describe('a client that reads slowly while answers keep its buffer full', () => {
  it('is not dropped as reading nothing while it reads (the buffer refilled), and is once it stops', async () => {
    const clock = new SimulatedClock();
    const gate = deferred();
    let ran = 0;
    let started = 0;
    const busy: unknown[] = [];
    const connected = deferred<Peer>();
    server = await serve({
      clock,
      heartbeat: 0,
      highWaterMark: MiB,
      drainTimeout: 5_000,
      methods: {
        big: () => (ran++, 'x'.repeat(MiB)),
        later: async () => (started++, await gate.promise, 'x'.repeat(256 * 1024)),
      },
      onError: (_error, { id, response }) => {
        if (response?.code === ErrorCodes.ServerBusy) busy.push(id);
      },
    });
    server.on('connection', (peer) => connected.resolve(peer));
    socket = await rawUpgrade(server.url);
    socket.pause();
    const peer = await connected.promise;
    const tcp = (peer as unknown as { transport: { socket: { _socket: { bytesWritten: number; writableLength: number } } } }).transport
      .socket._socket;
    const sent = () => tcp.bytesWritten - tcp.writableLength;
    const pending = settle(peer.request('status', undefined, { timeout: 60_000 }));
    // 32 calls whose answers (8 MiB in all) come later, whatever the buffer holds then.
    for (let id = 1; id <= 32; id++) socket.write(textFrame(request(id, 'later'), true));
    await until(() => started === 32, 'the calls to start');
    // Fill the buffer past the mark (the drain watch starts).
    for (let id = 100; peer.bufferedAmount < MiB && busy.length === 0; id++) {
      expect(id).toBeLessThan(300);
      socket.write(textFrame(request(id, 'big'), true));
      await until(() => ran === id - 99 || busy.includes(id), `request ${id} to run or be answered busy`);
    }
    // The client reads 2 MiB, then stops; the answers of the 32 calls then fill the buffer again, past where it was.
    const before = sent();
    let read = 0;
    const onData = (chunk: Buffer) => {
      read += chunk.length;
      if (read >= 2 * MiB) socket!.pause();
    };
    socket.on('data', onData);
    socket.resume();
    await until(() => read >= 2 * MiB, 'the client to read 2 MiB');
    await until(() => sent() > before, 'the server to see it read');
    gate.resolve();
    await until(() => peer.handlingCalls === 0, 'the answers to be written');
    // More than when the watch began (below the mark, plus the 1 MiB answer that crossed it): no smaller, though read.
    expect(peer.bufferedAmount).toBeGreaterThan(2 * MiB + 1024);

    clock.increment(5_000); // it read since the watch began: watched on
    expect(peer.state).toBe('open');
    clock.increment(5_000); // nothing since: dropped
    const { error } = await pending;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1008);
    expect(error.message).toMatch(/the peer read nothing for 5000 ms while \d+ bytes waited to be sent to it \(drainTimeout\)$/);
  });
});

describe('notifications pushed to a client that stops reading, then reads again', () => {
  it('wait in line while its buffer is full and go out as it drains, told by the writes themselves, not by polling the buffer', async () => {
    const connected = deferred<Peer>();
    server = await serve({ clock: new SimulatedClock(), heartbeat: 0, highWaterMark: 64 * 1024, methods: {} });
    server.on('connection', (peer) => connected.resolve(peer));
    socket = await rawUpgrade(server.url);
    socket.pause();
    const peer = await connected.promise;
    // Fill the kernel's buffers and the socket's past the mark: then notifications wait in line.
    const payload = ['x'.repeat(16 * 1024)];
    let count = 0;
    while (peer.bufferedAmount < 64 * 1024) {
      peer.notify('tick', payload);
      count++;
      await new Promise((resolve) => setImmediate(resolve)); // the kernel takes what it can
      expect(count).toBeLessThan(10_000);
    }
    // From here no timer of the server's runs: only the writes' own callbacks can let the line go on.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      for (let i = 0; i < 100; i++) peer.notify('tick', payload);
      count += 100;
      expect(vi.getTimerCount()).toBe(0); // nothing polls the buffer
      // The client reads again: every notification comes, in order.
      let data = Buffer.alloc(0);
      let frames = 0;
      socket.on('data', (chunk: Buffer) => {
        data = Buffer.concat([data, chunk]);
        while (data.length >= 4) {
          const length = data[1]! & 0x7f;
          const header = length === 126 ? 4 : length === 127 ? 10 : 2;
          const size = length === 126 ? data.readUInt16BE(2) : length === 127 ? Number(data.readBigUInt64BE(2)) : length;
          if (data.length < header + size) break;
          if ((data[0]! & 0x0f) === 1) frames++;
          data = data.subarray(header + size);
        }
      });
      socket.resume();
      await until(() => frames === count, 'every notification');
    } finally {
      vi.useRealTimers();
    }
  });
});
