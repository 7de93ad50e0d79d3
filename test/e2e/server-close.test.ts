/**
 * `server.close()` under every state a connection can be in, and the upgrade
 * deadline, over raw sockets on 127.0.0.1: whatever the client does (sends
 * nothing, stops half-way through its request, waits on `authenticate`, never
 * answers the close frame), close resolves and no socket is left open.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, serve, type Client, type Server } from '../../src/index.js';
import { deferred, orHang, rawClient, until } from '../helpers.js';

/** Small, so a test that waits on it stays short. */
const CLOSE_TIMEOUT = 200;

let server: Server | undefined;
let client: Client | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await client?.close();
  await server?.close();
  client = server = undefined;
});

/** A raw TCP client of `server`: `closed` resolves when the socket closes; `received` is all it was sent. */
async function tcp(target: Server) {
  const socket = tcpConnect(target.port, '127.0.0.1');
  sockets.push(socket);
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    closed,
    get received() {
      return received;
    },
  };
}

/** An upgrade request as a WebSocket client sends it. */
function upgradeRequest(headers = ''): string {
  return [
    'GET / HTTP/1.1',
    'Host: 127.0.0.1',
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
    headers,
    '',
  ].join('\r\n');
}

const never = () => new Promise<never>(() => {});

describe('server.close() resolves and leaves no socket open', () => {
  it('with a TCP connection that never sends anything', async () => {
    server = await serve({ closeTimeout: CLOSE_TIMEOUT, methods: {} });
    const idle = await tcp(server);
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the server accept it
    await orHang(server.close(), 'server.close()');
    await orHang(idle.closed, 'the idle socket');
  });

  it('with an HTTP request sent half-way (headers never finished)', async () => {
    server = await serve({ closeTimeout: CLOSE_TIMEOUT, methods: {} });
    const half = await tcp(server);
    half.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    await new Promise((resolve) => setTimeout(resolve, 20)); // let the server read it
    await orHang(server.close(), 'server.close()');
    await orHang(half.closed, 'the half-sent socket');
  });

  it('with an upgrade waiting on an authenticate that never settles', async () => {
    const entered = deferred();
    server = await serve({
      closeTimeout: CLOSE_TIMEOUT,
      authenticate: () => (entered.resolve(), never()),
      methods: {},
    });
    const waiting = await tcp(server);
    waiting.socket.write(upgradeRequest());
    await orHang(entered.promise, 'authenticate');
    await orHang(server.close(), 'server.close()');
    await orHang(waiting.closed, 'the socket waiting on authenticate');
    expect(waiting.received).not.toMatch(/^HTTP\/1\.1 101/);
  });

  it('with an open connection whose call never settles', async () => {
    const entered = deferred();
    server = await serve({ closeTimeout: CLOSE_TIMEOUT, methods: { hang: () => (entered.resolve(), never()) } });
    const raw = await rawClient(server.url);
    const closed = new Promise<number>((resolve) => raw.socket.once('close', (code) => resolve(code)));
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 'a', method: 'hang' }));
    await orHang(entered.promise, 'the handler');
    await orHang(server.close(), 'server.close()');
    expect(await orHang(closed, 'the client socket')).toBe(1001);
  });

  it('with a client that never answers the close frame', async () => {
    server = await serve({ closeTimeout: CLOSE_TIMEOUT, heartbeat: 0, methods: {} });
    const mute = await tcp(server);
    mute.socket.write(upgradeRequest());
    await until(() => server!.connections.size === 1, 'the connection');
    await orHang(server.close(), 'server.close()');
    await orHang(mute.closed, 'the mute socket');
    expect(mute.received).toMatch(/^HTTP\/1\.1 101 /);
  });

  it('with all of these at once', async () => {
    const entered = deferred();
    server = await serve({
      closeTimeout: CLOSE_TIMEOUT,
      authenticate: ({ url }) => url === '/ok' || (entered.resolve(), never()),
      methods: { hang: never },
    });
    const idle = await tcp(server);
    const half = await tcp(server);
    half.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const waiting = await tcp(server);
    waiting.socket.write(upgradeRequest());
    client = connect(`${server.url}/ok`, { closeTimeout: CLOSE_TIMEOUT });
    await orHang(client.ready, 'client.ready');
    const call = client.request('hang').catch((error: unknown) => error);
    await orHang(entered.promise, 'authenticate');
    await orHang(server.close(), 'server.close()');
    await orHang(Promise.all([idle.closed, half.closed, waiting.closed]), 'the raw sockets');
    expect(await orHang(call, 'the call')).toMatchObject({ name: 'ConnectionClosedError' });
  });
});

describe('upgradeTimeout', () => {
  it('answers 408 to 200 upgrades held by a never-settling authenticate, then accepts a good client', async () => {
    let held = 0;
    server = await serve({
      upgradeTimeout: 300,
      authenticate: ({ headers }) => headers.authorization === 'Bearer good' || (held++, never()),
      methods: { echo: (p: unknown) => p },
    });
    const stuck = await Promise.all(Array.from({ length: 200 }, () => tcp(server!)));
    for (const s of stuck) s.socket.write(upgradeRequest());
    await orHang(Promise.all(stuck.map((s) => s.closed)), 'the held upgrades');
    expect(held).toBe(200);
    expect(stuck.filter((s) => s.received.startsWith('HTTP/1.1 408 Request Timeout\r\n'))).toHaveLength(200);

    client = connect(server.url, { headers: { Authorization: 'Bearer good' } });
    await orHang(client.ready, 'client.ready');
    expect(await client.request('echo', ['ok'])).toEqual(['ok']);
  });

  it('drops a connection whose request never finishes', async () => {
    server = await serve({ upgradeTimeout: 200, methods: {} });
    const idle = await tcp(server);
    const half = await tcp(server);
    half.socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    await orHang(Promise.all([idle.closed, half.closed]), 'the unfinished requests');
  });

  it('never accepts a socket whose upgrade timed out, even when authenticate accepts it later', async () => {
    const decide = deferred<boolean>();
    const entered = deferred();
    server = await serve({ upgradeTimeout: 200, authenticate: () => (entered.resolve(), decide.promise), methods: {} });
    let accepted = 0;
    server.on('connection', () => accepted++);
    const late = await tcp(server);
    late.socket.write(upgradeRequest());
    await orHang(entered.promise, 'authenticate');
    await orHang(late.closed, 'the timed-out upgrade');
    decide.resolve(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(late.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(accepted).toBe(0);
    expect(server.connections.size).toBe(0);
  });

  it('throws RangeError for an upgradeTimeout that is not a positive number of ms', async () => {
    await expect(serve({ upgradeTimeout: 0, methods: {} })).rejects.toThrow(
      new RangeError('options.upgradeTimeout must be greater than 0 and at most 2147483647 ms, got 0'),
    );
  });
});
