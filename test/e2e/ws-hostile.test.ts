/**
 * Adversarial checks of the WebSocket server side over real sockets on
 * 127.0.0.1: sockets and frames a server meets when the app or the client is
 * unlucky or hostile. Whatever comes, `close()` resolves and nothing is left
 * waiting for an event that cannot come.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serve, type Server, type ServerEvents, type UntypedApi } from '../../src/index.js';
import { collectUncaught, deferred, orHang, rawClient, until } from '../helpers.js';
import { rawUpgrade, textFrame } from '../raw-websocket.js';

const uncaught = collectUncaught();

/** How long after each test its server's close() is waited for (a hang detector, not a measured time). */
const HANG = 5_000;

let server: Server | undefined;
let app: HttpServer | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  vi.useRealTimers();
  for (const socket of sockets.splice(0)) socket.destroy();
  const closing = server?.close();
  server = undefined;
  await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, HANG).unref())]);
  if (app) await new Promise((resolve) => app!.close(resolve));
  app = undefined;
});
const UPGRADE =
  'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

describe('serve({ noServer: true }) handed a socket that has already closed', () => {
  it('close() still resolves (the app decided on the upgrade after its client had gone)', async () => {
    server = await serve({ noServer: true, closeTimeout: 200, methods: { echo: (p: unknown) => p } });
    const rpc = server;
    const handed = deferred();
    app = createServer();
    app.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      // The app checks something asynchronously; meanwhile the connection goes.
      socket.destroy();
      socket.once('close', () => {
        rpc.handleUpgrade(request, socket, head);
        handed.resolve();
      });
    });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    const socket = tcpConnect((app.address() as { port: number }).port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => {});
    socket.write(UPGRADE);
    await handed.promise;
    // It waited for a 'close' event from a socket that had already emitted its last.
    await orHang(rpc.close(), 'server.close()');
  });
});

describe('a server whose inspector throws', () => {
  it.each(['light', 'xstate'] as const)('(engine %s) still answers its calls, and close() resolves', async (engine) => {
    const broken = new Error('the inspector broke');
    let throwing = false;
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      engine,
      methods: { echo: (params: unknown) => params },
      inspect: () => {
        if (throwing) throw broken;
      },
    });
    const peer = await rawClient(server.url);
    throwing = true;
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: [1] }));
    expect(await orHang(peer.next(), 'the answer')).toEqual({ jsonrpc: '2.0', id: 1, result: [1] });
    await peer.close();
    await orHang(server.close(), 'close()');
    throwing = false;
    server = undefined;
    // The inspector's own errors are surfaced (as a throwing listener's are), and nothing else.
    await new Promise((resolve) => setImmediate(resolve));
    expect(uncaught.every((error) => error === broken)).toBe(true);
    uncaught.length = 0;
  });
});

/** A masked close frame with `code`, as a client sends it (mask all zeros: the payload as is). */
function closeFrame(code: number): Buffer {
  const frame = Buffer.from([0x88, 0x80 | 2, 0, 0, 0, 0, 0, 0]);
  frame.writeUInt16BE(code, 6);
  return frame;
}

describe('a client that sends its close frame and then keeps its TCP connection open', () => {
  it("is dropped after closeTimeout, not ws's 30 s: its handlers abort and it leaves server.connections", async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const reasons: unknown[] = [];
    let started = 0;
    server = await serve({
      heartbeat: 0,
      closeTimeout: 1_000,
      methods: {
        hang: (_params: unknown, ctx: { signal: AbortSignal }) => {
          started++;
          ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
          return new Promise(() => {});
        },
      },
    });
    const socket = await rawUpgrade(server.url, { allowHalfOpen: true });
    sockets.push(socket);
    let ended = false;
    socket.on('data', () => {});
    socket.on('end', () => (ended = true));
    socket.write(textFrame('{"jsonrpc":"2.0","id":1,"method":"hang"}', true));
    await until(() => started === 1, 'the handler to start');
    socket.write(closeFrame(1000));
    // The server answered the close frame and ended its side; the client never ends its own.
    await until(() => ended, 'the server to answer the close frame and end its side');
    expect(server.connections.size).toBe(1);
    vi.advanceTimersByTime(1_000);
    await until(() => server!.connections.size === 0, 'the connection to be dropped');
    expect(reasons).toHaveLength(1);
    expect(uncaught).toEqual([]);
  });
});

describe('a client that resets its connection as its upgrade is refused', () => {
  /** Sends `request` on a new TCP connection and resets it once the request is written: the refusal meets a reset. */
  async function sendAndReset(port: number, request: string): Promise<void> {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    await new Promise<void>((resolve) => socket.write(request, () => resolve()));
    socket.resetAndDestroy();
    await once(socket, 'close');
  }

  it('leaves nothing uncaught: 404 on another path, 400 for Upgrade: h2c, 503 once maxConnections are held (Node took its error listener off)', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', path: '/rpc', maxConnections: 1, methods: {} });
    const held = await rawClient(server.url);
    const refused = [
      UPGRADE.replace('GET / ', 'GET /other '),
      UPGRADE.replace('GET / ', 'GET /rpc ').replace('Upgrade: websocket', 'Upgrade: h2c'),
      UPGRADE.replace('GET / ', 'GET /rpc '),
    ];
    for (let i = 0; i < 20; i++) for (const request of refused) await sendAndReset(server.port, request);
    // A round trip on the connection held: the server has gone through the I/O of the resets meanwhile.
    held.send('{"jsonrpc":"2.0","id":1,"method":"none"}');
    expect(await held.next()).toMatchObject({ id: 1, error: { code: -32601 } });
    expect(server.connections.size).toBe(1);
    expect(uncaught).toEqual([]);
    await held.close();
  });
});

describe('a client that pings faster than it reads the pongs', () => {
  it("is dropped as ws drops it (60 pongs unsent), and its peer's close event and the server's calls to it say why", async () => {
    const connected = deferred<ServerEvents<UntypedApi>['connection']>();
    server = await serve({ port: 0, host: '127.0.0.1', heartbeat: 0, methods: {} });
    server.on('connection', (peer) => connected.resolve(peer));
    const socket = await rawUpgrade(server.url);
    sockets.push(socket);
    socket.on('error', () => {}); // the server drops the socket while pings are still being written
    const peer = await connected.promise;
    const closed = new Promise<{ code: number | undefined; error?: unknown }>((resolve) => peer.once('close', resolve));
    const call = peer.request('hang', undefined, { timeout: 60_000 }).then(
      () => new Error('answered'),
      (error: Error) => error,
    );
    // Masked ping frames of 125 bytes (a zero mask), a thousand a write; the client reads nothing back.
    const ping = Buffer.alloc(131);
    ping[0] = 0x89;
    ping[1] = 0x80 | 125;
    const burst = Buffer.concat(Array.from({ length: 1_000 }, () => ping));
    socket.pause();
    for (let i = 0; i < 100 && peer.state === 'open'; i++) {
      socket.write(burst);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const why = 'the client sent a ping while 60 pongs to its earlier pings were still unsent (it pings faster than it reads the pongs)';
    const error = (await orHang(call, 'the call')) as Error & { closeCode?: number };
    expect([error.name, error.closeCode, error.message]).toEqual([
      'ConnectionClosedError',
      1006,
      expect.stringContaining(`(code 1006): dropped: ${why}`),
    ]);
    const close = await closed;
    expect([close.code, (close.error as Error | undefined)?.message]).toEqual([1006, `dropped: ${why}`]);
    expect(uncaught).toEqual([]);
  });

  it('a client that pings and reads the pongs is answered, each ping with its own payload', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', heartbeat: 0, methods: {} });
    const socket = await rawUpgrade(server.url);
    sockets.push(socket);
    const pongs: string[] = [];
    let data = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      // Unmasked server frames of at most 125 bytes: 2 bytes of header, the payload.
      while (data.length >= 2 && data.length >= 2 + (data[1]! & 0x7f)) {
        const length = data[1]! & 0x7f;
        if ((data[0]! & 0x0f) === 0xa) pongs.push(data.subarray(2, 2 + length).toString());
        data = data.subarray(2 + length);
      }
    });
    for (let i = 0; i < 200; i++) {
      const payload = Buffer.from(`p${i}`);
      socket.write(Buffer.concat([Buffer.from([0x89, 0x80 | payload.length, 0, 0, 0, 0]), payload]));
      if (i % 20 === 19) await until(() => pongs.length === i + 1, 'the pongs');
    }
    expect(pongs).toEqual(Array.from({ length: 200 }, (_, i) => `p${i}`));
    expect(server.connections.size).toBe(1);
  });
});
