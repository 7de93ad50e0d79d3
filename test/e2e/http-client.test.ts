import { createServer, type Server as HttpServer, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it, vi } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  connect,
  serve,
  ConnectionClosedError,
  DEFAULT_MAX_CONNECTIONS,
  HttpClient,
  HttpError,
  NotSupportedError,
  QueueFullError,
  RemoteError,
  TimeoutError,
  type Client,
  type Server,
} from '../../src/index.js';
import { closeAfterEach, deferred, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
let plain: HttpServer | undefined;

// closeAllConnections: a test that fails may leave a POST the plain server never answered.
closeAfterEach(() => [
  client,
  server,
  plain && { close: () => new Promise((resolve) => (plain!.close(resolve), plain!.closeAllConnections())) },
]);

/** A bare node:http server answering every request with `listener`; resolves with its URL. */
async function plainServer(listener: RequestListener): Promise<string> {
  plain = createServer(listener);
  await new Promise<void>((resolve) => plain!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(plain.address() as AddressInfo).port}/`;
}

/** A handler that settles `started` when it runs and `aborted` (with its signal's reason) when its signal aborts. */
function watchedHandler() {
  const started = deferred();
  const aborted = deferred<unknown>();
  const handler = (_params: unknown, ctx: { signal: AbortSignal }) =>
    new Promise((resolve) => {
      started.resolve();
      ctx.signal.addEventListener('abort', () => {
        aborted.resolve(ctx.signal.reason);
        resolve('late');
      });
    });
  return { started, aborted, handler };
}

describe('connect(http://…): calls', () => {
  it('makes calls and notifications over HTTP POST, answered out of order, with remote errors', async () => {
    const first = deferred();
    const notes: unknown[] = [];
    server = await serve({
      methods: {
        add: ([a, b]: [number, number]) => a + b,
        first: async () => {
          await first.promise;
          return 'first';
        },
        fail: () => {
          throw new Error('nope');
        },
      },
    });
    server.on('notification', (event) => notes.push(event));
    client = connect(server.httpUrl);
    expect(client).toBeInstanceOf(HttpClient);
    await client.ready;
    const slow = client.request('first');
    expect(await client.request('add', [1, 2])).toBe(3); // answered while "first" still runs
    first.resolve();
    expect(await slow).toBe('first');
    const { error } = await settle(client.request('fail'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error).toMatchObject({ code: -32603, message: 'nope' });
    client.notify('log', { line: 'x' });
    // A POST of its own, maybe on another TCP connection: it arrives in its own time.
    await until(() => notes.length === 1, 'the notification');
    expect(notes).toEqual([{ method: 'log', params: { line: 'x' } }]);
  });

  it('times out a call (TimeoutError) and aborts its POST, so the handler sees ctx.signal abort', async () => {
    const watched = watchedHandler();
    server = await serve({ methods: { slow: watched.handler } });
    client = connect(server.httpUrl);
    const { error } = await settle(client.request('slow', undefined, { timeout: 50 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('ERR_CALL_TIMEOUT');
    await watched.aborted.promise;
  });

  it('aborts a call through its AbortSignal, reaching the handler', async () => {
    const watched = watchedHandler();
    server = await serve({ methods: { slow: watched.handler } });
    client = connect(server.httpUrl);
    const controller = new AbortController();
    const call = settle(client.request('slow', undefined, { signal: controller.signal }));
    await watched.started.promise;
    controller.abort();
    expect((await call).error).toBe(controller.signal.reason); // the signal's own reason, as over WebSocket
    await watched.aborted.promise;
  });

  it('close() fails pending calls with ConnectionClosedError and aborts their POSTs', async () => {
    const watched = watchedHandler();
    server = await serve({ methods: { slow: watched.handler } });
    client = connect(server.httpUrl);
    const call = settle(client.request('slow'));
    await watched.started.promise;
    await client.close();
    expect((await call).error).toBeInstanceOf(ConnectionClosedError);
    await watched.aborted.promise;
  });

  it('sends options.headers with every POST', async () => {
    let seen: unknown;
    server = await serve({
      authenticate: ({ headers }) => headers.authorization === 'Bearer t',
      methods: { who: (_params, ctx) => (seen = ctx.connection.headers['x-app']) },
    });
    client = connect(server.httpUrl, { headers: { authorization: 'Bearer t', 'x-app': 'demo' } });
    expect(await client.request('who')).toBe('demo');
    expect(seen).toBe('demo');
  });

  it('posts to the URL as given: a URL with an @ in its query is not the one errors show', async () => {
    server = await serve({ methods: { where: (_params, ctx) => ctx.connection.url } });
    client = connect(`${server.httpUrl}?next=https://me@x.example`);
    expect(await client.request('where')).toBe('/?next=https://me@x.example');
  });
});

describe('connect(http://…): failures of the POST fail its call with HttpError', () => {
  it('names the status and the reason of a refusal (401, 403)', async () => {
    server = await serve({ authenticate: () => ({ status: 403, reason: 'no entry' }), methods: { x: () => 1 } });
    client = connect(server.httpUrl);
    const { error } = await settle(client.request('x'));
    expect(error).toBeInstanceOf(HttpError);
    expect(error).toMatchObject({ name: 'HttpError', code: 'ERR_HTTP', status: 403, body: 'no entry' });
    expect(error.message).toBe(`${server.httpUrl} answered HTTP 403: no entry`);
  });

  it('413 when the request is past the server maxPayload', async () => {
    server = await serve({ maxPayload: 64, methods: { echo: (p) => p } });
    client = connect(server.httpUrl);
    const { error } = await settle(client.request('echo', ['x'.repeat(100)]));
    expect(error).toBeInstanceOf(HttpError);
    expect(error.status).toBe(413);
  });

  it('a 500, a 200 whose body is not JSON, and a 204 to a request: each fails its call at once', async () => {
    const answers: Array<[number, string]> = [
      [500, 'broken'],
      [200, '<html>hello</html>'],
      [204, ''],
    ];
    const url = await plainServer((_req, res) => {
      const [status, body] = answers.shift()!;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(body);
    });
    // A long timeout: a call that waited for it would fail the test instead.
    client = connect(url, { timeout: 60_000 });
    const broken = await settle(client.request('x'));
    expect(broken.error).toMatchObject({ name: 'HttpError', status: 500, body: 'broken', message: `${url} answered HTTP 500: broken` });
    const html = await settle(client.request('x'));
    expect(html.error).toMatchObject({
      name: 'HttpError',
      status: 200,
      message: `${url} answered HTTP 200 with a body that holds no JSON-RPC answer to this call`,
    });
    const empty = await settle(client.request('x'));
    expect(empty.error).toMatchObject({ name: 'HttpError', status: 204, message: `${url} answered HTTP 204 with no body` });
  });

  it('an answer whose bytes are not UTF-8 fails its call saying so, with or without Content-Length, not resolved with U+FFFD', async () => {
    let sized = true;
    const url = await plainServer(async (req, res) => {
      const { id } = JSON.parse(await text(req)) as { id: string };
      const body = Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":"café"}`, 'latin1');
      res.writeHead(200, { 'content-type': 'application/json', ...(sized ? { 'content-length': body.length } : {}) }).end(body);
    });
    client = connect(url, { timeout: 60_000 });
    for (const length of [true, false]) {
      sized = length;
      const { error } = await settle(client.request('x'));
      expect(error).toBeInstanceOf(HttpError);
      expect(error.message).toBe(
        `${url} answered HTTP 200 but its body failed: the body is not valid UTF-8 (JSON text is UTF-8: RFC 8259)`,
      );
    }
  });

  it('names the Retry-After of an error answer (429, 503) in its message: when the server says to try again', async () => {
    const answers: Array<[number, Record<string, string>, string]> = [
      [429, { 'retry-after': '30' }, 'slow down'],
      [503, { 'retry-after': 'Wed, 21 Oct 2026 07:28:00 GMT' }, ''],
      [503, { 'retry-after': '9'.repeat(100) }, 'busy'],
    ];
    const url = await plainServer((req, res) => {
      req.resume();
      const [status, headers, body] = answers.shift()!;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(body);
    });
    client = connect(url, { timeout: 60_000 });
    const limited = await settle(client.request('x'));
    expect(limited.error).toMatchObject({ name: 'HttpError', status: 429, body: 'slow down' });
    expect(limited.error.message).toBe(`${url} answered HTTP 429 (Retry-After: 30): slow down`);
    const dated = await settle(client.request('x'));
    expect(dated.error.message).toBe(`${url} answered HTTP 503 (Retry-After: Wed, 21 Oct 2026 07:28:00 GMT)`);
    // A server's header is not quoted whole.
    const long = await settle(client.request('x'));
    expect(long.error.message).toBe(`${url} answered HTTP 503 (Retry-After: ${'9'.repeat(64)}): busy`);
  });

  it('a 200 whose body breaks off (the connection lost, a gzip that is not) fails its call naming why, not as "no body"', async () => {
    const breaks = [
      (res: ServerResponse) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 1_000 });
        res.write('{"jsonrpc":"2.0",', () => res.socket?.destroy());
      },
      (res: ServerResponse) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end('{"not":"gzip"}'),
    ];
    const url = await plainServer((_req, res) => breaks.shift()!(res));
    client = connect(url, { timeout: 60_000 });
    for (const what of ['cut off', 'not gzip']) {
      const { error } = await settle(client.request('x'));
      expect(error, what).toBeInstanceOf(HttpError);
      expect(error, what).toMatchObject({ status: 200, message: expect.stringMatching(`^${url} answered HTTP 200 but its body failed: `) });
      expect((error as HttpError).cause, what).toBeDefined();
    }
  });

  it('an error status whose body stalls fails its call with that status, not with TimeoutError at its timeout, and frees its connection', async () => {
    const clock = new SimulatedClock();
    let gone = false;
    const url = await plainServer((req, res) => {
      req.resume();
      res.on('close', () => (gone = true));
      // The status and the start of a body, whose rest never comes.
      res.writeHead(503, { 'content-type': 'text/html' }).write('<html>');
    });
    client = connect(url, { timeout: 600_000, clock });
    let outcome: { value?: unknown; error?: any } | undefined;
    void settle(client.request('x')).then((settled) => (outcome = settled));
    // The clock moves a second a step, far short of the call's timeout, until the call fails (the answer's
    // headers may take a few steps to arrive): a wait for the status alone.
    for (let step = 0; step < 200 && outcome === undefined; step++) {
      clock.increment(1_000);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(outcome?.error).toBeInstanceOf(HttpError);
    expect(outcome?.error).toMatchObject({ status: 503, message: `${url} answered HTTP 503` });
    await until(() => gone, 'the POST of the stalled answer closed');
  });

  it("an answer with id null (the server could not read the call's id, or refused the frame) fails the call with that RemoteError", async () => {
    // A callstate server refuses params nested past its maxDepth with -32600, id null: that POST's one call is refused.
    server = await serve({ maxDepth: 8, methods: { echo: (p) => p } });
    client = connect(server.httpUrl, { timeout: 60_000 });
    const deep = JSON.parse(`${'['.repeat(10)}${']'.repeat(10)}`) as unknown[];
    const refused = await settle(client.request('echo', deep));
    expect(refused.error).toBeInstanceOf(RemoteError);
    expect(refused.error).toMatchObject({ name: 'RemoteError', code: -32600, message: 'frame nested deeper than 8 levels (maxDepth)' });
    // Another server's parse error, with its data; an id-null "error" that is not a JSON-RPC error object is still no answer.
    const answers = [
      { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error', data: { at: 3 } } },
      { jsonrpc: '2.0', id: null, error: { code: 'bad' } },
    ];
    const url = await plainServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers.shift()));
    });
    const other = connect(url, { timeout: 60_000 });
    try {
      const parse = await settle(other.request('x'));
      expect(parse.error).toBeInstanceOf(RemoteError);
      expect(parse.error).toMatchObject({ code: -32700, message: 'Parse error', data: { at: 3 } });
      const broken = await settle(other.request('x'));
      expect(broken.error).toBeInstanceOf(HttpError);
      expect(broken.error.message).toBe(`${url} answered HTTP 200 with a body that holds no JSON-RPC answer to this call`);
    } finally {
      await other.close();
    }
  });

  it('an error status whose body is a JSON-RPC error to the call (404 for -32601, 500, as JSON-RPC over HTTP servers answer) fails it with that RemoteError', async () => {
    const answers: Array<(id: string) => [number, unknown]> = [
      (id) => [404, { jsonrpc: '2.0', id, error: { code: -32601, message: 'Method not found' } }],
      (id) => [500, { jsonrpc: '2.0', id, error: { code: -32603, message: 'Internal error', data: { trace: 'x'.repeat(2_000) } } }],
      () => [400, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }],
      // Another call's id, or no JSON-RPC error at all: the status is the error.
      () => [500, { jsonrpc: '2.0', id: 'other', error: { code: -32603, message: 'Internal error' } }],
      () => [502, { error: 'bad gateway' }],
    ];
    const url = await plainServer(async (req, res) => {
      const { id } = JSON.parse(await text(req)) as { id: string };
      const [status, body] = answers.shift()!(id);
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    client = connect(url, { timeout: 60_000 });
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push((await settle(client.request('x'))).error);
    expect(outcomes.slice(0, 3).map((error) => error instanceof RemoteError && [error.code, error.message])).toEqual([
      [-32601, 'Method not found'],
      [-32603, 'Internal error'],
      [-32700, 'Parse error'],
    ]);
    expect(outcomes[1].data).toEqual({ trace: 'x'.repeat(2_000) });
    expect(outcomes.slice(3).map((error) => error instanceof HttpError && error.status)).toEqual([500, 502]);
  });

  it('an answer for another id fails the call and is reported unmatched', async () => {
    const url = await plainServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":"other","result":1}');
    });
    client = connect(url, { timeout: 60_000 });
    const unmatched: unknown[] = [];
    client.on('unmatched', ({ reason, id }) => unmatched.push({ reason, id }));
    const { error } = await settle(client.request('x'));
    expect(error).toBeInstanceOf(HttpError);
    expect(unmatched).toEqual([{ reason: 'unknown', id: 'other' }]);
  });

  it('an answer larger than the client maxPayload fails the call without being read', async () => {
    server = await serve({ methods: { big: () => 'y'.repeat(10_000) } });
    client = connect(server.httpUrl, { maxPayload: 1_000 });
    const { error } = await settle(client.request('big'));
    expect(error).toBeInstanceOf(HttpError);
    expect(error.message).toBe(`${server.httpUrl} answered HTTP 200 with a body larger than 1000 bytes (maxPayload)`);
  });

  it('an answer whose Content-Length is past the client maxPayload fails the call at once, before any of its body comes', async () => {
    const url = await plainServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '10000' });
      res.flushHeaders(); // and no body, ever
    });
    client = connect(url, { maxPayload: 1_000, timeout: 60_000 });
    const { error } = await settle(client.request('big'));
    expect(error).toBeInstanceOf(HttpError);
    expect(error.message).toBe(`${url} answered HTTP 200 with a body larger than 1000 bytes (maxPayload)`);
  });

  it('a redirect fails the call and is not followed: the POST is not sent again elsewhere', async () => {
    let elsewhere = 0;
    const target = createServer((_req, res) => {
      elsewhere++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":"x","result":1}');
    });
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const location = `http://127.0.0.1:${(target.address() as AddressInfo).port}/`;
    try {
      for (const status of [301, 302, 303, 307, 308]) {
        const url = await plainServer((_req, res) => res.writeHead(status, { location }).end());
        client = connect(url, { timeout: 60_000, headers: { 'x-api-key': 'secret' } });
        const { error } = await settle(client.request('x'));
        expect(error).toBeInstanceOf(HttpError);
        expect(error.status).toBeUndefined();
        expect(error.message).toBe(
          `POST ${url} failed: the server answered with a redirect (HTTP 301, 302, 303, 307 or 308), which the client does not follow: connect to the final URL`,
        );
        await client.close();
        await new Promise((resolve) => plain!.close(resolve));
      }
      plain = undefined;
      expect(elsewhere).toBe(0);
    } finally {
      await new Promise((resolve) => target.close(resolve));
    }
  });

  it("an https:// URL to a server that answers in plain HTTP fails its calls saying so, not with OpenSSL's message alone", async () => {
    const url = await plainServer((_req, res) => res.end());
    client = connect(url.replace('http://', 'https://'), { timeout: 60_000 });
    const { error } = await settle(client.request('x'));
    expect(error).toBeInstanceOf(HttpError);
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(
      /^POST https:\/\/127\.0\.0\.1:\d+\/ failed: the server does not answer in TLS \(an http:\/\/ server\? then connect with an http:\/\/ URL\): \S/,
    );
    expect((error as HttpError).cause).toBeDefined();
  });

  it('a network error (nothing listening) fails the call with HttpError and no status', async () => {
    const url = await plainServer(() => {});
    await new Promise((resolve) => plain!.close(resolve));
    plain = undefined;
    client = connect(url, { timeout: 60_000 });
    const { error } = await settle(client.request('x'));
    expect(error).toBeInstanceOf(HttpError);
    expect(error.status).toBeUndefined();
    expect(error.message).toMatch(new RegExp(`^POST ${url} failed: .*ECONNREFUSED`));
  });
});

describe('connect(http://…): hostile and silent servers', () => {
  it('bounds a compressed (gzip, deflate) answer by maxPayload on its decoded bytes, not its Content-Length', async () => {
    const encodings = [
      ['gzip', gzipSync],
      ['deflate', deflateSync],
    ] as const;
    let next = 0;
    const url = await plainServer((req, res) => {
      void text(req).then((body) => {
        const { id } = JSON.parse(body) as { id: string };
        const [encoding, encode] = encodings[next++]!;
        // 100 KB of answer in a few hundred bytes on the wire.
        const packed = encode(JSON.stringify({ jsonrpc: '2.0', id, result: 'y'.repeat(100_000) }));
        res
          .writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding, 'content-length': packed.length })
          .end(packed);
      });
    });
    client = connect(url, { maxPayload: 1_000, timeout: 60_000 });
    for (const [encoding] of encodings) {
      const { value, error } = await settle(client.request('big'));
      expect(value, encoding).toBeUndefined();
      expect(error).toBeInstanceOf(HttpError);
      expect(error).toMatchObject({
        code: 'ERR_HTTP',
        status: 200,
        message: `${url} answered HTTP 200 with a body larger than 1000 bytes (maxPayload)`,
      });
    }
  });

  it('sends nothing back for requests a server puts in an answer body, alone or in a batch (they are answered to nobody)', async () => {
    const posted: string[] = [];
    const url = await plainServer((req, res) => {
      void text(req).then((body) => {
        posted.push(body);
        const { id } = JSON.parse(body) as { id: string };
        // The answer, with requests of the server's own, one alone and two in a batch of the answer body.
        const calls = [
          { jsonrpc: '2.0', id, result: 1 },
          { jsonrpc: '2.0', id: 9, method: 'evil' },
          { jsonrpc: '2.0', id: 10, method: 'evil' },
        ];
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(calls));
      });
    });
    client = connect(url, { timeout: 60_000 });
    expect(await client.request('call')).toBe(1);
    expect(await client.request('call')).toBe(1);
    // Only the calls were posted: the client's answers to the server's requests (a batch of errors) were not.
    expect(posted.map((body) => (JSON.parse(body) as { method?: string }).method)).toEqual(['call', 'call']);
  });

  it("aborts the POST of a call that another POST's answer settled, instead of holding it open for good", async () => {
    let held: { id: string; gone: boolean } | undefined;
    const url = await plainServer((req, res) => {
      void text(req).then((body) => {
        const { id, method } = JSON.parse(body) as { id: string; method: string };
        // The first call's POST is never answered: its answer comes in the body of the second's.
        if (method === 'first') {
          const call: { id: string; gone: boolean } = { id, gone: false };
          held = call;
          res.on('close', () => (call.gone = true));
          return;
        }
        const answers = [
          { jsonrpc: '2.0', id: held!.id, result: 'first' },
          { jsonrpc: '2.0', id, result: 'second' },
        ];
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers));
      });
    });
    // No timeout would ever end the first POST once its call settled: only the settling may.
    client = connect(url, { timeout: 60_000 });
    const first = client.request('first');
    await until(() => held !== undefined, 'the first POST');
    expect(await client.request('second')).toBe('second');
    expect(await first).toBe('first');
    await until(() => held!.gone, 'the first POST aborted once its call settled');
  });

  it('close() lets the notifications in flight arrive: notify() then close() delivers', async () => {
    const received: unknown[] = [];
    const url = await plainServer((req, res) => {
      void text(req).then((body) => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    client = connect(url);
    await client.ready;
    client.notify('log', { line: 'x' });
    await client.close();
    expect(received).toEqual([{ jsonrpc: '2.0', method: 'log', params: { line: 'x' } }]);
  });

  it('delivers notify() then close() made right after connect(), before ready: HTTP has nothing to connect', async () => {
    const received: unknown[] = [];
    const url = await plainServer((req, res) => {
      void text(req).then((body) => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    const unsent: unknown[] = [];
    client = connect(url, { onError: (error, info) => unsent.push([info.kind, (error as Error).message]) });
    expect(client.state).toBe('connecting');
    client.notify('log', { line: 'x' });
    await client.close();
    expect(received).toEqual([{ jsonrpc: '2.0', method: 'log', params: { line: 'x' } }]);
    expect(unsent).toEqual([]);
    expect(client.state).toBe('closed');
    // A close code is still checked at once.
    const other = connect(url);
    expect(() => other.close(1005)).toThrow(RangeError);
    await other.close();
  });

  it('close() aborts the notification POSTs a silent server still holds after closeTimeout', async () => {
    let arrived = false;
    let gone = false;
    const url = await plainServer((_req, res) => {
      arrived = true;
      res.on('close', () => (gone = true)); // never answered
    });
    client = connect(url, { closeTimeout: 1_000 });
    client.notify('log', { line: 'x' });
    await until(() => arrived, 'the notification POST');
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      let closed = false;
      const closing = client.close().then(() => (closed = true));
      await new Promise((resolve) => setImmediate(resolve));
      expect([closed, gone]).toEqual([false, false]);
      vi.advanceTimersByTime(1_000);
      await closing;
      await until(() => gone, 'the notification POST aborted');
    } finally {
      vi.useRealTimers();
    }
  });

  it("tells onError (kind 'unsent') of a notification whose POST failed, was refused, or got no answer within the timeout", async () => {
    const clock = new SimulatedClock();
    const answers: Array<number | 'silent'> = [500, 'silent'];
    const url = await plainServer((_req, res) => {
      const answer = answers.shift()!;
      if (answer !== 'silent') res.writeHead(answer, { 'content-type': 'text/plain' }).end('nope');
    });
    const told: Array<{ error: unknown; method: string | undefined; kind: string }> = [];
    client = connect(url, { timeout: 5_000, clock, onError: (error, { method, kind }) => told.push({ error, method, kind }) });
    client.notify('refused');
    await until(() => told.length === 1, 'the refusal told');
    client.notify('unanswered');
    await until(() => answers.length === 0, 'the second POST');
    clock.increment(5_000);
    await until(() => told.length === 2, 'the timeout told');
    // A port nothing listens on any more.
    const gone = createServer();
    await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
    const downUrl = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/`;
    await new Promise((resolve) => gone.close(resolve));
    const down = connect(downUrl, { onError: (error, { method, kind }) => told.push({ error, method, kind }) });
    try {
      down.notify('unreachable');
      await until(() => told.length === 3, 'the network failure told');
    } finally {
      await down.close();
    }
    expect(told.map(({ method, kind }) => [method, kind])).toEqual([
      ['refused', 'unsent'],
      ['unanswered', 'unsent'],
      ['unreachable', 'unsent'],
    ]);
    expect(told[0]!.error).toMatchObject({ name: 'HttpError', status: 500, message: `${url} answered HTTP 500: nope` });
    expect(told[1]!.error).toMatchObject({
      name: 'HttpError',
      message: `POST ${url} got no answer within 5000 ms (it may have arrived)`,
    });
    expect(told[2]!.error).toBeInstanceOf(HttpError);
    expect((told[2]!.error as Error).message).toMatch(new RegExp(`^POST ${downUrl} failed: .*ECONNREFUSED`));
  });

  it('gives up a notification POST that a silent server never answers, after the client timeout', async () => {
    const clock = new SimulatedClock();
    let arrived = false;
    let gone = false;
    const url = await plainServer((_req, res) => {
      arrived = true;
      res.on('close', () => (gone = true)); // never answered
    });
    client = connect(url, { timeout: 5_000, clock });
    client.notify('log', { line: 'x' });
    await until(() => arrived, 'the notification POST');
    clock.increment(4_999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(gone).toBe(false);
    clock.increment(1);
    await until(() => gone, 'the notification POST aborted at the timeout');
  });
});

/** A plain server that holds every POST until `answerAll()`: a call is answered its params, a notification 204. */
async function holdingServer() {
  const held: Array<{ body: { id?: string; method: string; params?: unknown }; res: import('node:http').ServerResponse }> = [];
  const received: string[] = [];
  let open = 0;
  let most = 0;
  const url = await plainServer((req, res) => {
    open++;
    most = Math.max(most, open);
    res.on('close', () => open--);
    void text(req).then((body) => {
      const parsed = JSON.parse(body) as { id?: string; method: string; params?: unknown };
      received.push(parsed.method);
      held.push({ body: parsed, res });
    });
  });
  const answerAll = () => {
    for (const { body, res } of held.splice(0)) {
      if (body.id === undefined) res.writeHead(204).end();
      else
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: body.params ?? null }));
    }
  };
  return { url, held, received, answerAll, open: () => open, most: () => most };
}

describe('connect(http://…): POSTs in flight (maxConnections)', () => {
  it(`keeps at most ${DEFAULT_MAX_CONNECTIONS} POSTs in flight by default against a server that holds them; the rest go as they end`, async () => {
    const server = await holdingServer();
    client = connect(server.url, { timeout: 60_000 });
    const calls = Array.from({ length: 100 }, (_, i) => client!.request('echo', [i]));
    for (let i = 0; i < 100; i++) client.notify('log', [i]);
    await until(() => server.held.length === DEFAULT_MAX_CONNECTIONS, 'the first POSTs');
    for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(server.held.length).toBe(DEFAULT_MAX_CONNECTIONS);
    // What waits counts as the client's unsent bytes.
    expect(client.bufferedAmount).toBeGreaterThan(0);
    const answering = setInterval(server.answerAll, 1);
    try {
      expect(await Promise.all(calls)).toEqual(Array.from({ length: 100 }, (_, i) => [i]));
      await until(() => server.received.length === 200, 'every notification');
    } finally {
      clearInterval(answering);
    }
    expect(server.most()).toBeLessThanOrEqual(DEFAULT_MAX_CONNECTIONS);
    expect(client.bufferedAmount).toBe(0);
  });

  it('holds new notifications back once POSTs wait (highWaterMark), and refuses one past maxQueued with QueueFullError', async () => {
    const server = await holdingServer();
    client = connect(server.url, { maxConnections: 1, highWaterMark: 1, maxQueued: 2, timeout: 60_000 });
    await client.ready;
    client.notify('n1'); // posted
    client.notify('n2'); // waits for the connection
    client.notify('n3'); // waits in the client's line: the transport holds unsent bytes
    client.notify('n4');
    expect(() => client!.notify('n5')).toThrow(QueueFullError);
    await until(() => server.held.length === 1, 'the first POST');
    const answering = setInterval(server.answerAll, 1);
    try {
      await until(() => server.received.length === 4, 'the notifications that waited');
    } finally {
      clearInterval(answering);
    }
    expect(server.received).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(server.most()).toBe(1);
  });

  it('never sends the POST of a call aborted or timed out while it waited for a connection', async () => {
    const clock = new SimulatedClock();
    const server = await holdingServer();
    client = connect(server.url, { maxConnections: 1, timeout: 60_000, clock });
    const first = client.request('first');
    const controller = new AbortController();
    const aborted = client.request('aborted', undefined, { signal: controller.signal });
    const timedOut = client.request('timedOut', undefined, { timeout: 1_000 });
    await until(() => server.held.length === 1, 'the first POST');
    controller.abort('changed my mind');
    clock.increment(1_000);
    expect((await settle(aborted)).error).toBe('changed my mind');
    expect((await settle(timedOut)).error).toBeInstanceOf(TimeoutError);
    server.answerAll();
    await first;
    const last = client.request('last');
    await until(() => server.held.length === 1, 'the next POST');
    server.answerAll();
    await last;
    expect(server.received).toEqual(['first', 'last']);
  });

  it('close() fails the calls that wait for a connection, and still delivers the notifications that wait', async () => {
    const server = await holdingServer();
    client = connect(server.url, { maxConnections: 1, timeout: 60_000 });
    client.notify('before');
    const waiting = client.request('waiting');
    client.notify('after');
    await until(() => server.held.length === 1, 'the first POST');
    const closing = client.close();
    expect((await settle(waiting)).error).toBeInstanceOf(ConnectionClosedError);
    const answering = setInterval(server.answerAll, 1);
    try {
      await closing;
    } finally {
      clearInterval(answering);
    }
    expect(server.received).toEqual(['before', 'after']);
  });

  it('refuses maxConnections below 1, and on a URL that is not http(s)', () => {
    expect(() => connect('http://127.0.0.1:2/', { maxConnections: 0 })).toThrow(RangeError);
    expect(() => connect('ws://127.0.0.1:1/', { maxConnections: 4 })).toThrow(
      new TypeError('options.maxConnections applies to http:// and https:// URLs only (POSTs in flight at once)'),
    );
  });
});

describe('connect(http://…): what HTTP cannot carry', () => {
  it('refuses client methods, reconnect and a URL with credentials with TypeError, and notification listeners with NotSupportedError', () => {
    expect(() => connect('http://127.0.0.1:2/', { methods: { ping: () => 'pong' } })).toThrow(
      new TypeError('options.methods applies to ws:// and wss:// URLs only: a server cannot call an HTTP client'),
    );
    expect(() => connect('http://127.0.0.1:2/', { reconnect: true })).toThrow(
      new TypeError('options.reconnect applies to ws:// and wss:// URLs only: over HTTP each call is its own request'),
    );
    expect(() => connect('http://127.0.0.1:2/#x')).toThrow(new TypeError('url must not have a fragment, got "http://127.0.0.1:2/#x"'));
    // An empty fragment is one too (its URL's hash is '').
    expect(() => connect('http://127.0.0.1:2/#')).toThrow(new TypeError('url must not have a fragment, got "http://127.0.0.1:2/#"'));
    // fetch refuses such a URL on every POST, each failure naming the password (and logged at warn): refused once, here.
    expect(() => connect('http://user:secret@127.0.0.1:1/')).toThrow(
      new TypeError('url must not hold credentials (user:password@): fetch refuses them; send an Authorization header in options.headers'),
    );
    // fetch refuses the Fetch standard's "bad ports" on every POST ("POST … failed: bad port"): refused once, here.
    for (const [url, port] of [
      ['http://127.0.0.1:6000/rpc', '6000'],
      ['https://[::1]:22/', '22'],
      ['http://localhost:10080/', '10080'],
    ]) {
      expect(() => connect(url!), url).toThrow(
        new TypeError(
          `url must not name a port fetch refuses (${port}, a "bad port" of the Fetch standard), got ${JSON.stringify(url)}: serve on another port, or connect with a ws:// URL`,
        ),
      );
    }
    // The scheme's default port is no such port.
    void connect('http://127.0.0.1/').close();
    client = connect('http://127.0.0.1:2/');
    expect(() => client!.on('notification', () => {})).toThrow(NotSupportedError);
    expect(() => client!.on('notification', () => {})).toThrow(
      'servers cannot notify clients over HTTP (each call is its own request): use a ws:// URL',
    );
    // once() as on(): a listener that could never be called is refused, not kept silently.
    expect(() => client!.once('notification', () => {})).toThrow(NotSupportedError);
    expect(() => client!.once('notification', () => {})).toThrow(
      'servers cannot notify clients over HTTP (each call is its own request): use a ws:// URL',
    );
    expect(client.once('unmatched', () => {})).toBeTypeOf('function');
  });

  it('refuses headers that fetch refuses on every POST, or that no fixed value can hold, with TypeError naming the header', async () => {
    const refusals: Array<[Record<string, string>, string]> = [
      [{ 'Transfer-Encoding': 'chunked' }, '"Transfer-Encoding" cannot be sent over HTTP (fetch sets it itself and refuses it)'],
      [{ 'content-length': '3' }, '"content-length" cannot be sent over HTTP (it is set from each POST\'s body)'],
      [{ 'Keep-Alive': '5' }, '"Keep-Alive" cannot be sent over HTTP (fetch refuses connection-level headers)'],
      [{ upgrade: 'h2c' }, '"upgrade" cannot be sent over HTTP (fetch refuses connection-level headers)'],
      [{ Expect: '100-continue' }, '"Expect" cannot be sent over HTTP (fetch does not support Expect)'],
      [{ Connection: 'upgrade' }, '"Connection" cannot be sent over HTTP (fetch takes only close or keep-alive)'],
      // Not refused by fetch, but dropped: the POST went with the URL's host, silently.
      [
        { Host: 'example.com' },
        '"Host" cannot be sent over HTTP (fetch sets it from the URL and drops any other: put that host in the URL)',
      ],
    ];
    for (const [headers, why] of refusals) {
      // Before: accepted, and then every call failed with HttpError as its POST was made ("invalid transfer-encoding header").
      expect(() => connect('http://127.0.0.1:2/', { headers }), why).toThrow(new TypeError(`options.headers: ${why}: remove it`));
    }
    // Connection: close (no keep-alive) is one fetch takes, and goes with the POSTs.
    const seen: unknown[] = [];
    const url = await plainServer((req, res) => {
      seen.push(req.headers.connection);
      void text(req).then((body) => {
        const { id } = JSON.parse(body) as { id: string };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, result: 'ok' }));
      });
    });
    client = connect(url, { headers: { Connection: 'Close' } });
    expect(await client.request('x')).toBe('ok');
    expect(seen).toEqual(['close']);
  });
});
