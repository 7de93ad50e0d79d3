/**
 * `serve({ server, path })` on the app's own `http.Server`, and `serve({ noServer: true })` with the
 * app routing upgrades to `handleUpgrade`, over real sockets on 127.0.0.1: the app's routes and its
 * own WebSocket path keep working beside callstate's, the access checks and limits hold as on
 * callstate's own listener, and closing callstate never closes the app's server.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { connect, serve, ConnectionClosedError, type Client, type Server } from '../../src/index.js';
import { deferred, orHang, rawHttp, settle, until } from '../helpers.js';

let app: HttpServer | undefined;
let server: Server | undefined;
let client: Client | undefined;

afterEach(async () => {
  vi.useRealTimers();
  app?.closeAllConnections();
  await client?.close();
  await server?.close();
  if (app?.listening) await new Promise((resolve) => app!.close(resolve));
  app = server = client = undefined;
});

/** An app with a plain route, `/health`, and nothing else (404). */
function makeApp(): HttpServer {
  return createServer((request, response) => {
    if (request.url === '/health') response.end('app ok');
    else response.writeHead(404).end('app: not found');
  });
}

async function listen(target: HttpServer): Promise<number> {
  target.listen(0, '127.0.0.1');
  await once(target, 'listening');
  return (target.address() as { port: number }).port;
}

/** A Duplex of the app's own over `socket` (what a framework may hand to handleUpgrade instead of request.socket). */
function relay(socket: Duplex): Duplex {
  const wrapper = new PassThroughDuplex(socket);
  socket.on('data', (chunk: Buffer) => wrapper.push(chunk));
  socket.on('end', () => wrapper.push(null));
  socket.on('close', () => wrapper.destroy());
  return wrapper;
}

class PassThroughDuplex extends Duplex {
  constructor(private readonly socket: Duplex) {
    super();
  }
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.socket.write(chunk, done);
  }
  override _final(done: () => void): void {
    this.socket.end();
    done();
  }
  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    this.socket.destroy();
    done(error);
  }
}

const upgrade = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`;

describe('serve({ server, path })', () => {
  it("takes upgrades on its path and leaves the app's routes and its other WebSocket path to the app", async () => {
    app = makeApp();
    // The app's own WebSocket route, on another path of the same server.
    const chat = new WebSocketServer({ noServer: true });
    app.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (request.url === '/chat') chat.handleUpgrade(request, socket, head, (ws) => ws.send('chat ok'));
    });
    server = await serve({ server: app, path: '/rpc', methods: { echo: (p: unknown) => p } });
    expect([server.port, server.url]).toEqual([0, '']); // the app does not listen yet
    const port = await listen(app);
    expect([server.port, server.url]).toEqual([port, `ws://127.0.0.1:${port}/rpc`]);

    client = connect(server.url);
    expect(await client.request('echo', { n: 1 })).toEqual({ n: 1 });
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe('app ok');
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    const [message] = (await once(ws, 'message')) as [Buffer];
    expect(message.toString()).toBe('chat ok');
    ws.close();
    chat.close();

    // Closing callstate closes its connections (1001), not the app's server.
    const closed = deferred<number | undefined>();
    client.on('close', ({ code }) => closed.resolve(code));
    await server.close();
    expect(await closed.promise).toBe(1001);
    expect(app.listening).toBe(true);
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe('app ok');
    // Its upgrades are no longer taken: the app has no other upgrade listener for that path.
    expect(app.listenerCount('upgrade')).toBe(1);
  });

  it('answers 404 to an upgrade on another path when the app has no upgrade listener of its own', async () => {
    app = makeApp();
    server = await serve({ server: app, path: '/rpc', methods: {} });
    const port = await listen(app);
    expect(await rawHttp(port, upgrade('/elsewhere'))).toMatch(/^HTTP\/1.1 404 Not Found\r\n/);
    // The query is not part of the path.
    client = connect(`ws://127.0.0.1:${port}/rpc?token=x`);
    await client.ready;
  });

  it("takes an upgrade the app also hands to handleUpgrade once: the second hand-over is ignored, not the socket's end", async () => {
    app = makeApp();
    server = await serve({ server: app, path: '/rpc', methods: { echo: (p: unknown) => p } });
    // The app routes every upgrade to callstate too (as in noServer mode), on top of the listener serve() attached.
    const rpc = server;
    app.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => rpc.handleUpgrade(request, socket, head));
    const port = await listen(app);
    client = connect(`ws://127.0.0.1:${port}/rpc`);
    expect(await client.request('echo', [1])).toEqual([1]);
    expect(server.connections.size).toBe(1);
  });

  it('runs the access check, upgradeTimeout and maxPayload as on its own listener', async () => {
    app = makeApp();
    const hang = deferred<boolean>();
    server = await serve({
      server: app,
      upgradeTimeout: 300,
      maxPayload: 1_000,
      authenticate: (request) => (request.url === '/?wait' ? hang.promise : request.headers.authorization === 'Bearer good'),
      methods: { echo: (p: unknown) => p },
    });
    const port = await listen(app);
    expect(server.url).toBe(`ws://127.0.0.1:${port}`);

    client = connect(server.url);
    const refused = await settle(client.ready);
    expect(refused.error).toBeInstanceOf(ConnectionClosedError);
    expect(refused.error.message).toMatch(/refused the connection with HTTP 401 Unauthorized: Unauthorized$/);

    // An authenticate that never answers: 408 at the deadline, and its late answer changes nothing.
    expect(await rawHttp(port, upgrade('/?wait'))).toMatch(/^HTTP\/1.1 408 Request Timeout\r\n/);
    hang.resolve(true);

    client = connect(server.url, { headers: { Authorization: 'Bearer good' } });
    const closed = deferred<number | undefined>();
    client.on('close', ({ code }) => closed.resolve(code));
    expect(await client.request('echo', ['x'.repeat(10)])).toEqual(['x'.repeat(10)]);
    void settle(client.request('echo', ['x'.repeat(2_000)]));
    expect(await closed.promise).toBe(1009);
    expect(server.connections.size).toBe(0);
  });

  it("answers JSON-RPC POSTs on its path, leaves every other request to the app, and gives the app's listeners back on close", async () => {
    app = makeApp();
    server = await serve({ server: app, path: '/rpc', methods: { add: ([a, b]: [number, number]) => a + b } });
    const port = await listen(app);
    expect(server.httpUrl).toBe(`http://127.0.0.1:${port}/rpc`);
    const post = (path: string) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'add', params: [2, 3] }),
      });
    expect(await (await post('/rpc')).json()).toEqual({ jsonrpc: '2.0', id: 1, result: 5 });
    expect(await (await post('/rpc?x=1')).json()).toEqual({ jsonrpc: '2.0', id: 1, result: 5 });
    // Everything else is the app's: its route, its 404, a POST elsewhere.
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe('app ok');
    const elsewhere = await post('/other');
    expect([elsewhere.status, await elsewhere.text()]).toEqual([404, 'app: not found']);
    await server.close();
    server = undefined;
    // The app's own request listener again, alone: a POST on /rpc is the app's now.
    expect(app.listenerCount('request')).toBe(1);
    const after = await post('/rpc');
    expect([after.status, await after.text()]).toEqual([404, 'app: not found']);
  });

  /** Two callstate servers attached to one app server, on /a and /b, beside the app's own request listener. */
  async function twoOnOneApp() {
    const appListener = (_request: IncomingMessage, response: ServerResponse) => void response.writeHead(404).end('app: not found');
    app = createServer(appListener);
    const rpc = {
      a: await serve({ server: app, path: '/a', methods: { who: () => 'a' } }),
      b: await serve({ server: app, path: '/b', methods: { who: () => 'b' } }),
    };
    const port = await listen(app);
    const post = async (path: string) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"jsonrpc":"2.0","id":1,"method":"who"}',
      });
      return [response.status, await response.text()];
    };
    return { appListener, rpc, port, post };
  }

  it('shares the app server with another serve() on another path: each takes its own, and an upgrade on a path neither takes is answered 404', async () => {
    const { rpc, port, post } = await twoOnOneApp();
    try {
      for (const path of ['/a', '/b'] as const) {
        client = connect(`ws://127.0.0.1:${port}${path}`);
        expect(await client.request('who')).toBe(path.slice(1));
        await client.close();
        expect(await post(path)).toEqual([200, `{"jsonrpc":"2.0","id":1,"result":"${path.slice(1)}"}`]);
      }
      // Each took the other's upgrade listener for the app's, and left the upgrade unanswered, its socket open.
      expect(await rawHttp(port, upgrade('/c'))).toMatch(/^HTTP\/1.1 404 Not Found\r\n/);
      expect(await post('/c')).toEqual([404, 'app: not found']);
    } finally {
      await Promise.all([rpc.a.close(), rpc.b.close()]);
    }
  });

  it('gives the app its path and listeners back whichever of two serve() on one app server closes first', async () => {
    for (const [first, second] of [
      ['a', 'b'],
      ['b', 'a'],
    ] as const) {
      const { appListener, rpc, post } = await twoOnOneApp();
      await rpc[first].close();
      // Closed first, /a stayed wrapped in /b's listener and answered -32000 there for good.
      expect(await post(`/${first}`)).toEqual([404, 'app: not found']);
      expect(await post(`/${second}`)).toEqual([200, `{"jsonrpc":"2.0","id":1,"result":"${second}"}`]);
      await rpc[second].close();
      expect(app!.listeners('request')).toEqual([appListener]);
      expect(app!.listenerCount('upgrade')).toBe(0);
      expect(await post(`/${first}`)).toEqual([404, 'app: not found']);
      app!.closeAllConnections();
      await new Promise((resolve) => app!.close(resolve));
    }
  });

  it('refuses with TypeError a second serve() on a path another takes on the same server (its first upgrade threw from ws)', async () => {
    app = makeApp();
    server = await serve({ server: app, path: '/rpc', methods: { echo: (p: unknown) => p } });
    await expect(serve({ server: app, path: '/rpc', methods: {} })).rejects.toThrow(
      new TypeError('options.path "/rpc" is taken on this server by another serve() already: give each its own path'),
    );
    await listen(app);
    client = connect(server.url);
    expect(await client.request('echo', [1])).toEqual([1]);
  });

  it('answers no 404 of its own over a request listener the app adds after attaching', async () => {
    app = createServer();
    server = await serve({ server: app, path: '/rpc', methods: { echo: (p: unknown) => p } });
    // The app's route, added once callstate is attached: its answer was preceded by callstate's 404 (and its own end() threw).
    const errors: unknown[] = [];
    app.on('request', (request: IncomingMessage, response: ServerResponse) => {
      response.on('error', (error) => errors.push(error));
      if (request.url === '/health') response.end('app ok');
    });
    const port = await listen(app);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect([health.status, await health.text()]).toEqual([200, 'app ok']);
    expect(errors).toEqual([]);
  });

  it('refuses contradictory options', async () => {
    app = makeApp();
    await expect(serve({ server: app, port: 0, methods: {} })).rejects.toThrow(
      new TypeError('options.port and options.server cannot be used together: give one of port, server or noServer'),
    );
    await expect(serve({ server: app, host: '::', methods: {} })).rejects.toThrow(TypeError);
    await expect(serve({ noServer: true, path: '/rpc', methods: {} })).rejects.toThrow(TypeError);
    await expect(serve({ server: {} as HttpServer, methods: {} })).rejects.toThrow(
      new TypeError('options.server must be an http.Server or https.Server'),
    );
    await expect(serve({ server: app, path: 'rpc', methods: {} })).rejects.toThrow(
      new TypeError(`options.path must be a path starting with '/' (no query, fragment or whitespace), got "rpc"`),
    );
  });
});

describe('serve({ host }) on its own listener', () => {
  it('names loopback in its URLs when bound to every interface (0.0.0.0 or ::), where a client on this machine connects', async () => {
    for (const [host, shown] of [
      ['0.0.0.0', '127.0.0.1'],
      ['::', '[::1]'],
    ]) {
      server = await serve({ host, methods: { echo: (p: unknown) => p } });
      expect([server.url, server.httpUrl]).toEqual([`ws://${shown}:${server.port}`, `http://${shown}:${server.port}/`]);
      client = connect(server.url);
      expect(await client.request('echo', [host])).toEqual([host]);
      await client.close();
      await server.close();
    }
  });

  it('refuses a blank host, which Node would take for every interface and whose URL (ws://:8080) leads nowhere', async () => {
    for (const host of ['', ' ']) {
      await expect(serve({ host, methods: {} })).rejects.toThrow(
        new TypeError(`options.host must be an interface's address or name ('0.0.0.0' or '::' for every interface), got "${host}"`),
      );
    }
  });
});

describe('serve({ path }) on its own listener', () => {
  it('answers 404 to upgrades on other paths', async () => {
    server = await serve({ path: '/rpc', methods: { echo: (p: unknown) => p } });
    expect(server.url).toBe(`ws://127.0.0.1:${server.port}/rpc`);
    expect(await rawHttp(server.port, upgrade('/'))).toMatch(/^HTTP\/1.1 404 Not Found\r\n/);
    client = connect(server.url);
    expect(await client.request('echo', [1])).toEqual([1]);
  });
});

describe('serve({ noServer: true })', () => {
  it('takes the upgrades the app hands to handleUpgrade, with the access check', async () => {
    server = await serve({
      noServer: true,
      authenticate: (request) => request.headers.authorization === 'Bearer good',
      methods: { echo: (p: unknown) => p },
    });
    expect([server.port, server.url]).toEqual([0, '']);
    const rpc = server;
    app = makeApp();
    app.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (request.url?.startsWith('/api/ws')) rpc.handleUpgrade(request, socket, head);
      else socket.destroy();
    });
    const port = await listen(app);
    client = connect(`ws://127.0.0.1:${port}/api/ws`, { headers: { Authorization: 'Bearer good' } });
    expect(await client.request('echo', [1])).toEqual([1]);
    await client.close();

    client = connect(`ws://127.0.0.1:${port}/api/ws`);
    expect((await settle(client.ready)).error.message).toMatch(/HTTP 401 Unauthorized/);
    await server.close();
    expect(app.listening).toBe(true);
  });
  it('leaves an upgrade the app hands to two servers to the first, with or without authenticate (ws threw from the second)', async () => {
    for (const authenticate of [undefined, () => true]) {
      const v1 = await serve({ noServer: true, authenticate, methods: { who: () => 'v1' } });
      const v2 = await serve({ noServer: true, authenticate, methods: { who: () => 'v2' } });
      const thrown: unknown[] = [];
      app = makeApp();
      // A routing mistake: '/api/v2' matches both.
      app.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        try {
          if (request.url!.startsWith('/api')) v1.handleUpgrade(request, socket, head);
          if (request.url!.startsWith('/api/v2')) v2.handleUpgrade(request, socket, head);
        } catch (error) {
          thrown.push(error);
        }
      });
      const port = await listen(app);
      client = connect(`ws://127.0.0.1:${port}/api/v2`);
      expect(await client.request('who')).toBe('v1');
      expect([thrown, v1.connections.size, v2.connections.size]).toEqual([[], 1, 0]);
      await client.close();
      await Promise.all([v1.close(), v2.close()]);
      await new Promise((resolve) => app!.close(resolve));
    }
  });

  it("runs the access check on an upgrade handed over with a Duplex of the app's own, not request.socket, as ws takes it", async () => {
    const seen: Array<string | undefined> = [];
    server = await serve({
      noServer: true,
      // Without the fix the check's verdict found no upgrade under request.socket: 408 at upgradeTimeout.
      upgradeTimeout: 2_000,
      authenticate: (request) => (seen.push(request.remoteAddress), request.headers.authorization === 'Bearer good'),
      methods: { echo: (p: unknown) => p },
    });
    const rpc = server;
    app = makeApp();
    app.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => rpc.handleUpgrade(request, relay(socket), head));
    const port = await listen(app);
    client = connect(`ws://127.0.0.1:${port}`, { headers: { Authorization: 'Bearer good' } });
    expect(await client.request('echo', [1])).toEqual([1]);
    expect(seen).toEqual(['127.0.0.1']);
    await client.close();
    client = connect(`ws://127.0.0.1:${port}`);
    expect((await settle(client.ready)).error.message).toMatch(/HTTP 401 Unauthorized/);
  });

  it('answers 503 to an upgrade the app hands over once closed (it was dropped unanswered: "socket hang up")', async () => {
    server = await serve({ noServer: true, methods: {} });
    const rpc = server;
    app = makeApp();
    app.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => rpc.handleUpgrade(request, socket, head));
    const port = await listen(app);
    await server.close();
    expect(await rawHttp(port, upgrade('/'))).toMatch(/^HTTP\/1.1 503 Service Unavailable\r\n/);
    client = connect(`ws://127.0.0.1:${port}`);
    const refused = await settle(client.ready);
    expect(refused.error).toBeInstanceOf(ConnectionClosedError);
    expect(refused.error.message).toMatch(/refused the connection with HTTP 503 Service Unavailable/);
  });
});

describe("JSON-RPC over HTTP POST on the app's server", () => {
  /** POSTs a whole request on a new TCP connection; returns what came back and whether the socket closed. */
  function rawPost(port: number, path: string, body: string) {
    const socket = tcpConnect(port, '127.0.0.1');
    let answer = '';
    let closed = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', () => {});
    socket.on('close', () => (closed = true));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    return { answer: () => answer, closed: () => closed };
  }

  it('noServer: handleRequest answers on whatever path the app routed to it, as handleUpgrade does', async () => {
    server = await serve({ noServer: true, methods: { add: ([a, b]: [number, number]) => a + b } });
    const rpc = server;
    app = createServer((request, response) => {
      if (request.url?.startsWith('/api/rpc')) rpc.handleRequest(request, response);
      else response.writeHead(404).end('app: not found');
    });
    const port = await listen(app);
    const answer = await fetch(`http://127.0.0.1:${port}/api/rpc?v=1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}',
    });
    expect([answer.status, await answer.json()]).toEqual([200, { jsonrpc: '2.0', id: 1, result: 5 }]);
  });

  it('noServer: runs a request the app hands over twice (to one server or two) once, answered by the first', async () => {
    const runs: string[] = [];
    const v1 = await serve({ noServer: true, methods: { pay: () => (runs.push('v1'), 'v1') } });
    const v2 = await serve({ noServer: true, methods: { pay: () => (runs.push('v2'), 'v2') } });
    try {
      // A routing mistake: '/api/v2' matches both, and '/again' goes to v1 twice.
      app = createServer((request, response) => {
        if (request.url!.startsWith('/api')) v1.handleRequest(request, response);
        if (request.url!.startsWith('/api/v2')) v2.handleRequest(request, response);
        if (request.url === '/again') for (let i = 0; i < 2; i++) v1.handleRequest(request, response);
      });
      const port = await listen(app);
      for (const path of ['/api/v2', '/again']) {
        const answer = await fetch(`http://127.0.0.1:${port}${path}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: '{"jsonrpc":"2.0","id":1,"method":"pay"}',
        });
        expect([answer.status, await answer.json()]).toEqual([200, { jsonrpc: '2.0', id: 1, result: 'v1' }]);
      }
      expect(runs).toEqual(['v1', 'v1']); // not ['v1', 'v2', 'v1', 'v1']
    } finally {
      await Promise.all([v1.close(), v2.close()]);
    }
  });

  it('noServer: a request handed over after its client went away takes no place of maxConnections (it held one for good)', async () => {
    server = await serve({ noServer: true, maxConnections: 1, methods: { echo: (params) => params } });
    const rpc = server;
    const held: Array<{ request: IncomingMessage; response: ServerResponse }> = [];
    // An app whose middleware awaits something (a session lookup) before routing: the first request is held back.
    app = createServer((request, response) => {
      if (held.length === 0) held.push({ request, response });
      else rpc.handleRequest(request, response);
    });
    const port = await listen(app);
    const body = '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}';
    const gone = tcpConnect(port, '127.0.0.1');
    gone.on('error', () => {});
    gone.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await until(() => held.length === 1, 'the first request');
    const closed = once(held[0]!.response, 'close');
    gone.destroy();
    await closed;
    rpc.handleRequest(held[0]!.request, held[0]!.response);
    const answer = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    expect([answer.status, await answer.text()]).toEqual([200, '{"jsonrpc":"2.0","id":1,"result":[1]}']); // not 503 (maxConnections: 1)
  });

  it('noServer: close() resolves once a notification running on a keep-alive connection ends, not after closeTimeout', async () => {
    const release = deferred();
    let running = 0;
    server = await serve({
      noServer: true,
      // Far longer than the hang detector below: close() must not wait for it.
      closeTimeout: 60_000,
      methods: {
        hold: async () => {
          running++;
          await release.promise;
        },
      },
    });
    const rpc = server;
    app = createServer((request, response) => rpc.handleRequest(request, response));
    const port = await listen(app);
    // A client that keeps its connection open after the 204 (the app's, which callstate leaves open).
    const body = '{"jsonrpc":"2.0","method":"hold","params":[]}';
    const socket = tcpConnect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await until(() => received.startsWith('HTTP/1.1 204'), 'the 204');
    await until(() => running === 1, 'the handler running');
    const closed = server.close();
    release.resolve();
    await orHang(closed, 'close() once nothing runs');
  });

  it('noServer: once closed, a POSTed notification runs nothing and a request is answered -32000', async () => {
    let runs = 0;
    const notified: unknown[] = [];
    server = await serve({ noServer: true, methods: { log: () => void runs++ } });
    server.on('notification', (event) => notified.push(event));
    const rpc = server;
    app = createServer((request, response) => rpc.handleRequest(request, response));
    const port = await listen(app);
    const post = (body: string) =>
      fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
    await server.close();
    expect((await post('{"jsonrpc":"2.0","method":"log","params":[1]}')).status).toBe(204);
    expect(await (await post('{"jsonrpc":"2.0","id":1,"method":"log"}')).json()).toMatchObject({ id: 1, error: { code: -32000 } });
    expect(notified).toEqual([{ method: 'log', params: [1] }]);
    expect(runs).toBe(0);
  });

  it('close() aborts the HTTP handlers still running after closeTimeout, attached and in noServer mode, and drops their connections', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let started = 0;
    const reasons: unknown[] = [];
    const methods = {
      hang: (_params: unknown, ctx: { signal: AbortSignal }) => {
        started++;
        ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
        return new Promise(() => {});
      },
    };
    const attached = await serve({ server: (app = makeApp()), path: '/rpc', closeTimeout: 1_000, methods });
    const noServer = await serve({ noServer: true, closeTimeout: 1_000, methods });
    const other = createServer((request, response) => noServer.handleRequest(request, response));
    try {
      const ports = [await listen(app), await listen(other)];
      const body = '{"jsonrpc":"2.0","id":1,"method":"hang"}';
      const posts = [rawPost(ports[0]!, '/rpc', body), rawPost(ports[1]!, '/', body)];
      await until(() => started === 2, 'both handlers to start');
      let closed = 0;
      const closing = [attached.close(), noServer.close()].map((done) => done.then(() => closed++));
      await new Promise((resolve) => setImmediate(resolve));
      expect([closed, reasons.length]).toEqual([0, 0]); // within closeTimeout the handlers may still answer
      vi.advanceTimersByTime(1_000);
      await Promise.all(closing);
      expect(reasons).toHaveLength(2);
      await until(() => posts.every((p) => p.closed()), 'both connections dropped');
      expect(posts.map((p) => p.answer())).toEqual(['', '']); // nothing answered
      expect(app.listening && other.listening).toBe(true); // the apps' servers stay up
    } finally {
      other.closeAllConnections();
      if (other.listening) await new Promise((resolve) => other.close(resolve));
    }
  });

  /** POSTs a body that stops after its first bytes; returns what came back and whether the socket closed. */
  function stalledPost(port: number, path: string) {
    const socket = tcpConnect(port, '127.0.0.1');
    let answer = '';
    let closed = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('close', () => (closed = true));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jsonrpc"`);
    return { answer: () => answer, closed: () => closed };
  }

  it('answers 408 to a POST whose authenticate never answers, attached, and runs nothing when it answers later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const decide = deferred<boolean>();
    let runs = 0;
    server = await serve({
      server: (app = makeApp()),
      path: '/rpc',
      upgradeTimeout: 5_000,
      authenticate: () => decide.promise,
      methods: { count: () => ++runs },
    });
    let seen = 0;
    app.on('request', () => seen++);
    const port = await listen(app);
    const post = rawPost(port, '/rpc', '{"jsonrpc":"2.0","id":1,"method":"count"}');
    await until(() => seen === 1, 'the request to arrive');
    vi.advanceTimersByTime(5_000);
    await until(() => post.closed(), 'the socket to close');
    expect(post.answer()).toMatch(
      /^HTTP\/1\.1 408 Request Timeout\r\n[^]*\r\n\r\nauthenticate did not answer within 5000 ms \(upgradeTimeout\)$/,
    );
    decide.resolve(true);
    await new Promise((resolve) => setImmediate(resolve));
    expect(runs).toBe(0);
  });

  it('answers 408 to a body that stops coming, attached (serve({ server })) and in noServer mode, at upgradeTimeout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let runs = 0;
    const methods = { count: () => ++runs };
    const attached = await serve({ server: (app = makeApp()), path: '/rpc', upgradeTimeout: 5_000, methods });
    const noServer = await serve({ noServer: true, upgradeTimeout: 5_000, methods });
    const other = createServer((request, response) => noServer.handleRequest(request, response));
    try {
      let seen = 0;
      app.on('request', () => seen++);
      other.on('request', () => seen++);
      const ports = [await listen(app), await listen(other)];
      const stalled = [stalledPost(ports[0]!, '/rpc'), stalledPost(ports[1]!, '/')];
      await until(() => seen === 2, 'both requests to arrive');
      vi.advanceTimersByTime(4_999);
      await new Promise((resolve) => setImmediate(resolve));
      expect(stalled.map((s) => s.answer())).toEqual(['', '']);
      vi.advanceTimersByTime(1);
      await until(() => stalled.every((s) => s.closed()), 'both sockets to close');
      for (const { answer } of stalled) {
        expect(answer()).toMatch(
          /^HTTP\/1\.1 408 Request Timeout\r\n[^]*\r\n\r\nthe request body did not arrive within 5000 ms \(upgradeTimeout\)$/,
        );
      }
      expect(runs).toBe(0);
    } finally {
      server = attached;
      await noServer.close();
      other.closeAllConnections();
      if (other.listening) await new Promise((resolve) => other.close(resolve));
    }
  });
});
