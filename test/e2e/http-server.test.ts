import { createServer, request as httpRequest, Agent, type IncomingHttpHeaders, type Server as HttpServer } from 'node:http';
import { connect as connectTcp, type AddressInfo, type Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { serve, NotSupportedError, type ConnectionInfo, type NotificationEvent, type Server } from '../../src/index.js';
import { closeAfterEach, deferred, until } from '../helpers.js';

let server: Server | undefined;
/** An app's own server, for tests that attach to one. */
let app: HttpServer | undefined;

closeAfterEach(() => [
  server,
  app && { close: () => new Promise((resolve) => (app!.close(resolve), app!.closeAllConnections(), (app = undefined))) },
]);

/** Writes raw `text` on a new TCP connection to `port`; `answer()` is what came back so far, `closed` whether it closed. */
function rawSocket(port: number, text: string): { socket: Socket; answer: () => string; closed: () => boolean } {
  const socket = connectTcp(port, '127.0.0.1');
  let answer = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (answer += chunk));
  socket.on('error', () => {});
  socket.on('close', () => (closed = true));
  socket.write(text);
  return { socket, answer: () => answer, closed: () => closed };
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One HTTP request with node:http (so nothing of ours is on the client side); `agent` keeps its TCP connection. */
function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer | string[]; agent?: Agent; path?: string } = {},
): Promise<Answer> {
  const target = new URL(options.path ?? '', url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      target,
      {
        method: options.method ?? 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        agent: options.agent ?? false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    // An array is written chunk by chunk (Transfer-Encoding: chunked, no Content-Length).
    if (Array.isArray(options.body)) for (const chunk of options.body) req.write(chunk);
    else if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const post = (body: string, headers?: Record<string, string>) => send(server!.httpUrl, { body, headers });
const json = (answer: Answer) => JSON.parse(answer.body) as unknown;

describe('JSON-RPC over HTTP POST: answers', () => {
  it('answers a request, a batch (notifications in it unanswered), and 204 for notifications alone', async () => {
    const notes: NotificationEvent[] = [];
    server = await serve({ methods: { add: ([a, b]: [number, number]) => a + b } });
    server.on('notification', (event) => notes.push(event));
    expect(server.httpUrl).toBe(`http://127.0.0.1:${server.port}/`);

    const single = await post('{"jsonrpc":"2.0","id":1,"method":"add","params":[1,2]}');
    expect(single.status).toBe(200);
    expect(single.headers['content-type']).toBe('application/json');
    expect(json(single)).toEqual({ jsonrpc: '2.0', id: 1, result: 3 });

    const batch = await post(
      '[{"jsonrpc":"2.0","id":"a","method":"add","params":[1,1]},{"jsonrpc":"2.0","method":"log","params":{"n":1}},{"jsonrpc":"2.0","id":"b","method":"missing"}]',
    );
    expect(batch.status).toBe(200);
    expect(json(batch)).toEqual(
      expect.arrayContaining([
        { jsonrpc: '2.0', id: 'a', result: 2 },
        { jsonrpc: '2.0', id: 'b', error: { code: -32601, message: 'method not found: missing' } },
      ]),
    );
    expect((json(batch) as unknown[]).length).toBe(2);

    const notification = await post('{"jsonrpc":"2.0","method":"log","params":{"n":2}}');
    expect(notification).toMatchObject({ status: 204, body: '' });
    const notifications = await post('[{"jsonrpc":"2.0","method":"log","params":{"n":3}},{"jsonrpc":"2.0","method":"log"}]');
    expect(notifications).toMatchObject({ status: 204, body: '' });
    expect(notes).toEqual([
      { method: 'log', params: { n: 1 } },
      { method: 'log', params: { n: 2 } },
      { method: 'log', params: { n: 3 } },
      { method: 'log', params: undefined },
    ]);
  });

  it('answers unparseable bodies -32700 and invalid requests -32600, as over WebSocket', async () => {
    server = await serve({ methods: {} });
    const unmatched: unknown[] = [];
    server.on('unmatched', ({ reason }) => unmatched.push(reason));
    expect(json(await post('{nope'))).toMatchObject({ id: null, error: { code: -32700 } });
    expect(json(await post('{"jsonrpc":"1.0","id":1,"method":"x"}'))).toMatchObject({ id: 1, error: { code: -32600 } });
    expect(await post('{"jsonrpc":"2.0","id":1,"result":1}')).toMatchObject({ status: 204 });
    expect(unmatched).toEqual(['malformed', 'malformed', 'unknown']);
  });

  it('gives handlers ctx.connection for the HTTP request, and a ctx.peer that cannot call back', async () => {
    const seen = deferred<{ connection: ConnectionInfo; call: unknown; notify: unknown }>();
    server = await serve({
      path: '/rpc',
      methods: {
        who: async (_params, ctx) => {
          const call = await ctx.peer.request('x').catch((error: unknown) => error);
          let notify: unknown;
          try {
            ctx.peer.notify('x');
          } catch (error) {
            notify = error;
          }
          seen.resolve({ connection: ctx.connection, call, notify });
          return 'ok';
        },
      },
    });
    expect(server.httpUrl).toBe(`http://127.0.0.1:${server.port}/rpc`);
    const answer = await send(server.httpUrl, {
      path: '/rpc?token=t',
      body: '{"jsonrpc":"2.0","id":1,"method":"who"}',
      headers: { 'x-user': 'ann' },
    });
    expect(json(answer)).toEqual({ jsonrpc: '2.0', id: 1, result: 'ok' });
    const { connection, call, notify } = await seen.promise;
    expect(connection).toMatchObject({ transport: 'http', remoteAddress: '127.0.0.1', url: '/rpc?token=t', data: undefined });
    expect(connection.headers['x-user']).toBe('ann');
    expect(call).toBeInstanceOf(NotSupportedError);
    expect((call as NotSupportedError).message).toBe('cannot call "x" on the caller: responders cannot call back over HTTP');
    expect(notify).toBeInstanceOf(NotSupportedError);
  });
});

describe('JSON-RPC over HTTP POST: what is not JSON-RPC', () => {
  it('answers 404 off the path, 426 to GET, 405 with Allow to other methods, 415 to other content types', async () => {
    let runs = 0;
    server = await serve({ path: '/rpc', methods: { count: () => ++runs } });
    const body = '{"jsonrpc":"2.0","id":1,"method":"count"}';
    expect((await send(server.httpUrl, { path: '/other', body })).status).toBe(404);
    const get = await send(server.httpUrl, { method: 'GET' });
    expect(get.status).toBe(426);
    expect(get.headers.upgrade).toBe('websocket');
    const put = await send(server.httpUrl, { method: 'PUT', body });
    expect(put.status).toBe(405);
    expect(put.headers.allow).toBe('POST, OPTIONS');
    const form = await send(server.httpUrl, { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(form).toMatchObject({ status: 415, body: 'Content-Type must be application/json' });
    expect((await send(server.httpUrl, { body, headers: { 'content-type': 'application/json; charset=utf-8' } })).status).toBe(200);
    expect(runs).toBe(1);
  });

  it('answers 415 to a charset other than UTF-8 and 400 to a body that is not UTF-8, not -32700 quoting UTF-16 or a call run on U+FFFD', async () => {
    const ran: unknown[] = [];
    server = await serve({ methods: { echo: (params: unknown) => (ran.push(params), params) } });
    const body = '{"jsonrpc":"2.0","id":1,"method":"echo","params":["café"]}';
    const utf16 = await send(server.httpUrl, {
      body: Buffer.from(`\ufeff${body}`, 'utf16le'),
      headers: { 'content-type': 'application/json; charset=UTF-16', origin: 'https://app.example' },
    });
    expect(utf16).toMatchObject({
      status: 415,
      body: 'charset UTF-16 is not supported: send the body in UTF-8 (JSON text is UTF-8: RFC 8259)',
    });
    expect(utf16.headers).toMatchObject({ 'access-control-allow-origin': '*' });
    // Latin-1 bytes, with or without saying so.
    for (const type of ['application/json; charset="ISO-8859-1"', 'application/json']) {
      const latin1 = await send(server.httpUrl, { body: Buffer.from(body, 'latin1'), headers: { 'content-type': type } });
      expect(latin1.status).toBe(type.endsWith('json') ? 400 : 415);
      if (latin1.status === 400) expect(latin1.body).toBe('the body is not valid UTF-8 (JSON text is UTF-8: RFC 8259)');
    }
    expect(ran).toEqual([]);
    for (const charset of ['utf-8', 'UTF8', '"utf-8"', 'us-ascii']) {
      const taken = await send(server.httpUrl, { body, headers: { 'content-type': `application/json; charset=${charset}` } });
      expect(JSON.parse(taken.body)).toEqual({ jsonrpc: '2.0', id: 1, result: ['café'] });
    }
    expect(ran).toHaveLength(4);
  });

  it('answers 415 (Content-Encoding: gzip) or 501 (Transfer-Encoding: gzip) to a compressed body, not -32700 quoting its bytes', async () => {
    let runs = 0;
    server = await serve({ methods: { count: () => ++runs } });
    const body = '{"jsonrpc":"2.0","id":1,"method":"count"}';
    const gzipped = await send(server.httpUrl, {
      body: gzipSync(body),
      headers: { 'content-encoding': 'gzip', origin: 'https://app.example' },
    });
    expect(gzipped).toMatchObject({ status: 415, body: 'Content-Encoding gzip is not supported: send the body uncompressed' });
    // RFC 7694: the codings taken; and the CORS headers, as on every refusal.
    expect(gzipped.headers).toMatchObject({ 'accept-encoding': 'identity', 'access-control-allow-origin': '*' });
    expect(runs).toBe(0);
    // A transfer coding Node does not decode either (it decodes chunked alone): RFC 9112 has it answered 501.
    const transfer = await send(server.httpUrl, { body: gzipSync(body), headers: { 'transfer-encoding': 'gzip, chunked' } });
    expect(transfer).toMatchObject({
      status: 501,
      body: 'Transfer-Encoding gzip, chunked is not supported: send the body chunked only, or with a Content-Length',
    });
    expect(runs).toBe(0);
    // `identity` is no coding at all.
    expect(json(await post(body, { 'content-encoding': 'Identity' }))).toMatchObject({ result: 1 });
    expect(json(await send(server.httpUrl, { body: [body], headers: { 'transfer-encoding': 'chunked' } }))).toMatchObject({ result: 2 });
  });

  it('takes a POST and an upgrade whose target is in absolute form (RFC 9112 §3.2.2) on its path, not 404', async () => {
    server = await serve({ path: '/rpc', methods: { echo: (p) => p } });
    const body = '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}';
    const target = (path: string) => `http://127.0.0.1:${server!.port}${path}`;
    const posted = (path: string) =>
      rawSocket(
        server!.port,
        `POST ${target(path)} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    const onPath = posted('/rpc?via=proxy');
    await until(onPath.closed, 'the answer on the path');
    expect(onPath.answer()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\{"jsonrpc":"2.0","id":1,"result":\[1\]\}$/);
    const offPath = posted('/other');
    await until(offPath.closed, 'the answer off the path');
    expect(offPath.answer()).toMatch(/^HTTP\/1\.1 404 /);
    const upgrade = rawSocket(
      server.port,
      `GET ${target('/rpc')} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    await until(() => upgrade.answer().includes('\r\n\r\n'), 'the answer to the upgrade');
    expect(upgrade.answer()).toMatch(/^HTTP\/1\.1 101 /);
    upgrade.socket.destroy();
  });

  it('answers 413 to a body past maxPayload, declared or chunked, without running it', async () => {
    let runs = 0;
    server = await serve({ maxPayload: 100, methods: { count: () => ++runs } });
    const big = `{"jsonrpc":"2.0","id":1,"method":"count","params":["${'x'.repeat(200)}"]}`;
    const declared = await post(big);
    expect(declared).toMatchObject({ status: 413, body: 'the body is larger than 100 bytes (maxPayload)' });
    expect(declared.headers.connection).toBe('close');
    const chunked = await send(server.httpUrl, { body: [big.slice(0, 60), big.slice(60, 120), big.slice(120)] });
    expect(chunked.status).toBe(413);
    expect(runs).toBe(0);
    expect(json(await post('{"jsonrpc":"2.0","id":1,"method":"count"}'))).toMatchObject({ result: 1 });
  });
});

describe('JSON-RPC over HTTP POST: limits', () => {
  it('answers 408 to a body that stops coming, within about upgradeTimeout (counted from its headers)', async () => {
    let runs = 0;
    server = await serve({ upgradeTimeout: 200, methods: { count: () => ++runs } });
    const socket = connectTcp(server.port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jsonrpc"');
    await new Promise((resolve) => socket.once('close', resolve));
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(runs).toBe(0);
  });

  it('answers that 408 with the CORS headers of an allowed origin, also after slow headers (Node would answer first, without them)', async () => {
    const ms = 300;
    server = await serve({ upgradeTimeout: ms, origins: ['https://app.example'], methods: {} });
    const port = server.port;
    // Node's own requestTimeout counts from a request's first byte and is checked every `ms`; the endpoint's
    // 408 from its headers. Headers that take 0.8 ms leave the endpoint's deadline last in all but a 0.2 ms
    // slice of Node's checking phase: of three requests a third of `ms` apart, at most one falls in it.
    const slow = (delay: number) =>
      new Promise<string>((resolve) => {
        setTimeout(() => {
          const socket = connectTcp(port, '127.0.0.1');
          let answer = '';
          socket.setEncoding('utf8');
          socket.on('data', (chunk: string) => (answer += chunk));
          socket.on('error', () => {});
          socket.on('close', () => resolve(answer));
          socket.write('POST / HTTP/1.1\r\nHost: x\r\n');
          setTimeout(
            () => socket.write('Origin: https://app.example\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"jsonrpc"'),
            0.8 * ms,
          );
        }, delay);
      });
    const answers = await Promise.all([slow(0), slow(ms / 3), slow((2 * ms) / 3)]);
    for (const answer of answers) {
      expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(answer).toMatch(/\r\nAccess-Control-Allow-Origin: https:\/\/app\.example\r\n/);
      expect(answer).toMatch(/\r\n\r\nthe request body did not arrive within 300 ms \(upgradeTimeout\)$/);
    }
  });

  it('applies maxBatch, maxDepth and handlerTimeout as over WebSocket', async () => {
    server = await serve({ maxBatch: 2, maxDepth: 3, handlerTimeout: 20, methods: { echo: (p) => p, hang: () => new Promise(() => {}) } });
    const call = '{"jsonrpc":"2.0","id":1,"method":"echo"}';
    expect(json(await post(`[${call},${call},${call}]`))).toMatchObject({ id: null, error: { code: -32600 } });
    expect(json(await post('{"jsonrpc":"2.0","id":1,"method":"echo","params":[[[1]]]}'))).toMatchObject({
      id: null,
      error: { code: -32600 },
    });
    expect(json(await post('{"jsonrpc":"2.0","id":1,"method":"hang"}'))).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: {
        code: -32001,
        message: 'method "hang" did not finish within 20 ms (handlerTimeout)',
        data: { method: 'hang', handlerTimeout: 20 },
      },
    });
  });

  it('counts maxInFlightPerConnection per TCP connection', async () => {
    const release = deferred();
    let running = 0;
    server = await serve({
      maxInFlightPerConnection: 2,
      methods: {
        wait: async () => {
          running++;
          await release.promise;
          return 'done';
        },
        now: () => 'now',
      },
    });
    const call = (id: number, method = 'wait') => `{"jsonrpc":"2.0","id":${id},"method":"${method}"}`;
    const held = post(`[${call(1)},${call(2)},${call(3)}]`);
    await until(() => running === 2, 'two handlers running');
    // Another TCP connection has its own count.
    expect(json(await post(call(4, 'now')))).toMatchObject({ id: 4, result: 'now' });
    release.resolve();
    const answers = json(await held) as Array<{ id: number; result?: unknown; error?: { code: number; message: string } }>;
    expect(answers.find((a) => a.id === 3)?.error).toMatchObject({
      code: -32000,
      message: 'server busy: 2 calls already in flight on this connection (maxInFlightPerConnection); "wait" was not run',
    });
    expect(
      answers
        .filter((a) => a.result === 'done')
        .map((a) => a.id)
        .sort(),
    ).toEqual([1, 2]);
  });

  it('counts maxInFlightBytesPerConnection per TCP connection, each call of a batch counting its own text', async () => {
    const release = deferred();
    let running = 0;
    server = await serve({
      maxInFlightBytesPerConnection: 1000,
      methods: {
        wait: async () => {
          running++;
          await release.promise;
          return 'done';
        },
      },
    });
    const call = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'wait', params: ['x'.repeat(400)] });
    // About 450 characters each: two fit in 1,000, the third would not.
    const held = post(`[${call(1)},${call(2)},${call(3)}]`);
    await until(() => running === 2, 'two handlers running');
    release.resolve();
    const answers = json(await held) as Array<{ id: number; result?: unknown; error?: { code: number; data?: unknown } }>;
    expect(answers.find((a) => a.id === 3)?.error).toMatchObject({ code: -32000, data: { maxInFlightBytesPerConnection: 1000 } });
    expect(answers.filter((a) => a.result === 'done').length).toBe(2);
  });

  it('aborts ctx.signal when the HTTP client goes away, and answers nothing', async () => {
    const aborted = deferred<unknown>();
    const started = deferred();
    server = await serve({
      methods: {
        slow: (_params, ctx) =>
          new Promise((resolve) => {
            started.resolve();
            ctx.signal.addEventListener('abort', () => {
              aborted.resolve(ctx.signal.reason);
              resolve('late');
            });
          }),
      },
    });
    const controller = new AbortController();
    const call = fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"slow"}',
      signal: controller.signal,
    }).catch((error: unknown) => error);
    await started.promise;
    controller.abort();
    expect(((await call) as Error).name).toBe('AbortError');
    await aborted.promise;
  });

  it("runs a notification's handler to its end when the connection closes after its 204 (Connection: close, HTTP/1.0), not aborted", async () => {
    const release = deferred();
    const outcomes: string[] = [];
    let running = 0;
    server = await serve({
      methods: {
        log: async ([who]: [string], ctx) => {
          running++;
          await release.promise;
          outcomes.push(`${who}: ${ctx.signal.aborted ? 'aborted' : 'done'}`);
        },
      },
    });
    const note = (who: string) => `{"jsonrpc":"2.0","method":"log","params":["${who}"]}`;
    const asked = rawSocket(
      server.port,
      `POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${note('close').length}\r\n\r\n${note('close')}`,
    );
    const old = rawSocket(
      server.port,
      `POST / HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${note('1.0').length}\r\n\r\n${note('1.0')}`,
    );
    // The server answered 204 and closed each connection itself, as asked: nothing says the notifications are unwanted.
    await until(() => asked.closed() && old.closed() && running === 2, 'both answered and closed');
    expect([asked.answer(), old.answer()].map((answer) => answer.split('\r\n')[0])).toEqual([
      'HTTP/1.1 204 No Content',
      'HTTP/1.1 204 No Content',
    ]);
    release.resolve();
    await until(() => outcomes.length === 2, 'both handlers ended');
    expect(outcomes.sort()).toEqual(['1.0: done', 'close: done']); // they were aborted as the connections closed
  });

  it('close() aborts a notification still running on a connection that has closed, after closeTimeout', async () => {
    const aborted = deferred();
    let running = 0;
    server = await serve({
      closeTimeout: 50,
      methods: {
        hang: (_params, ctx) => {
          running++;
          ctx.signal.addEventListener('abort', () => aborted.resolve());
          return new Promise(() => {});
        },
      },
    });
    const body = '{"jsonrpc":"2.0","method":"hang","params":[]}';
    const posted = rawSocket(
      server.port,
      `POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await until(() => posted.closed() && running === 1, 'answered and closed');
    await server.close();
    await aborted.promise;
  });

  it('keeps a keep-alive connection past upgradeTimeout: the upgrade deadline is not an HTTP one', async () => {
    server = await serve({ upgradeTimeout: 30, methods: { echo: (p) => p } });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    agent.on('free', (socket) => sockets.add(socket));
    try {
      const body = '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}';
      expect((await send(server.httpUrl, { body, agent })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 100)); // past the 30 ms upgrade deadline
      expect(json(await send(server.httpUrl, { body, agent }))).toMatchObject({ result: [1] });
      expect(sockets.size).toBe(1); // the same TCP connection answered both
    } finally {
      agent.destroy();
    }
  });

  it('close() ends keep-alive connections and aborts handlers still running on them', async () => {
    const aborted = deferred();
    const started = deferred();
    server = await serve({
      closeTimeout: 50,
      methods: {
        echo: (p) => p,
        hang: (_params, ctx) => {
          started.resolve();
          ctx.signal.addEventListener('abort', () => aborted.resolve());
          return new Promise(() => {});
        },
      },
    });
    const agent = new Agent({ keepAlive: true });
    try {
      expect((await send(server.httpUrl, { body: '{"jsonrpc":"2.0","id":1,"method":"echo"}', agent })).status).toBe(200);
      const hanging = send(server.httpUrl, { body: '{"jsonrpc":"2.0","id":2,"method":"hang"}', agent }).catch((error: Error) => error);
      await started.promise;
      await server.close();
      await aborted.promise;
      expect(await hanging).toBeInstanceOf(Error); // the socket was dropped: no answer
    } finally {
      agent.destroy();
    }
  });
});

describe('HTTP and WebSocket on one port', () => {
  it('upgrades a TCP connection that first carried a POST (and bounds the upgrade by its own deadline)', async () => {
    server = await serve({ methods: { echo: (p) => p } });
    const socket = connectTcp(server.port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    const body = '{"jsonrpc":"2.0","id":1,"method":"echo","params":[7]}';
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await until(() => received.includes('"result":[7]'), 'the POST answer');
    received = '';
    socket.write(
      'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await until(() => received.includes('\r\n\r\n'), 'the upgrade answer');
    expect(received).toMatch(/^HTTP\/1\.1 101 Switching Protocols/);
    await until(() => server!.connections.size === 1, 'the WebSocket connection');
    socket.destroy();
  });

  it('takes an upgrade pipelined behind POSTs still running once they are answered: their answers first, never inside the WebSocket stream', async () => {
    const releases: Array<() => void> = [];
    server = await serve({ methods: { slow: ([n]: [number]) => new Promise((resolve) => releases.push(() => resolve(n))) } });
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    const post = (n: number) => {
      const body = `{"jsonrpc":"2.0","id":${n},"method":"slow","params":[${n}]}`;
      return `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    };
    socket.write(
      post(1) +
        post(2) +
        'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    await until(() => releases.length === 2, 'both handlers running');
    releases[0]!();
    await until(() => received.includes('"result":1'), 'the first answer');
    releases[1]!();
    await until(() => received.includes('"result":2') && received.includes('101 Switching'), 'the second answer and the 101');
    // HTTP/1.1 answers in the order of the requests; the 101 came first, and the answers after it went into the WebSocket stream.
    expect(received.match(/HTTP\/1\.1 \d+ [^\r]+/g)).toEqual(['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK', 'HTTP/1.1 101 Switching Protocols']);
    await until(() => server!.connections.size === 1, 'the WebSocket connection');
    socket.destroy();
  });

  it('survives a client that resets its connection while its pipelined upgrade waits for the answers before it', async () => {
    let started = 0;
    let aborted = 0;
    server = await serve({
      methods: {
        hang: (_params, ctx) => {
          started++;
          return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(aborted++)));
        },
      },
    });
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    const body = '{"jsonrpc":"2.0","id":1,"method":"hang"}';
    socket.write(
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}` +
        'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    );
    // The handler runs (the upgrade, parsed with it, waits behind it). An RST now reaches the server as ECONNRESET.
    await until(() => started === 1, 'the handler running');
    socket.resetAndDestroy();
    await until(() => aborted === 1, 'the handler aborted');
    // Still serving (an uncaught ECONNRESET would have ended the process, and failed this run).
    expect(json(await post('{"jsonrpc":"2.0","id":2,"method":"nope"}'))).toMatchObject({ id: 2, error: { code: -32601 } });
  });
});

describe('JSON-RPC over HTTP POST: access', () => {
  it('CORS: a preflight from an allowed origin gets 204 with the allowed methods and headers, another 403', async () => {
    server = await serve({ origins: ['https://app.example'], methods: { echo: (p) => p } });
    const preflight = (origin: string) =>
      send(server!.httpUrl, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
      });
    const allowed = await preflight('https://app.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers).toMatchObject({
      'access-control-allow-origin': 'https://app.example',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'content-type, authorization',
      vary: 'Origin',
    });
    expect((await preflight('https://evil.example')).status).toBe(403);

    const body = '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}';
    const ok = await post(body, { origin: 'https://app.example' });
    expect(ok.status).toBe(200);
    expect(ok.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(await post(body, { origin: 'https://evil.example' })).toMatchObject({
      status: 403,
      body: 'origin https://evil.example is not allowed',
    });
    expect(await post(body)).toMatchObject({ status: 403, body: 'no Origin header' });
  });

  it('CORS without an origins list: any origin, answered with Access-Control-Allow-Origin: *', async () => {
    server = await serve({ methods: { echo: (p) => p } });
    const answer = await post('{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}', { origin: 'https://any.example' });
    expect(answer.headers['access-control-allow-origin']).toBe('*');
  });

  it('CORS: every answer to an allowed origin carries its headers, refusals too (a browser sees none of an answer without them)', async () => {
    server = await serve({
      origins: ['https://app.example'],
      authenticate: ({ headers }) => headers.authorization === 'Bearer good',
      maxPayload: 100,
      methods: { echo: (p) => p },
    });
    const cors = { 'access-control-allow-origin': 'https://app.example', vary: 'Origin' };
    const from = (origin: string, options: Parameters<typeof send>[1] = {}) =>
      send(server!.httpUrl, { ...options, headers: { origin, authorization: 'Bearer good', ...options.headers } });
    const big = `{"jsonrpc":"2.0","id":1,"method":"echo","params":["${'x'.repeat(200)}"]}`;
    const answers = {
      405: await from('https://app.example', { method: 'PUT', body: '{}' }),
      426: await from('https://app.example', { method: 'GET' }),
      415: await from('https://app.example', { body: '{}', headers: { 'content-type': 'text/plain' } }),
      401: await from('https://app.example', { body: '{}', headers: { authorization: 'Bearer bad' } }),
      '413 declared': await from('https://app.example', { body: big }),
      '413 chunked': await from('https://app.example', { body: [big.slice(0, 60), big.slice(60, 120), big.slice(120)] }),
    };
    for (const [status, answer] of Object.entries(answers)) {
      expect
        .soft({ status: answer.status, headers: answer.headers }, status)
        .toMatchObject({ status: parseInt(status, 10), headers: cors });
    }
    // Another origin's answers give it nothing to read.
    for (const options of [
      { method: 'PUT', body: '{}' },
      { method: 'GET' },
      { body: '{}', headers: { 'content-type': 'text/plain' } },
      { body: big },
    ]) {
      const answer = await from('https://evil.example', options);
      expect(answer.headers['access-control-allow-origin'], `${answer.status}`).toBeUndefined();
      expect(answer.headers.vary, `${answer.status}`).toBeUndefined();
    }
  });

  it('CORS without an origins list: every answer carries Access-Control-Allow-Origin: *, refusals too', async () => {
    server = await serve({ maxPayload: 100, methods: { echo: (p) => p } });
    const from = (options: Parameters<typeof send>[1]) =>
      send(server!.httpUrl, { ...options, headers: { origin: 'https://any.example', ...options?.headers } });
    const big = `{"jsonrpc":"2.0","id":1,"method":"echo","params":["${'x'.repeat(200)}"]}`;
    for (const answer of [
      await from({ method: 'PUT', body: '{}' }),
      await from({ method: 'GET' }),
      await from({ body: '{}', headers: { 'content-type': 'text/plain' } }),
      await from({ body: big }),
      await from({ body: [big.slice(0, 60), big.slice(60, 120), big.slice(120)] }),
    ]) {
      expect.soft(answer.headers['access-control-allow-origin'], `${answer.status}`).toBe('*');
    }
  });

  it('authenticate decides on each POST: 401, 403 with its reason, nothing run when refused', async () => {
    let runs = 0;
    server = await serve({
      authenticate: ({ headers }) =>
        headers.authorization === 'Bearer good' ? true : headers.authorization === undefined ? false : { status: 403, reason: 'bad token' },
      methods: { count: () => ++runs },
    });
    const body = '{"jsonrpc":"2.0","id":1,"method":"count"}';
    expect(await post(body)).toMatchObject({ status: 401, body: 'Unauthorized' });
    expect(await post(body, { authorization: 'Bearer bad' })).toMatchObject({ status: 403, body: 'bad token' });
    expect(runs).toBe(0);
    expect(json(await post(body, { authorization: 'Bearer good' }))).toMatchObject({ result: 1 });
  });
});

describe('JSON-RPC over HTTP POST: hostile and slow callers', () => {
  it('runs no handler when the client went away while authenticate was still running', async () => {
    const gate = deferred<boolean>();
    let asked = 0;
    let runs = 0;
    app = createServer();
    const closedSockets: Socket[] = [];
    app.on('connection', (socket: Socket) => socket.on('close', () => closedSockets.push(socket)));
    server = await serve({ server: app, authenticate: () => (++asked === 1 ? gate.promise : true), methods: { count: () => ++runs } });
    await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
    const body = '{"jsonrpc":"2.0","id":1,"method":"count"}';
    const first = rawSocket(
      (app.address() as AddressInfo).port,
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await until(() => asked === 1, 'authenticate asked');
    first.socket.destroy();
    await until(() => closedSockets.length === 1, 'the server to see the client go');
    gate.resolve(true); // too late: nobody is there to answer
    // The next caller's count is the first run of the handler.
    expect(json(await post(body))).toMatchObject({ id: 1, result: 1 });
    expect(runs).toBe(1);
  });

  it('decides on origins and authenticate before reading the body: a refused caller is answered without sending it', async () => {
    let runs = 0;
    server = await serve({
      origins: ['https://app.example'],
      authenticate: ({ headers }) => headers.authorization === 'Bearer good',
      methods: { count: () => ++runs },
    });
    // Headers only: a 1 MB body is announced and never sent.
    const head = (extra: string) =>
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n${extra}\r\n`;
    const stranger = rawSocket(server.port, head('Origin: https://evil.example\r\n'));
    await until(() => stranger.closed(), 'the answer to a refused origin');
    expect(stranger.answer()).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n[^]*\r\n\r\norigin https:\/\/evil\.example is not allowed$/);
    const anonymous = rawSocket(server.port, head('Origin: https://app.example\r\n'));
    await until(() => anonymous.closed(), 'the answer to a caller authenticate refuses');
    expect(anonymous.answer()).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n[^]*Connection: close\r\n[^]*\r\n\r\nUnauthorized$/);
    expect(runs).toBe(0);
  });

  it('answers Expect: 100-continue only once the body is wanted: a refused or too large one is never told to send it', async () => {
    server = await serve({
      maxPayload: 1_000,
      authenticate: ({ headers }) => headers.authorization === 'Bearer good',
      methods: { add: ([a, b]: [number, number]) => a + b },
    });
    const body = '{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}';
    const head = (length: number, extra = '') =>
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: ${length}\r\n${extra}\r\n`;
    const refused = rawSocket(server.port, head(body.length));
    await until(() => refused.closed(), 'the answer to a caller authenticate refuses');
    expect(refused.answer()).toMatch(/^HTTP\/1\.1 401 Unauthorized\r\n/);
    const large = rawSocket(server.port, head(1_000_000, 'Authorization: Bearer good\r\n'));
    await until(() => large.closed(), 'the answer to a body past maxPayload');
    expect(large.answer()).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    // Accepted: told to go on, then answered.
    const accepted = rawSocket(server.port, head(body.length, 'Authorization: Bearer good\r\n'));
    await until(() => accepted.answer().includes('\r\n\r\n'), 'the 100 Continue');
    expect(accepted.answer()).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    accepted.socket.write(body);
    await until(() => accepted.answer().endsWith('}'), 'the answer');
    expect(accepted.answer()).toMatch(
      /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n\{"jsonrpc":"2\.0","id":1,"result":5\}$/,
    );
    accepted.socket.destroy();
  });

  it('accepts a body that starts with a UTF-8 byte order mark', async () => {
    server = await serve({ methods: { add: ([a, b]: [number, number]) => a + b } });
    const answer = await post('\uFEFF{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}');
    expect(json(answer)).toEqual({ jsonrpc: '2.0', id: 1, result: 5 });
  });
});
