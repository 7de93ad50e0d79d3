import { describe, expect, it } from 'vitest';
import { connect as tcpConnect } from 'node:net';
import { SimulatedClock } from 'xstate';
import {
  connect,
  serve,
  ConnectionClosedError,
  DEFAULT_SERVER_MAX_CONNECTIONS,
  ErrorCodes,
  RemoteError,
  type Client,
  type HandlerContext,
  type Peer,
  type Server,
  type UnmatchedEvent,
} from '../../src/index.js';
import { closeAfterEach, deferred, rawClient, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
let other: Client | undefined;
const raws: Array<{ close(): Promise<void> }> = [];

closeAfterEach(() => [client, other, ...raws.splice(0), server]);

async function raw(url: string) {
  const r = await rawClient(url);
  raws.push(r);
  return r;
}

/** Serves with `maxConnections: 1`, `echo`, and a `hold` whose handler runs until `release` (counted in `handler`). */
async function serveHoldingNotifications() {
  const release = deferred<void>();
  const handler = { running: 0, ended: false };
  const served = await serve({
    maxConnections: 1,
    methods: {
      echo: (params: unknown) => params,
      hold: async () => {
        handler.running++;
        await release.promise;
        handler.ended = true;
      },
    },
  });
  return { server: served, release, handler };
}

/** A handler that waits for its signal, recording why it aborted. */
function signalWatcher() {
  const entered = deferred();
  const aborted = deferred<unknown>();
  const handler = (_params: unknown, ctx: HandlerContext) =>
    new Promise(() => {
      ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
      entered.resolve();
    });
  return { handler, entered: entered.promise, aborted: aborted.promise };
}

/** A SimulatedClock that counts the timers it holds. */
class CountingClock extends SimulatedClock {
  live = 0;
  override setTimeout(fn: (...args: any[]) => void, timeout: number) {
    this.live++;
    return super.setTimeout(() => {
      this.live--;
      fn();
    }, timeout);
  }
  override clearTimeout(id: any) {
    this.live--;
    super.clearTimeout(id);
  }
}

describe('handlerTimeout', () => {
  it.each(['light', 'xstate'] as const)(
    'aborts ctx.signal and answers -32001 naming the method and the limit when a handler runs past it (%s engine)',
    async (engine) => {
      const clock = new SimulatedClock();
      const { handler, entered, aborted } = signalWatcher();
      server = await serve({ clock, engine, handlerTimeout: 500, methods: { slow: handler, echo: (p: unknown) => p } });
      client = connect(server.url);
      const call = settle(client.request('slow'));
      await entered;
      const serverSide = [...server.connections][0]!;
      clock.increment(499);
      expect(serverSide.handlingCalls).toBe(1);
      clock.increment(1);
      const reason = (await aborted) as DOMException;
      expect([reason.name, reason.message]).toEqual(['TimeoutError', 'method "slow" did not finish within 500 ms (handlerTimeout)']);
      const { error } = await call;
      expect(error).toBeInstanceOf(RemoteError);
      expect([error.code, error.message, error.data]).toEqual([
        ErrorCodes.HandlerTimeout,
        'method "slow" did not finish within 500 ms (handlerTimeout)',
        { method: 'slow', handlerTimeout: 500 },
      ]);
      expect(error.code).toBe(-32001);
      expect(serverSide.handlingCalls).toBe(0);
      // The connection serves on.
      expect(await client.request('echo', [1])).toEqual([1]);
    },
  );

  it('leaves a handler that finishes in time alone, and forgets its deadline', async () => {
    const clock = new CountingClock();
    const release = deferred<string>();
    const reasons: unknown[] = [];
    server = await serve({
      clock,
      heartbeat: 0, // the clock counts handler deadlines only
      handlerTimeout: 500,
      methods: {
        work: (_p: unknown, ctx: HandlerContext) => {
          ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
          return release.promise;
        },
      },
    });
    client = connect(server.url);
    const call = client.request('work');
    await until(() => clock.live === 1, 'the handler deadline to be armed');
    clock.increment(400);
    release.resolve('done');
    expect(await call).toBe('done');
    expect(clock.live).toBe(0);
    clock.increment(1_000);
    expect(reasons.some((r) => (r as Error | undefined)?.name === 'TimeoutError')).toBe(false);
  });

  it('throws TypeError or RangeError for a handlerTimeout that is not a positive number of ms', async () => {
    await expect(serve({ handlerTimeout: '5' as unknown as number, methods: {} })).rejects.toThrow(TypeError);
    await expect(serve({ handlerTimeout: 0, methods: {} })).rejects.toThrow(RangeError);
  });
});

describe('maxConnections', () => {
  it('answers one WebSocket connection more with 503 before authenticate runs, and takes one again once a place is free', async () => {
    let authenticated = 0;
    server = await serve({
      maxConnections: 2,
      authenticate: () => (authenticated++, true),
      methods: { echo: (params: unknown) => params },
    });
    client = connect(server.url);
    other = connect(server.url);
    await Promise.all([client.ready, other.ready]);

    const refused = await settle(connect(server.url).ready);
    expect(refused.error).toBeInstanceOf(ConnectionClosedError);
    expect(refused.error.message).toMatch(/HTTP 503 Service Unavailable: .*at once \(maxConnections: 2; .*\)/);
    expect(authenticated).toBe(2);

    await other.close();
    await until(() => server!.connections.size === 1, 'the closed connection is let go');
    other = connect(server.url);
    expect(await other.request('echo', [2])).toEqual([2]);
    expect(server.connections.size).toBe(2);
  });

  it('counts an HTTP connection while a POST on it is in progress: refused 503 when WebSocket connections hold every place, and holding one while its handler runs', async () => {
    const release = deferred<void>();
    let running = 0;
    server = await serve({
      maxConnections: 1,
      methods: {
        echo: (params: unknown) => params,
        hold: async (params: unknown) => {
          running++;
          await release.promise;
          return params;
        },
      },
    });
    const post = (method: string) =>
      fetch(server!.httpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [method] }),
      });
    client = connect(server.url);
    await client.ready;
    // The one place is the WebSocket's: a POST is refused before it runs, saying why.
    const refused = await post('echo');
    expect(refused.status).toBe(503);
    expect(await refused.text()).toMatch(
      /at once \(maxConnections: 1; WebSocket connections, and HTTP connections with a POST in progress or a notification's handler running\)/,
    );
    await client.close();
    await until(() => server!.connections.size === 0, 'the WebSocket connection is let go');

    // A POST whose handler runs holds the place: a WebSocket connection is refused meanwhile.
    const held = post('hold');
    await until(() => running === 1, 'the handler running');
    const meanwhile = await settle(connect(server.url).ready);
    expect(meanwhile.error.message).toMatch(/HTTP 503 Service Unavailable: .*\(maxConnections: 1; /);
    release.resolve();
    expect(await (await held).json()).toEqual({ jsonrpc: '2.0', id: 1, result: ['hold'] });
    // Answered, its place is free (its TCP connection may stay open, idle, for the next POST).
    client = connect(server.url);
    await client.ready;
    expect(await client.request('echo', [3])).toEqual([3]);
  });

  it('counts an HTTP connection while a notification posted on it runs: answered 204 at once, its handler holds the place until it ends', async () => {
    const holding = await serveHoldingNotifications();
    server = holding.server;
    const { release, handler } = holding;
    // A notification's POST is answered before its handler ends; without this, notifications spread over many TCP
    // connections ran without any bound of maxConnections (each connection's own in-flight limits aside).
    const posted = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","method":"hold","params":[]}',
    });
    expect(posted.status).toBe(204);
    await until(() => handler.running === 1, 'the handler running');
    other = connect(server.url);
    const meanwhile = await settle(other.ready);
    expect(meanwhile.error?.message).toMatch(/HTTP 503 Service Unavailable: .*\(maxConnections: 1; /);
    release.resolve();
    await until(() => handler.ended, 'the handler ended');
    // Once it has ended, the place is free.
    client = connect(server.url);
    expect(await client.request('echo', [1])).toEqual([1]);
  });

  it('keeps that place once the connection has closed after the 204, until the handler ends', async () => {
    const holding = await serveHoldingNotifications();
    server = holding.server;
    const { release, handler } = holding;
    const body = '{"jsonrpc":"2.0","method":"hold","params":[]}';
    const socket = tcpConnect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write(
      `POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await closed;
    await until(() => handler.running === 1, 'the handler running');
    // The handler runs on after its connection closed (its POST was answered): so does its place.
    other = connect(server.url);
    expect((await settle(other.ready)).error?.message).toMatch(/HTTP 503 Service Unavailable: .*\(maxConnections: 1; /);
    release.resolve();
    await until(() => handler.ended, 'the handler ended');
    client = connect(server.url);
    expect(await client.request('echo', [1])).toEqual([1]);
  });

  it('defaults to 10,000, exported as DEFAULT_SERVER_MAX_CONNECTIONS as every other default is', () => {
    expect(DEFAULT_SERVER_MAX_CONNECTIONS).toBe(10_000);
  });

  it('throws TypeError or RangeError for a maxConnections that is not a positive integer', async () => {
    await expect(serve({ maxConnections: '5' as unknown as number, methods: {} })).rejects.toThrow(TypeError);
    await expect(serve({ maxConnections: 0, methods: {} })).rejects.toThrow(RangeError);
  });
});

describe('maxPayload', () => {
  it('closes only the socket that sent a larger frame (1009); the server keeps serving others', async () => {
    server = await serve({ maxPayload: 1_024, methods: { echo: (p: unknown) => p } });
    client = connect(server.url);
    other = connect(server.url);
    await Promise.all([client.ready, other.ready]);
    const { error } = await settle(client.request('echo', { big: 'x'.repeat(2_000) }));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1009);
    expect(await other.request('echo', { small: true })).toEqual({ small: true });
    await until(() => server!.connections.size === 1, 'the server to drop the closed socket');
  });
});

describe('maxBatch', () => {
  it('answers a longer batch with one -32600 and runs none of it', async () => {
    let runs = 0;
    server = await serve({ maxBatch: 2, methods: { count: () => ++runs } });
    const r = await raw(server.url);
    const request = (id: number) => ({ jsonrpc: '2.0', id, method: 'count' });
    r.send(JSON.stringify([request(1), request(2), request(3)]));
    expect(await r.next()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'batch of 3 messages exceeds 2 (maxBatch)' },
    });
    r.send(JSON.stringify([request(4), request(5)]));
    expect(await r.next()).toEqual([
      { jsonrpc: '2.0', id: 4, result: 1 },
      { jsonrpc: '2.0', id: 5, result: 2 },
    ]);
    expect(runs).toBe(2);
  });

  it('defaults to 100', async () => {
    let runs = 0;
    server = await serve({ methods: { count: () => ++runs } });
    const r = await raw(server.url);
    r.send(JSON.stringify(Array.from({ length: 101 }, (_, id) => ({ jsonrpc: '2.0', id, method: 'count' }))));
    expect(await r.next()).toMatchObject({ id: null, error: { code: -32600, message: 'batch of 101 messages exceeds 100 (maxBatch)' } });
    expect(runs).toBe(0);
  });

  it('accepts the cancel notices of many calls timing out at once from a callstate client', async () => {
    const clock = new SimulatedClock();
    const started = { count: 0 };
    let aborts = 0;
    server = await serve({
      methods: {
        wait: (_p: unknown, ctx: HandlerContext) =>
          new Promise(() => {
            started.count++;
            ctx.signal.addEventListener('abort', () => aborts++);
          }),
      },
    });
    client = connect(server.url, { clock, timeout: 1_000 });
    const calls = Array.from({ length: 250 }, () => settle(client!.request('wait')));
    await until(() => started.count === 250, 'every handler to start');
    clock.increment(1_000);
    await Promise.all(calls);
    await until(() => aborts === 250, 'every handler to be aborted');
    expect([...server.connections][0]!.handlingCalls).toBe(0);
  });
});

describe('maxDepth', () => {
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

  it('answers a frame nested deeper than maxDepth with -32600 without running it', async () => {
    let runs = 0;
    server = await serve({ maxDepth: 4, methods: { count: () => ++runs } });
    const r = await raw(server.url);
    // The frame is 1, params 2, and the arrays inside 3 and 4.
    r.send(`{"jsonrpc":"2.0","id":1,"method":"count","params":${nested(3)}}`);
    expect(await r.next()).toEqual({ jsonrpc: '2.0', id: 1, result: 1 });
    r.send(`{"jsonrpc":"2.0","id":2,"method":"count","params":${nested(4)}}`);
    expect(await r.next()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'frame nested deeper than 4 levels (maxDepth)' },
    });
    expect(runs).toBe(1);
  });

  it('rejects a frame nested 100,000 deep by default (64) and keeps serving', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    const r = await raw(server.url);
    r.send(`{"jsonrpc":"2.0","id":1,"method":"echo","params":${nested(100_000)}}`);
    expect(await r.next()).toMatchObject({ id: null, error: { code: -32600, message: 'frame nested deeper than 64 levels (maxDepth)' } });
    r.send('{"jsonrpc":"2.0","id":2,"method":"echo","params":[1]}');
    expect(await r.next()).toEqual({ jsonrpc: '2.0', id: 2, result: [1] });
  });
});

describe('maxInFlightPerConnection', () => {
  it('answers a request beyond the limit at once with -32000 "server busy" and does not run it', async () => {
    const held: Array<() => void> = [];
    let runs = 0;
    server = await serve({
      maxInFlightPerConnection: 2,
      methods: { hold: () => (runs++, new Promise<string>((resolve) => held.push(() => resolve('ok')))) },
    });
    const r = await raw(server.url);
    for (const id of [1, 2, 3]) r.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'hold' }));
    expect(await r.next()).toEqual({
      jsonrpc: '2.0',
      id: 3,
      error: {
        code: -32000,
        message: 'server busy: 2 calls already in flight on this connection (maxInFlightPerConnection); "hold" was not run',
        data: { maxInFlightPerConnection: 2 },
      },
    });
    expect(runs).toBe(2);
    // Another connection has a limit of its own.
    client = connect(server.url);
    const fromOther = client.request('hold');
    await until(() => runs === 3, 'the other connection to run its call');
    for (const release of held.splice(0)) release();
    expect(await fromOther).toBe('ok');
    const answers = [await r.next(), await r.next()];
    expect(answers.map((a) => (a as { id: number }).id).sort()).toEqual([1, 2]);
    // With room again, the connection runs calls.
    r.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'hold' }));
    await until(() => held.length === 1, 'the call to run');
    held[0]!();
    expect(await r.next()).toEqual({ jsonrpc: '2.0', id: 4, result: 'ok' });
  });

  it('reaches a callstate client as RemoteError -32000', async () => {
    server = await serve({ maxInFlightPerConnection: 1, methods: { hold: () => new Promise(() => {}) } });
    client = connect(server.url);
    void settle(client.request('hold'));
    const { error } = await settle(client.request('hold'));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message]).toEqual([
      ErrorCodes.ServerBusy,
      'server busy: 1 call already in flight on this connection (maxInFlightPerConnection); "hold" was not run',
    ]);
  });
});

describe('frames a JSON-RPC peer should not send', () => {
  it('answers a binary frame with -32600 (id null), reports it, and keeps the connection open', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    const unmatched: UnmatchedEvent[] = [];
    server.on('connection', (peer: Peer) => peer.on('unmatched', (event) => unmatched.push(event)));
    const r = await raw(server.url);
    r.socket.send(Buffer.from('{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}'), { binary: true });
    expect(await r.next()).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32600, message: 'binary frame: JSON-RPC travels in text frames' },
    });
    expect(unmatched).toMatchObject([{ reason: 'malformed', id: null, detail: 'binary frame: JSON-RPC travels in text frames' }]);
    r.send('{"jsonrpc":"2.0","id":2,"method":"echo","params":[2]}');
    expect(await r.next()).toEqual({ jsonrpc: '2.0', id: 2, result: [2] });
  });

  it('survives a text frame of invalid UTF-8: that socket closes with 1007, others carry on', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    client = connect(server.url);
    await client.ready;
    const r = await raw(server.url);
    const closed = new Promise<number>((resolve) => r.socket.once('close', (code) => resolve(code)));
    r.socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect(await closed).toBe(1007);
    expect(await client.request('echo', ['still here'])).toEqual(['still here']);
    await until(() => server!.connections.size === 1, 'the server to drop the bad socket');
  });

  const BAD_ID = '"id" must be a string or a number';
  const UNSAFE_ID =
    '"id" must be a string or an integer from -(2^53 - 1) to 2^53 - 1: a number id beyond that or with a fraction cannot be read exactly';
  it.each([
    ['an object', '{"a":1}', BAD_ID],
    ['an array', '[1]', BAD_ID],
    ['a boolean', 'true', BAD_ID],
    ['null', 'null', BAD_ID],
    ['a number beyond float range', '1e400', UNSAFE_ID],
    ['an integer beyond 2^53, which JSON.parse rounds', '9007199254740993', UNSAFE_ID],
    ['a fraction', '1.5', UNSAFE_ID],
  ])('answers a request whose id is %s with -32600 and id null, running nothing', async (_what, id, message) => {
    let runs = 0;
    server = await serve({ methods: { count: () => ++runs } });
    const r = await raw(server.url);
    r.send(`{"jsonrpc":"2.0","id":${id},"method":"count"}`);
    expect(await r.next()).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message } });
    expect(runs).toBe(0);
  });
});

describe('maxInFlightBytesPerConnection', () => {
  /** A request frame of about `size` characters for `method`. */
  const big = (id: number, method: string, size: number) => JSON.stringify({ jsonrpc: '2.0', id, method, params: ['x'.repeat(size)] });

  it('by default holds at most 16 MiB of requests running on one connection: the next is answered -32000 unrun', async () => {
    let runs = 0;
    server = await serve({ methods: { hold: () => (runs++, new Promise(() => {})), echo: (p: unknown) => p } });
    const r = await raw(server.url);
    // Sixteen frames of a little under 1 MiB (the server's maxPayload) run; the seventeenth would pass 16 MiB.
    for (let id = 1; id <= 17; id++) r.send(big(id, 'hold', 1_000_000));
    expect(await r.next()).toMatchObject({
      id: 17,
      error: { code: -32000, data: { maxInFlightBytesPerConnection: 16 * 1024 * 1024 } },
    });
    expect(runs).toBe(16);
    // Small calls still fit beside them.
    r.send(JSON.stringify({ jsonrpc: '2.0', id: 18, method: 'echo', params: [1] }));
    expect(await r.next()).toEqual({ jsonrpc: '2.0', id: 18, result: [1] });
  });

  it('counts each request until its handler ends, and a notification running a method as a request', async () => {
    const held: Array<() => void> = [];
    const errors: unknown[] = [];
    let runs = 0;
    server = await serve({
      maxInFlightBytesPerConnection: 1000,
      onError: (error) => errors.push(error),
      methods: { hold: () => (runs++, new Promise<string>((resolve) => held.push(() => resolve('ok')))) },
    });
    const r = await raw(server.url);
    r.send(big(1, 'hold', 600));
    r.send(big(2, 'hold', 600));
    expect(await r.next()).toMatchObject({ id: 2, error: { code: -32000, data: { maxInFlightBytesPerConnection: 1000 } } });
    // A notification past the budget does not run: reported, as the refused request was, with the same error.
    r.send(JSON.stringify({ jsonrpc: '2.0', method: 'hold', params: ['x'.repeat(600)] }));
    await until(() => errors.length === 2, 'the refused notification to be reported');
    expect(errors[1]).toMatchObject({ code: -32000, data: { maxInFlightBytesPerConnection: 1000 } });
    expect(runs).toBe(1);
    // Once the first call is answered, its bytes are free again; a request larger than the budget runs alone.
    held.shift()!();
    expect(await r.next()).toEqual({ jsonrpc: '2.0', id: 1, result: 'ok' });
    r.send(big(3, 'hold', 5000));
    await until(() => runs === 2, 'the large request to run alone');
    held.shift()!();
    expect(await r.next()).toEqual({ jsonrpc: '2.0', id: 3, result: 'ok' });
  });

  it('counts a request of a batch by its own text: padding the batch with small messages does not shrink it', async () => {
    let runs = 0;
    server = await serve({
      maxInFlightBytesPerConnection: 10_000,
      methods: { hold: () => (runs++, new Promise(() => {})), echo: (p: unknown) => p },
    });
    const r = await raw(server.url);
    // A 4,000-character request and 99 notifications of no method (nothing runs, nothing is answered): a share of
    // the frame would count it about 40 characters, so that 250 of them, 1 MB of params, would fit in 10,000.
    // (Messages answered in the batch, -32600 to `{}`, would count too: their answers wait with the batch.)
    const padded = (id: number) => `[${big(id, 'hold', 4000)}${',{"jsonrpc":"2.0","method":"none"}'.repeat(99)}]`;
    for (let id = 1; id <= 3; id++) r.send(padded(id));
    r.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'echo', params: [1] }));
    // The third batch is answered at once (its request refused), before the echo.
    const answers = (await r.next()) as Array<{ id: unknown; error: { code: number; data?: unknown } }>;
    expect(answers.find((answer) => answer.id === 3)?.error).toMatchObject({
      code: -32000,
      data: { maxInFlightBytesPerConnection: 10_000 },
    });
    expect(await r.next()).toEqual({ jsonrpc: '2.0', id: 4, result: [1] });
    expect(runs).toBe(2);
  });

  it('counts the answers a batch holds until its last call ends: a call that never ends cannot make it hold the others past the limit', async () => {
    const held: Array<() => void> = [];
    server = await serve({
      maxInFlightBytesPerConnection: 10_000,
      methods: { hold: () => new Promise<string>((resolve) => held.push(() => resolve('ok'))), echo: (p: unknown) => p },
    });
    const r = await raw(server.url);
    // Nine echoes of 1,000 characters end at once; their answers (about 9,300 characters) wait for the call that
    // holds the batch. Uncounted, every batch like it held its frame's worth of answers: a connection could
    // make the server hold maxInFlightPerConnection × maxPayload (10,000 × 1 MiB) with one call counted per batch.
    const echoes = Array.from({ length: 9 }, (_, i) => JSON.parse(big(100 + i, 'echo', 1000)) as object);
    r.send(JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'hold' }, ...echoes]));
    await until(() => held.length === 1, 'the batch to run');
    // A macrotask: the echoes of the batch have ended and their answers wait in it.
    await new Promise((resolve) => setTimeout(resolve, 0));
    r.send(big(2, 'echo', 1000));
    const refused = (await r.next()) as { id: number; error: { code: number; message: string; data: unknown } };
    expect(refused.id).toBe(2);
    expect(refused.error.code).toBe(-32000);
    expect(refused.error.data).toEqual({ maxInFlightBytesPerConnection: 10_000 });
    expect(refused.error.message).toMatch(
      /^server busy: requests of \d+ characters already running on this connection \(\d+ of them answers held until the rest of their batch is answered\), \d+ characters more would pass 10000 \(maxInFlightBytesPerConnection\); "echo" was not run$/,
    );
    // Once the batch is answered, its answers no longer count.
    held.shift()!();
    const batch = (await r.next()) as Array<{ id: number }>;
    expect(batch.map((answer) => answer.id).sort((a, b) => a - b)).toEqual([1, 100, 101, 102, 103, 104, 105, 106, 107, 108]);
    expect([...server.connections][0]!.handlingCalls).toBe(0);
    r.send(big(3, 'echo', 1000));
    expect(await r.next()).toMatchObject({ id: 3, result: ['x'.repeat(1000)] });
  });
});

describe('limit options', () => {
  it.each(['maxBatch', 'maxDepth', 'maxInFlightPerConnection', 'maxInFlightBytesPerConnection'] as const)(
    'throws for a %s that is not a whole number from 1',
    async (name) => {
      await expect(serve({ [name]: 1.5, methods: {} })).rejects.toThrow(
        new TypeError(`options.${name} must be an integer, got number 1.5`),
      );
      await expect(serve({ [name]: 0, methods: {} })).rejects.toThrow(RangeError);
    },
  );
});
