/**
 * JSON-RPC over HTTP against hostile or unlucky clients and apps: each gets a clear answer or a clear
 * close, never a crash of the server process, a hang or an unhandled rejection. Real sockets on 127.0.0.1.
 */
import { describe, expect, it } from 'vitest';
import { createServer, type Server as HttpServer } from 'node:http';
import { connect as connectTcp, type AddressInfo, type Socket } from 'node:net';
import WebSocket from 'ws';
import { SimulatedClock } from 'xstate';
import { connect, serve, type Server } from '../../src/index.js';
import { closeAfterEach, deferred, heapAfterGc, orHang, throwingProxy, until } from '../helpers.js';

let server: Server | undefined;
/** An app's own server, for tests that hand requests over with `noServer`. */
let app: HttpServer | undefined;

closeAfterEach(() => [
  server,
  app && { close: () => new Promise((resolve) => (app!.close(resolve), app!.closeAllConnections(), (app = undefined))) },
]);

const CALL = '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}';

/** One JSON-RPC POST as raw HTTP/1.1 bytes, for a socket that pipelines them. */
const rawPost = (body: string) =>
  `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

/**
 * What `aborted` settles with, or 'still open' after 10 s of real time (a hang detector only); the socket of the
 * client that reads nothing is destroyed either way.
 */
async function droppedOrHung(aborted: Promise<'aborted'>, socket: Socket): Promise<'aborted' | 'still open'> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<'still open'>((resolve) => (timer = setTimeout(() => resolve('still open'), 10_000)));
  try {
    return await Promise.race([aborted, hang]);
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

/** One POST with fetch; its status and body. */
async function post(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: response.status, body: await response.text() };
}

describe('authenticate answering with a value that throws when read', () => {
  it('refuses the POST with 500 (as a hook that throws), without an unhandled rejection, and keeps serving', async () => {
    let hostile = true;
    server = await serve({
      // Long enough that a 408 (the check never settling) cannot pass for the answer.
      upgradeTimeout: 5_000,
      // Only `in` throws: awaiting the answer (which reads `then`) passes, reading it as a verdict does not.
      authenticate: () => (hostile ? (throwingProxy(new Error('hostile answer'), ['has']) as never) : true),
      methods: { echo: (p) => p },
    });
    expect(await post(server.httpUrl, CALL)).toEqual({ status: 500, body: 'authentication failed' });
    hostile = false;
    expect(JSON.parse((await post(server.httpUrl, CALL)).body)).toMatchObject({ id: 1, result: [1] });
  });

  it('refuses the WebSocket upgrade with 500 the same way (the check is shared)', async () => {
    server = await serve({
      upgradeTimeout: 5_000,
      authenticate: () => throwingProxy(new Error('hostile answer'), ['has']) as never,
      methods: {},
    });
    const socket = new WebSocket(server.url);
    socket.on('error', () => {});
    const status = await new Promise<number | undefined>((resolve) => {
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode));
      socket.once('open', () => resolve(undefined));
    });
    socket.terminate();
    expect(status).toBe(500);
  });
});

describe('a client that posts requests and never reads the answers', () => {
  it('has its TCP connection dropped after drainTimeout, as over WebSocket, not held open with the answer forever', async () => {
    const MiB = 1024 * 1024;
    const aborted = deferred<'aborted'>();
    server = await serve({
      highWaterMark: 64 * 1024,
      drainTimeout: 200,
      methods: {
        big: () => 'x'.repeat(32 * MiB),
        // Runs on the same TCP connection: its signal tells, on the server's side, that the connection was dropped.
        wait: (_params, ctx) =>
          new Promise((resolve) => ctx.signal.addEventListener('abort', () => (aborted.resolve('aborted'), resolve(null)))),
        echo: (p) => p,
      },
    });
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.pause(); // reads nothing, ever
    socket.write(rawPost('{"jsonrpc":"2.0","id":1,"method":"big"}') + rawPost('{"jsonrpc":"2.0","id":2,"method":"wait"}'));
    // Only a hang detector: far past drainTimeout, far short of the test's own timeout.
    expect(await droppedOrHung(aborted.promise, socket)).toBe('aborted');
    // Answers that are read are not affected.
    expect(JSON.parse((await post(server.httpUrl, CALL)).body)).toMatchObject({ id: 1, result: [1] });
  });
});

describe('a client that pipelines requests behind one still running, and never reads the answers', () => {
  it('has the answers queued behind it counted (they are not in the socket yet): dropped past maxBufferedAmount, not held', async () => {
    const KiB = 1024;
    const aborted = deferred<'aborted'>();
    let answered = 0;
    server = await serve({
      highWaterMark: 64 * KiB,
      maxBufferedAmount: 1024 * KiB,
      // Far past the hang detector below: only maxBufferedAmount can drop the client here.
      drainTimeout: 600_000,
      methods: {
        // First on the connection and never done: every later answer waits behind its own, in Node's queue.
        wait: (_params, ctx) =>
          new Promise((resolve) => ctx.signal.addEventListener('abort', () => (aborted.resolve('aborted'), resolve(null)))),
        big: () => (answered++, 'x'.repeat(256 * KiB)),
        echo: (p) => p,
      },
    });
    let pipelined = rawPost('{"jsonrpc":"2.0","id":0,"method":"wait"}');
    for (let id = 1; id <= 100; id++) pipelined += rawPost(`{"jsonrpc":"2.0","id":${id},"method":"big"}`);
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.pause(); // reads nothing, ever
    socket.write(pipelined);
    // Only a hang detector: the drop comes once about 4 answers wait, whatever the time.
    expect(await droppedOrHung(aborted.promise, socket)).toBe('aborted');
    // Not every answer was made and kept: the requests after the drop did not run.
    expect(answered).toBeLessThan(100);
    expect(JSON.parse((await post(server.httpUrl, CALL)).body)).toMatchObject({ id: 1, result: [1] });
  });
});

describe('a client that sends its body in one-byte chunks', () => {
  it('costs the server memory in proportion to the body, not an object per chunk', async () => {
    const KiB = 1024;
    const MiB = 1024 * KiB;
    const maxPayload = 512 * KiB;
    server = await serve({
      maxPayload,
      methods: {
        // Runs while the request (and whatever its body was read into) is still held: the heap it holds.
        held: () => heapAfterGc(),
      },
    });
    const call = '{"jsonrpc":"2.0","id":1,"method":"held"}';
    // JSON allows the whitespace: a body just under maxPayload, all but its call sent a byte per chunk.
    const padding = maxPayload - call.length - 1;
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    const before = heapAfterGc();
    socket.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
    socket.write(`${call.length.toString(16)}\r\n${call}\r\n`);
    socket.write('1\r\n \r\n'.repeat(padding) + '0\r\n\r\n');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => (answer += text));
    // Connection: close: the server ends the connection once it has answered.
    await orHang(new Promise((resolve) => socket.once('close', resolve)), 'the answer', 30_000).finally(() => socket.destroy());
    const held = (JSON.parse(answer.slice(answer.indexOf('{'))) as { result: number }).result - before;
    // About 200 bytes of heap a chunk (a Buffer each) would hold ~100 MiB here; the body itself is 0.5 MiB.
    expect(held).toBeLessThan(16 * MiB);
  });
});

describe('a client that pipelines POSTs behind an authenticate that has not answered', () => {
  it('has at most maxInFlightPerConnection of them wait, and one more refused 503, closing the connection: not each one held', async () => {
    const verdicts: Array<(accepted: boolean) => void> = [];
    server = await serve({
      maxInFlightPerConnection: 3,
      upgradeTimeout: 60_000,
      authenticate: () => new Promise<boolean>((resolve) => verdicts.push(resolve)),
      methods: { echo: (p) => p },
    });
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    let answer = '';
    let closed = false;
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => (answer += text));
    socket.on('close', () => (closed = true));
    // Eight POSTs at once: nothing is answered (nothing written that would make Node stop reading) until a verdict.
    socket.write(rawPost(CALL).repeat(8));
    const statuses = () => [...answer.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => Number(match[1]));
    await until(() => verdicts.length >= 3, 'three access checks running');
    for (const accept of verdicts) accept(true);
    // The refusal comes in its turn, after the three answers, and ends the connection; without the bound all eight
    // were checked and answered, and the connection stayed open.
    await until(() => closed || statuses().length === 8, 'the answers');
    expect(statuses()).toEqual([200, 200, 200, 503]);
    expect(answer).toContain('3 requests already wait on this TCP connection for their access check or body (maxInFlightPerConnection)');
    expect(closed).toBe(true);
    expect(verdicts).toHaveLength(3);
    socket.destroy();
  });
});

/** An app on 127.0.0.1 that reads each request's body, then hands the request to a `noServer` endpoint; its port. */
async function appReadingBodiesFirst(): Promise<number> {
  const endpoint = (server = await serve({ noServer: true, upgradeTimeout: 5_000, methods: { echo: (p) => p } }));
  app = createServer((request, response) => {
    // What express.json() or any body parser does before the route's handler runs.
    request.resume();
    request.once('end', () => endpoint.handleRequest(request, response));
  });
  await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
  return (app.address() as AddressInfo).port;
}

describe('a request handed over after the app read its body (a body parser ran first)', () => {
  it('is answered at once with a 500 that says so, not a 408 at upgradeTimeout blaming the client', async () => {
    const port = await appReadingBodiesFirst();
    const answer = await post(`http://127.0.0.1:${port}/rpc`, CALL);
    expect(answer.status).toBe(500);
    expect(answer.body).toMatch(/body was read before/);
  });
  it('gives that 500 the CORS headers a 200 would get (a browser would see a network error, not the reason)', async () => {
    const port = await appReadingBodiesFirst();
    const response = await fetch(`http://127.0.0.1:${port}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://app.example' },
      body: CALL,
    });
    await response.text();
    expect(response.status).toBe(500);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('close({ drain }) while an HTTP request is running', () => {
  it('lets the handler answer within the drain window (not only closeTimeout), refusing new requests meanwhile', async () => {
    const release = deferred();
    const started = deferred();
    server = await serve({
      // The drain window is timed by this clock, which never moves here: only the handler's end ends it.
      clock: new SimulatedClock(),
      closeTimeout: 50,
      methods: {
        slow: async () => {
          started.resolve();
          await release.promise;
          return 'done';
        },
        echo: (p) => p,
      },
    });
    const url = server.httpUrl;
    const running = post(url, '{"jsonrpc":"2.0","id":1,"method":"slow"}').catch((error: Error) => error);
    await started.promise;
    const closed = server.close({ drain: 60_000 });
    // New requests are refused while draining (the listener still answers them).
    expect(JSON.parse((await post(url, CALL)).body)).toMatchObject({ id: 1, error: { code: -32000, data: { closing: true } } });
    // Far past closeTimeout (what the HTTP call was given instead of the drain window), before the handler ends.
    await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    release.resolve();
    const answer = await running;
    expect(answer).not.toBeInstanceOf(Error);
    expect(JSON.parse((answer as { body: string }).body)).toEqual({ jsonrpc: '2.0', id: 1, result: 'done' });
    await closed;
  });
});

describe('close({ drain }) while requests pipelined on one TCP connection are running', () => {
  it('answers each of them within the drain window, then closes the connection after the last answer', async () => {
    const releases: Array<() => void> = [];
    server = await serve({
      // The drain window is timed by this clock, which never moves here: only the handlers' ends end it.
      clock: new SimulatedClock(),
      methods: {
        slow: ([n]: [number]) => new Promise((resolve) => releases.push(() => resolve(n))),
      },
    });
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.setEncoding('utf8');
    let received = '';
    socket.on('data', (text: string) => (received += text));
    const socketClosed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(
      rawPost('{"jsonrpc":"2.0","id":1,"method":"slow","params":[1]}') + rawPost('{"jsonrpc":"2.0","id":2,"method":"slow","params":[2]}'),
    );
    await until(() => releases.length === 2, 'both handlers running');
    const closed = server.close({ drain: 60_000 });
    releases[0]!();
    // The first answer is out before the second handler ends (the connection still open for it).
    await until(() => received.includes('"result":1'), 'the first answer');
    releases[1]!();
    await orHang(socketClosed, 'the connection closed after the last answer');
    await closed;
    const answers = received.split('HTTP/1.1 ').slice(1);
    expect(answers.map((answer) => JSON.parse(answer.slice(answer.indexOf('{'))) as unknown)).toEqual([
      { jsonrpc: '2.0', id: 1, result: 1 },
      { jsonrpc: '2.0', id: 2, result: 2 },
    ]);
    expect(answers.map((answer) => /^Connection: close\r$/im.test(answer))).toEqual([false, true]);
  });
});

describe('close({ drain }) while a notification posted during the drain runs', () => {
  it('lets its handler run to its end within the window: not aborted as the server closes its connection after the 204', async () => {
    const releaseCall = deferred();
    const releaseNote = deferred();
    const outcomes: string[] = [];
    let running = 0;
    server = await serve({
      // The drain window is timed by this clock, which never moves here: only the handlers' ends end it.
      clock: new SimulatedClock(),
      methods: {
        slow: async () => {
          running++;
          await releaseCall.promise;
          return 'done';
        },
        log: async (_params, ctx) => {
          running++;
          await releaseNote.promise;
          outcomes.push(ctx.signal.aborted ? 'aborted' : 'done');
        },
      },
    });
    const call = post(server.httpUrl, '{"jsonrpc":"2.0","id":1,"method":"slow"}');
    await until(() => running === 1, 'the call running');
    let closed = false;
    const closing = server.close({ drain: 60_000 }).then(() => (closed = true));
    // Posted while draining: run (as on an open WebSocket peer), answered 204 with Connection: close.
    const socket = connectTcp(server.port, '127.0.0.1');
    socket.on('error', () => {});
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => (received += text));
    const socketClosed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(rawPost('{"jsonrpc":"2.0","method":"log","params":[1]}'));
    await orHang(socketClosed, 'the connection closed after the 204');
    expect(received.split('\r\n')[0]).toBe('HTTP/1.1 204 No Content');
    await until(() => running === 2, 'the notification running');
    releaseCall.resolve();
    expect(JSON.parse((await call).body)).toEqual({ jsonrpc: '2.0', id: 1, result: 'done' });
    // The drain waits for the notification's handler too.
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    releaseNote.resolve();
    await orHang(closing, 'the drained close');
    expect(outcomes).toEqual(['done']); // it was aborted as soon as its connection closed
  });
});

describe('connect(http://…) with a Content-Type among options.headers', () => {
  it('sends one Content-Type, not two joined into one value that the server refuses (415)', async () => {
    const seen: unknown[] = [];
    server = await serve({
      use: [(ctx, next) => (seen.push(ctx.connection.headers['content-type']), next())],
      methods: { echo: (p) => p },
    });
    const client = connect(server.httpUrl, { timeout: 5_000, headers: { 'Content-Type': 'application/json-rpc' } });
    try {
      expect(await client.request('echo', [1])).toEqual([1]);
      expect(seen).toEqual(['application/json']);
    } finally {
      await client.close();
    }
  });
});
