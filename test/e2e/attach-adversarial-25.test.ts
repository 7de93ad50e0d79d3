/**
 * callstate inside an existing app's server, as a demanding user drives it: `serve({ server, path })` attached
 * to the app's `http.Server` (listeners the app adds with `once()`, attach and close cycles), and
 * `serve({ noServer: true })` fed by the app's own routing. Real sockets on 127.0.0.1.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { connect, serve, type Server } from '../../src/index.js';
import { orHang, rawHttp } from '../helpers.js';

const opened: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

/** `app` listening on 127.0.0.1 (closed after the test, its connections too); its port. */
async function listen(app: HttpServer): Promise<number> {
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  opened.push(() => new Promise((resolve) => (app.closeAllConnections(), app.close(resolve))));
  return (app.address() as { port: number }).port;
}

const CALL = '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}';

/** A JSON-RPC POST of CALL to `path` that asks to be told to send its body (and closes after the answer). */
const expectContinue = (path: string) =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n` +
  `Content-Length: ${CALL.length}\r\nConnection: close\r\n\r\n${CALL}`;

/** A callstate server attached to `app` on `path`, closed after the test if it is not already. */
async function attached(app: HttpServer, path = '/rpc'): Promise<Server> {
  const server = await serve({ server: app, path, methods: { echo: (p: unknown) => p } });
  opened.push(() => server.close());
  return server;
}

describe("serve({ server }) and the app's once('request') listeners", () => {
  it('drops a once() listener once it ran while attached: spent, it was still handed requests and given back, answering nothing', async () => {
    const app = createServer();
    const first = (_request: IncomingMessage, response: ServerResponse) => void response.end('first');
    app.once('request', first);
    const server = await attached(app);
    const port = await listen(app);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('first');
    // Spent, and the app has no other listener: answered 404 as on an app with none (it was handed to the spent
    // wrapper and never answered).
    const second = await orHang(fetch(`http://127.0.0.1:${port}/`), 'a request after the once() listener ran');
    expect(second.status).toBe(404);
    await server.close();
    // Put back with on(), the spent once-wrapper stayed on the app's server: counted as a request listener, and
    // (being the app's only one) every later request went to it and was never answered.
    expect(app.listenerCount('request')).toBe(0);
    const later = (_request: IncomingMessage, response: ServerResponse) => void response.end('later');
    app.on('request', later);
    expect(app.rawListeners('request')).toEqual([later]);
    expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('later');
  });

  it('gives the app back a once() listener that never ran, still once', async () => {
    const calls: string[] = [];
    const app = createServer((_request, response) => void response.end('app'));
    const onFirst = (request: IncomingMessage) => void calls.push(request.url!);
    app.once('request', onFirst);
    const server = await attached(app);
    const port = await listen(app);
    await server.close();
    expect(app.listeners('request')).toHaveLength(2);
    expect(app.listeners('request')[1]).toBe(onFirst);
    for (const path of ['/1', '/2']) expect(await (await fetch(`http://127.0.0.1:${port}${path}`)).text()).toBe('app');
    expect(calls).toEqual(['/1']);
    expect(app.listenerCount('request')).toBe(1);
  });
});

describe("serve({ server }) and the app's own 'upgrade' listener", () => {
  it("takes its path from an upgrade listener in ws's README shape (its paths routed, every other socket destroyed)", async () => {
    const app = createServer((_request, response) => void response.end('app'));
    const chat = new WebSocketServer({ noServer: true });
    opened.push(() => new Promise((resolve) => chat.close(resolve)));
    // As ws's README routes several servers on one port (and docs/existing-app.md points to it): the app's
    // listener destroyed callstate's socket too, and its client could only say "socket hang up".
    const appUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (request.url === '/chat') chat.handleUpgrade(request, socket, head, (ws) => ws.send('chat ok'));
      else socket.destroy();
    };
    app.on('upgrade', appUpgrade);
    const server = await attached(app);
    const port = await listen(app);
    const client = connect(server.url);
    opened.push(() => client.close());
    expect(await orHang(client.request('echo', [1]), "a call on callstate's path")).toEqual([1]);
    const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
    const [message] = (await once(ws, 'message')) as [Buffer];
    expect(message.toString()).toBe('chat ok');
    ws.close();
    await server.close();
    expect(app.rawListeners('upgrade')).toEqual([appUpgrade]);
  });
});

describe("serve({ server }) giving the app's listeners back", () => {
  it('gives them back in their order, around one the app added while attached', async () => {
    const before = (_request: IncomingMessage, response: ServerResponse) => void response.end('before');
    const app = createServer(before);
    const server = await attached(app);
    const since = () => {};
    app.on('request', since);
    await server.close();
    // The ones taken were put back after every other: the app's later one now ran first.
    expect(app.rawListeners('request')).toEqual([before, since]);
  });
});

describe("serve({ server }) on an app with a 'checkContinue' listener", () => {
  it("answers a POST with Expect: 100-continue on its path itself; the app's listener gets the others", async () => {
    const app = createServer((_request, response) => void response.end('app'));
    const refused: string[] = [];
    app.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
      refused.push(request.url!);
      response.writeHead(417).end('the app expects nothing');
    });
    await attached(app);
    const port = await listen(app);
    // Node emits such a request as 'checkContinue' when the server has a listener for it: the app's answered
    // callstate's calls (here, 417).
    const answer = await rawHttp(port, expectContinue('/rpc'));
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\n\r\n\{"jsonrpc":"2\.0","id":1,"result":\[1\]\}$/);
    expect(await rawHttp(port, expectContinue('/other'))).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
    expect(refused).toEqual(['/other']);
  });

  it("on an app with none, still answers Expect: 100-continue on the app's paths as Node does: 100, then the app's request listener", async () => {
    const seen: string[] = [];
    const app = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        seen.push(`${request.url} ${body.length}`);
        response.end('app');
      });
    });
    await attached(app);
    const port = await listen(app);
    expect(await rawHttp(port, expectContinue('/other'))).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\napp$/);
    expect(seen).toEqual([`/other ${CALL.length}`]);
    expect(await rawHttp(port, expectContinue('/rpc'))).toMatch(/\r\n\r\n\{"jsonrpc":"2\.0","id":1,"result":\[1\]\}$/);
    expect(app.listenerCount('checkContinue')).toBe(1);
  });

  it('gives the app back its checkContinue listeners, and leaves none of its own, on close', async () => {
    const app = createServer((_request, response) => void response.end('app'));
    const mine = (_request: IncomingMessage, response: ServerResponse) => void response.writeHead(417).end();
    app.on('checkContinue', mine);
    const server = await attached(app);
    await listen(app);
    expect(app.listeners('checkContinue')).not.toContain(mine);
    await server.close();
    expect(app.listeners('checkContinue')).toEqual([mine]);
    const bare = createServer();
    await (await attached(bare)).close();
    expect(bare.listenerCount('checkContinue')).toBe(0);
  });
});

describe('serve({ noServer: true }).handleRequest given a request the app began reading', () => {
  /** A noServer callstate server behind an app that does `before` to each request, then hands it over. */
  async function behind(before: (request: IncomingMessage) => Promise<void> | void): Promise<number> {
    // A short deadline: a body waited for in vain is answered 408 well within the test's time.
    const server = await serve({ noServer: true, upgradeTimeout: 1_000, methods: { echo: (p: unknown) => p } });
    opened.push(() => server.close());
    const app = createServer((request, response) => {
      void (async () => {
        await before(request);
        server.handleRequest(request, response);
      })();
    });
    return listen(app);
  }

  const post = `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${CALL.length}\r\nConnection: close\r\n\r\n${CALL}`;

  it('reads a body the app paused (a middleware that stopped the stream) instead of waiting for it until upgradeTimeout', async () => {
    const port = await behind((request) => {
      request.on('data', () => {});
      request.pause();
    });
    // Paused, the body never came to callstate's 'data' listener: 408 "the request body did not arrive", blaming the client.
    expect(await rawHttp(port, post)).toMatch(/\r\n\r\n\{"jsonrpc":"2\.0","id":1,"result":\[1\]\}$/);
  });

  it('answers 500 to a request whose body the app read in part, as to one it read whole', async () => {
    const port = await behind(async (request) => {
      await once(request, 'readable');
      request.read(5);
    });
    // The rest was parsed as the body: -32700 quoting 'nrpc":"2.0"...', as if the client had sent that.
    expect(await rawHttp(port, post)).toMatch(
      /^HTTP\/1\.1 500 Internal Server Error\r\n[^]*\r\n\r\nthe request body was read before it reached callstate: hand the request over before any body parser$/,
    );
  });
});
