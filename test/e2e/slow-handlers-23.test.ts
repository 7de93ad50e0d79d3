/**
 * Slow and silent handlers and peers: a handler that never settles and ignores `ctx.signal`, and handlers that return
 * values that never finish or cannot be sent. Whatever the caller does (times out, cancels, goes away), the slot its
 * call took is freed and nothing stays counted; each hostile result gets a clear answer. Over WebSocket (server, and a
 * client's own methods the server calls), HTTP POST and NATS, on real sockets and a real nats-server. Time is a
 * SimulatedClock: no outcome here waits on real time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { request as httpRequest } from 'node:http';
import {
  connect,
  ConnectionClosedError,
  ErrorCodes,
  HttpError,
  RemoteError,
  serve,
  TimeoutError,
  type NatsServeOptions,
  type NatsServer,
  type Peer,
  type ServeOptions,
} from '../../src/index.js';
import { closeTrackedAfterEach, collectUncaught, heapAfterGc, orHang, rawClient, settle, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const uncaught = collectUncaught();
const nats = useNatsServer();
const track = closeTrackedAfterEach();
afterEach(() => expect(uncaught).toEqual([]));
let subjects = 0;

/** A handler that never settles and never reads its signal. */
const never = () => new Promise(() => {});

/** How many incoming calls a peer (a server's connection, or a client) counts as running, and their bytes. */
const inFlight = (peer: Peer): [number, number] => {
  const { size, bytes } = (peer as unknown as { incoming: { size: number; bytes: number } }).incoming;
  return [size, bytes];
};

/** A NATS responder on a subject of its own, closed after the test. */
async function responder(options: Omit<NatsServeOptions, 'nats' | 'subject'>) {
  return track(await serve({ nats: nats.url, subject: `slow23.svc${++subjects}`, ...options }));
}

async function wsServer(options: Omit<ServeOptions, 'port' | 'host'>) {
  return track(await serve({ port: 0, host: '127.0.0.1', ...options }));
}

describe('a WebSocket server whose handler never settles and ignores its signal', () => {
  it('frees the slot when the caller times out, every time, across reconnects: nothing grows', async () => {
    const s = await wsServer({ methods: { never }, maxInFlightPerConnection: 1 });
    const clock = new SimulatedClock();
    for (let round = 0; round < 5; round++) {
      const c = connect(s.url, { clock, timeout: 1_000 });
      await c.ready;
      for (let i = 0; i < 10; i++) {
        const pending = settle(c.request('never'));
        const [peer] = [...s.connections];
        await until(() => inFlight(peer!)[0] === 1, 'the call running on the server');
        clock.increment(1_000);
        expect((await pending).error).toBeInstanceOf(TimeoutError);
        // The cancel notice reaches the server: with maxInFlightPerConnection 1, the next call would otherwise be busy.
        await until(() => inFlight(peer!)[0] === 0, 'the slot freed');
        expect(inFlight(peer!)).toEqual([0, 0]);
      }
      await c.close();
      await until(() => s.connections.size === 0, 'the connection gone');
    }
  });

  it('frees the slot when the caller aborts its signal', async () => {
    const s = await wsServer({ methods: { never, echo: (p: unknown) => p }, maxInFlightPerConnection: 1 });
    const c = track(connect(s.url));
    await c.ready;
    const controller = new AbortController();
    const pending = settle(c.request('never', undefined, { signal: controller.signal }));
    const [peer] = [...s.connections];
    await until(() => inFlight(peer!)[0] === 1, 'the call running on the server');
    controller.abort();
    expect((await pending).error?.name).toBe('AbortError');
    await until(() => inFlight(peer!)[0] === 0, 'the slot freed');
    expect(await c.request('echo', [1])).toEqual([1]);
  });

  it('a raw caller that sends calls and goes away without cancelling: everything about them is released', async () => {
    const s = await wsServer({ methods: { never } });
    for (let round = 0; round < 3; round++) {
      const raw = await rawClient(s.url);
      for (let id = 1; id <= 20; id++) raw.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'never', params: ['x'.repeat(1_000)] }));
      const [peer] = [...s.connections];
      await until(() => inFlight(peer!)[0] === 20, 'the calls running on the server');
      raw.socket.terminate();
      await until(() => s.connections.size === 0, 'the connection gone');
      expect(inFlight(peer!)).toEqual([0, 0]);
    }
  });

  it('a raw caller that stays and never cancels holds at most maxInFlightPerConnection slots: the next is refused -32000, unrun', async () => {
    let runs = 0;
    const s = await wsServer({ methods: { never: () => (runs++, never()) }, maxInFlightPerConnection: 3 });
    const raw = await rawClient(s.url);
    for (let id = 1; id <= 4; id++) raw.send(JSON.stringify({ jsonrpc: '2.0', id, method: 'never' }));
    const answer = (await raw.next()) as { id: number; error: { code: number; message: string } };
    expect(answer.id).toBe(4);
    expect(answer.error.code).toBe(ErrorCodes.ServerBusy);
    expect(runs).toBe(3);
    await raw.close();
  });

  it('with handlerTimeout, such a caller is answered -32001 and the slot freed', async () => {
    const clock = new SimulatedClock();
    const s = await wsServer({ methods: { never }, handlerTimeout: 500, clock });
    const raw = await rawClient(s.url);
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'never' }));
    const [peer] = [...s.connections];
    await until(() => inFlight(peer!)[0] === 1, 'the call running on the server');
    clock.increment(500);
    expect(await raw.next()).toMatchObject({ id: 1, error: { code: ErrorCodes.HandlerTimeout } });
    expect(inFlight(peer!)).toEqual([0, 0]);
    await raw.close();
  });
});

describe("a WebSocket client's own method that never settles and ignores its signal", () => {
  it('frees the client slot when the server times out its call: the next call is run, not refused busy', async () => {
    const clock = new SimulatedClock();
    let runs = 0;
    const s = await wsServer({ methods: {}, clock, timeout: 1_000 });
    const c = track(connect(s.url, { methods: { never: () => (runs++, never()) }, maxInFlightPerConnection: 1 }));
    await c.ready;
    const [peer] = [...s.connections];
    for (let i = 1; i <= 5; i++) {
      const pending = settle(peer!.request('never'));
      await until(() => runs === i, 'the client method running');
      clock.increment(1_000);
      expect((await pending).error).toBeInstanceOf(TimeoutError);
      await until(() => inFlight(c as unknown as Peer)[0] === 0, "the client's slot freed");
    }
    expect(runs).toBe(5);
  });

  it('frees the client slot when the connection closes', async () => {
    const s = await wsServer({ methods: {} });
    const c = track(connect(s.url, { methods: { never } }));
    await c.ready;
    const [peer] = [...s.connections];
    const pending = settle(peer!.request('never'));
    await until(() => inFlight(c as unknown as Peer)[0] === 1, 'the client method running');
    await c.close();
    expect((await pending).error).toBeInstanceOf(ConnectionClosedError);
    expect(inFlight(c as unknown as Peer)).toEqual([0, 0]);
  });
});

/** Runs `call` until it is not refused HTTP 503 (a place of maxConnections not yet given back), at most 1,000 times. */
async function once503Passes<T>(call: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries++) {
    const { value, error } = await settle(call());
    if (!(error instanceof HttpError && error.status === 503) || tries === 1_000) {
      if (error) throw error;
      return value!;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('an HTTP server whose handler never settles and ignores its signal', () => {
  it("frees the POST's place when the callstate HTTP client times out: with maxConnections 1, the next POST runs", async () => {
    let runs = 0;
    const s = await wsServer({ methods: { never: () => (runs++, never()), echo: (p: unknown) => p }, maxConnections: 1 });
    const clock = new SimulatedClock();
    const c = track(connect(s.httpUrl, { clock, timeout: 1_000 }));
    for (let i = 1; i <= 5; i++) {
      const pending = settle(c.request('never'));
      await until(() => runs === i, 'the handler running');
      clock.increment(1_000);
      expect((await pending).error).toBeInstanceOf(TimeoutError);
      // The aborted POST closes its TCP connection: once the server has seen it close, its place of maxConnections is
      // free for the next (until then the next POST may be refused 503: the server cannot know sooner).
      expect(
        await orHang(
          once503Passes(() => c.request('echo', [i])),
          'the next POST',
        ),
      ).toEqual([i]);
    }
  });

  it('with handlerTimeout, a POST whose caller stays is answered -32001', async () => {
    const clock = new SimulatedClock();
    let started = false;
    const s = await wsServer({ methods: { never: () => ((started = true), never()) }, handlerTimeout: 500, clock });
    const answer = fetch(s.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'never' }),
    });
    await until(() => started, 'the handler running');
    clock.increment(500);
    expect(await (await answer).json()).toMatchObject({ id: 1, error: { code: ErrorCodes.HandlerTimeout } });
  });
});

/** POSTs `body` on a TCP connection of its own, closed after the answer (no keep-alive): its status. */
function postOnce(url: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } }, (response) => {
      response.resume();
      response.once('end', () => resolve(response.statusCode!));
    });
    request.once('error', reject);
    request.end(JSON.stringify(body));
  });
}

describe('an HTTP server whose notification handler never settles and ignores its signal', () => {
  it("gives back the connection's place of maxConnections past the default handlerTimeout (10,000 ms)", async () => {
    const clock = new SimulatedClock();
    let runs = 0;
    const s = await wsServer({ methods: { never: () => (runs++, never()), echo: (p: unknown) => p }, maxConnections: 1, clock });
    expect(await postOnce(s.httpUrl, { jsonrpc: '2.0', method: 'never' })).toBe(204);
    expect(runs).toBe(1);
    // Its POST was answered and its connection closed, but the handler runs on and holds the place.
    const call = { jsonrpc: '2.0', id: 1, method: 'echo', params: [1] };
    expect(await postOnce(s.httpUrl, call)).toBe(503);
    clock.increment(9_999);
    expect(await postOnce(s.httpUrl, call)).toBe(503);
    clock.increment(1);
    expect(await postOnce(s.httpUrl, call)).toBe(200);
  });

  it('an explicit handlerTimeout stands in place of the default', async () => {
    const clock = new SimulatedClock();
    const s = await wsServer({ methods: { never, echo: (p: unknown) => p }, maxConnections: 1, clock, handlerTimeout: 60_000 });
    expect(await postOnce(s.httpUrl, { jsonrpc: '2.0', method: 'never' })).toBe(204);
    const call = { jsonrpc: '2.0', id: 1, method: 'echo', params: [1] };
    clock.increment(10_000);
    expect(await postOnce(s.httpUrl, call)).toBe(503);
    clock.increment(50_000);
    expect(await postOnce(s.httpUrl, call)).toBe(200);
  });
});

/** Results no transport can send as they are, and what the caller must get. */
const cyclic = () => {
  const o: Record<string, unknown> = {};
  o.self = o;
  return o;
};
const hostileResults: Array<[name: string, handler: () => unknown, code: number, message: RegExp]> = [
  ['a cyclic object', cyclic, ErrorCodes.InternalError, /^the result of "m" cannot be encoded as JSON: Converting circular structure/],
  ['a BigInt', () => 1n, ErrorCodes.InternalError, /^the result of "m" cannot be encoded as JSON: Do not know how to serialize a BigInt$/],
  [
    'a value whose toJSON throws',
    () => ({
      toJSON() {
        throw new Error('no json');
      },
    }),
    ErrorCodes.InternalError,
    /^the result of "m" cannot be encoded as JSON: no json$/,
  ],
  [
    'a value with a getter that throws',
    () => ({
      get x() {
        throw new Error('no x');
      },
    }),
    ErrorCodes.InternalError,
    /^the result of "m" cannot be encoded as JSON: no x$/,
  ],
  [
    'a thenable whose then throws',
    () => ({
      then() {
        throw new Error('then threw');
      },
    }),
    ErrorCodes.InternalError,
    /^then threw$/,
  ],
  [
    'a promise of a cyclic object',
    () => Promise.resolve(cyclic()),
    ErrorCodes.InternalError,
    /^the result of "m" cannot be encoded as JSON: Converting circular structure/,
  ],
];

describe('an HTTP server whose handler returns what cannot be sent', () => {
  it.each(hostileResults)('%s: answered with a clear error, the next POST answered', async (_name, m, code, message) => {
    const s = await wsServer({ methods: { m, echo: (p: unknown) => p }, maxConnections: 1 });
    const c = track(connect(s.httpUrl, { timeout: 5_000 }));
    const { error } = await settle(c.request('m'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(await c.request('echo', [1])).toEqual([1]);
  });

  it('a thenable whose then never calls back, with handlerTimeout: answered -32001', async () => {
    const clock = new SimulatedClock();
    let started = false;
    const s = await wsServer({ methods: { m: () => ((started = true), { then() {} }) }, handlerTimeout: 500, clock });
    const c = track(connect(s.httpUrl, { timeout: 5_000 }));
    const pending = settle(c.request('m'));
    await until(() => started, 'the handler running');
    clock.increment(500);
    const { error } = await pending;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe(ErrorCodes.HandlerTimeout);
    expect(error.message).toBe('method "m" did not finish within 500 ms (handlerTimeout)');
  });
});

describe('a NATS responder whose handler returns what cannot be sent', () => {
  it.each(hostileResults)('%s: answered with a clear error, nothing left running', async (_name, m, code, message) => {
    const r = await responder({ methods: { m } });
    const c = track(connect(nats.url, { subject: r.subject, timeout: 5_000 }));
    const { error } = await settle(c.request('m'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(r.handlingCalls).toBe(0);
  });

  it('a result far larger than max_payload: answered -32603 saying it could not be published', async () => {
    const r = await responder({ methods: { m: () => 'x'.repeat(2 * 1024 * 1024) } });
    const c = track(connect(nats.url, { subject: r.subject, timeout: 5_000 }));
    const { error } = await settle(c.request('m'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe(ErrorCodes.InternalError);
    expect(error.message).toMatch(/^the answer \(\d+ characters\) could not be published: 'payload' max_payload size exceeded$/);
    expect(r.handlingCalls).toBe(0);
  });
});

describe('a NATS responder whose handler never settles and ignores its signal', () => {
  /**
   * Calls `never` as a plain NATS caller does (nats.js's request(): its timeout stays with it, and nothing tells the
   * responder when it gives up); moves the clock `still` ms, checks the call still runs, then `more` ms: its answer.
   */
  async function plainCallPast(r: NatsServer, clock: SimulatedClock, still: number, more: number): Promise<unknown> {
    const answer = nats.raw.request(r.subject, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'never' }), { timeout: 60_000 });
    await until(() => r.handlingCalls === 1, 'the call running');
    clock.increment(still);
    expect(r.handlingCalls).toBe(1);
    clock.increment(more);
    return JSON.parse((await orHang(answer, 'the -32001 answer')).string());
  }

  it("frees the slot when callstate's caller times out (its timeout travels with the request)", async () => {
    const clock = new SimulatedClock();
    const r = await responder({ methods: { never }, clock, maxInFlightPerConnection: 1 });
    const c = track(connect(nats.url, { subject: r.subject, timeout: 1_000, clock }));
    for (let i = 0; i < 5; i++) {
      const pending = settle(c.request('never'));
      await until(() => r.handlingCalls === 1, 'the call running');
      clock.increment(1_000);
      expect((await pending).error).toBeInstanceOf(TimeoutError);
      await until(() => r.handlingCalls === 0, 'the slot freed');
    }
  });

  it('a plain NATS caller, which sends no timeout: its handler is aborted past the default handlerTimeout, answered -32001, its slot freed', async () => {
    const clock = new SimulatedClock();
    let signal: AbortSignal | undefined;
    const r = await responder({
      methods: { never: (_: unknown, ctx) => ((signal = ctx.signal), never()), echo: (p: unknown) => p },
      clock,
      maxInFlightPerConnection: 1,
    });
    expect(await plainCallPast(r, clock, 9_999, 1)).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: {
        code: ErrorCodes.HandlerTimeout,
        message: 'method "never" did not finish within 10000 ms (handlerTimeout)',
        data: { method: 'never', handlerTimeout: 10_000 },
      },
    });
    expect(signal?.reason).toMatchObject({ name: 'TimeoutError' });
    expect(r.handlingCalls).toBe(0);
    const c = track(connect(nats.url, { subject: r.subject, timeout: 5_000 }));
    expect(await c.request('echo', [1])).toEqual([1]);
  });

  it('a notification whose handler never settles: aborted past the default handlerTimeout, no longer counted', async () => {
    const clock = new SimulatedClock();
    const r = await responder({ methods: { never }, clock });
    nats.raw.publish(r.subject, JSON.stringify({ jsonrpc: '2.0', method: 'never' }));
    await until(() => r.handlingCalls === 1, 'the notification running');
    clock.increment(10_000);
    await until(() => r.handlingCalls === 0, 'the notification no longer counted');
  });

  it("a callstate caller's longer timeout is not cut short by the default: its own timeout ends the handler", async () => {
    const clock = new SimulatedClock();
    const r = await responder({ methods: { never }, clock });
    const c = track(connect(nats.url, { subject: r.subject, timeout: 30_000, clock }));
    const pending = settle(c.request('never'));
    await until(() => r.handlingCalls === 1, 'the call running');
    clock.increment(10_000);
    expect(r.handlingCalls).toBe(1);
    clock.increment(20_000);
    expect((await pending).error).toBeInstanceOf(TimeoutError);
    await until(() => r.handlingCalls === 0, 'the slot freed');
  });

  it('an explicit handlerTimeout stands in place of the default', async () => {
    const clock = new SimulatedClock();
    const r = await responder({ methods: { never }, clock, handlerTimeout: 60_000 });
    expect(await plainCallPast(r, clock, 10_000, 50_000)).toMatchObject({
      id: 1,
      error: { code: ErrorCodes.HandlerTimeout },
    });
    expect(r.handlingCalls).toBe(0);
  });
});

describe('what a never-settling handler was given, once its call ended', () => {
  /** A `never` handler that keeps a WeakRef to its params and its ctx (and nothing else keeps them: its promise is nobody's). */
  function watched() {
    const held: Array<WeakRef<object>> = [];
    const method = (params: object, ctx: object) => (held.push(new WeakRef(params), new WeakRef(ctx)), never());
    const kept = async () => {
      // WeakRefs made in this job are kept until it ends: collect from a later one.
      await new Promise((resolve) => setImmediate(resolve));
      heapAfterGc();
      return held.filter((ref) => ref.deref() !== undefined).length;
    };
    return { method, held, kept };
  }

  it('WebSocket: is collectable after the caller times out, and after the connection closes', async () => {
    const { method, held, kept } = watched();
    const s = await wsServer({ methods: { never: method } });
    const clock = new SimulatedClock();
    const c = connect(s.url, { clock, timeout: 1_000 });
    const timedOut = Array.from({ length: 20 }, () => settle(c.request('never', [{ n: 1 }])));
    await until(() => held.length === 40, 'the handlers running');
    // While they run, their calls keep their params at least: what follows is no collection of what nothing held.
    expect(await kept()).toBeGreaterThanOrEqual(20);
    clock.increment(1_000);
    await Promise.all(timedOut);
    const [peer] = [...s.connections];
    await until(() => inFlight(peer!)[0] === 0, 'the slots freed');
    expect(await kept()).toBe(0);
    const dropped = Array.from({ length: 20 }, () => settle(c.request('never', [{ n: 2 }])));
    await until(() => held.length === 80, 'the handlers running');
    await c.close();
    await Promise.all(dropped);
    await until(() => s.connections.size === 0, 'the connection gone');
    expect(await kept()).toBe(0);
  });

  it('NATS: is collectable once the default handlerTimeout has ended the calls of a plain caller', async () => {
    const { method, held, kept } = watched();
    const clock = new SimulatedClock();
    const r = await responder({ methods: { never: method }, clock });
    const answers = Array.from({ length: 20 }, (_, id) =>
      nats.raw.request(r.subject, JSON.stringify({ jsonrpc: '2.0', id, method: 'never', params: [{ id }] }), { timeout: 60_000 }),
    );
    await until(() => held.length === 40, 'the handlers running');
    clock.increment(10_000);
    await orHang(Promise.all(answers), 'the -32001 answers');
    expect(r.handlingCalls).toBe(0);
    expect(await kept()).toBe(0);
  });
});
