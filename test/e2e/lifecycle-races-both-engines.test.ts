/**
 * The races of the three machines, end to end over real sockets on both engines: a deadline against an answer, an
 * abort against a write, a lost connection against retry calls, `$/cancelRequest` and `handlerTimeout` against a
 * handler's answer, a server close (with and without drain) against running handlers, a heartbeat against a late
 * pong. Each side is played by a scripted `ws` peer that records every frame it reads, so a test can tell what was
 * written after a final state. Time is a simulated clock; the ordering comes from doing both sides of a race in one
 * synchronous block (a settled promise acts a microtask later, a deadline at once).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { SimulatedClock } from 'xstate';
import {
  connect,
  ConnectionClosedError,
  serve,
  TimeoutError,
  type Client,
  type HandlerContext,
  type NatsServer,
  type Server,
} from '../../src/index.js';
import { collectUncaught, deferred, framesOf, rawClient, scriptedPeer as scriptedWsPeer, settle, until } from '../helpers.js';
import { startNatsServer, type NatsServerProcess } from '../nats-helpers.js';

let server: Server | undefined;
let client: Client | undefined;
let scripted: WebSocketServer | undefined;
let raw: Awaited<ReturnType<typeof rawClient>> | undefined;

/**
 * Connects a raw client (kept in `raw`, for the teardown) to `target`, sends it the call "work" (id 1), and waits until
 * its handler runs: that client, what it reads, and the server's side of its connection.
 */
async function workStarted(target: Server) {
  raw = await rawClient(target.url);
  const caller = raw;
  const inbox = framesOf(caller.socket);
  caller.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'work' }));
  const peerSide = () => [...target.connections][0]!;
  await until(() => peerSide()?.handlingCalls === 1, 'the handler to start');
  return { caller, inbox, peerSide };
}
let responder: NatsServer | undefined;
let nats: NatsServerProcess | undefined;
afterAll(async () => {
  await nats?.stop();
});
afterEach(async () => {
  await raw?.close();
  await client?.close();
  await server?.close();
  await responder?.close();
  responder = undefined;
  for (const socket of scripted?.clients ?? []) socket.terminate();
  await new Promise((resolve) => (scripted ? scripted.close(resolve) : resolve(undefined)));
  [server, client, scripted, raw] = [undefined, undefined, undefined, undefined];
});
const uncaught = collectUncaught();

/** A scripted peer (test/helpers.ts), closed after the test. */
async function scriptedPeer(options: { autoPong?: boolean } = {}) {
  const peer = await scriptedWsPeer(options);
  scripted = peer.wss;
  return peer;
}

const answer = (socket: WebSocket, id: unknown, result: unknown) => socket.send(JSON.stringify({ jsonrpc: '2.0', id, result }));
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** Counts how often a promise settles: once, or a defect. */
function once<T>(promise: Promise<T>) {
  let settled = 0;
  const outcome = settle(promise.finally(() => settled++));
  return { outcome, count: () => settled };
}

describe.each(['light', 'xstate'] as const)('engine: %s', (engine) => {
  describe('call: the deadline against the answer', () => {
    it('the deadline passes in the turn the answer is read, before it: TimeoutError once, the answer late, one cancel notice', async () => {
      const clock = new SimulatedClock();
      const peer = await scriptedPeer();
      client = connect(peer.url, { engine, clock, heartbeat: 0, timeout: 1_000 });
      await client.ready;
      const unmatched: string[] = [];
      client.on('unmatched', ({ reason }) => unmatched.push(reason));
      // The notification runs the deadline out; the answer behind it, in the same TCP write, finds the call ended.
      client.on('notification', () => clock.increment(1_000));
      const call = once(client.request('work'));
      await until(() => peer.frames[0]?.length === 1, 'the request');
      const id = peer.frames[0]![0]!.id;
      peer.sockets[0]!.send(JSON.stringify({ jsonrpc: '2.0', method: 'tick' }));
      answer(peer.sockets[0]!, id, 'too late');
      const { error } = await call.outcome;
      expect(error).toBeInstanceOf(TimeoutError);
      await until(() => unmatched.length === 1, 'the late answer');
      expect(unmatched).toEqual(['late']);
      await until(() => peer.frames[0]!.length === 2, 'the cancel notice');
      expect(peer.frames[0]!.slice(1)).toEqual([{ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } }]);
      clock.increment(60_000);
      await turn();
      expect([call.count(), client.pendingCalls, peer.frames[0]!.length]).toEqual([1, 0, 2]);
      expect(uncaught).toEqual([]);
    });

    it('the answer is read in the turn the deadline passes, before it: resolved once, no cancel notice ever written', async () => {
      const clock = new SimulatedClock();
      const peer = await scriptedPeer();
      client = connect(peer.url, { engine, clock, heartbeat: 0, timeout: 1_000 });
      await client.ready;
      const unmatched: string[] = [];
      client.on('unmatched', ({ reason }) => unmatched.push(reason));
      // The notification after the answer, in the same TCP write, runs the deadline out once the call has resolved.
      client.on('notification', () => clock.increment(1_000));
      const call = once(client.request('work'));
      await until(() => peer.frames[0]?.length === 1, 'the request');
      const id = peer.frames[0]![0]!.id;
      clock.increment(999);
      answer(peer.sockets[0]!, id, 'in time');
      peer.sockets[0]!.send(JSON.stringify({ jsonrpc: '2.0', method: 'tick' }));
      expect((await call.outcome).value).toBe('in time');
      // A frame after the notification: once the client has read it, it has read (and acted on) the notification.
      const probe = once(client.request('probe'));
      await until(() => peer.frames[0]!.length === 2, 'the probe');
      answer(peer.sockets[0]!, peer.frames[0]![1]!.id, 'ok');
      expect((await probe.outcome).value).toBe('ok');
      expect(peer.frames[0]!.map((f) => f.method)).toEqual(['work', 'probe']);
      expect([call.count(), client.pendingCalls, unmatched.length]).toEqual([1, 0, 0]);
      expect(uncaught).toEqual([]);
    });
  });

  describe("call: an abort or the deadline against the write's outcome", () => {
    /** A client whose peer stops reading, and a 32 MB request held in its socket: a call in `sent`, its write not ended. */
    async function heldInSocket(options: Parameters<typeof connect>[1] = {}) {
      const clock = new SimulatedClock();
      const peer = await scriptedPeer();
      client = connect(peer.url, { engine, clock, heartbeat: 0, highWaterMark: 256 * 2 ** 20, timeout: 60_000, ...options });
      await client.ready;
      await until(() => peer.sockets.length === 1, 'the connection');
      const tcp = (peer.sockets[0] as unknown as { _socket: { pause(): void; resume(): void } })._socket;
      tcp.pause();
      const controller = new AbortController();
      const big = once(client.request('store', ['x'.repeat(32 * 2 ** 20)], { signal: controller.signal, timeout: 1_000 }));
      await until(() => client!.bufferedAmount > 0, 'the big request to be held in the socket');
      return { clock, peer, tcp, controller, big };
    }

    it('aborted in `sent`: rejects once with the reason at once, frees its in-flight slot; the peer reads the request, then its cancel', async () => {
      const { peer, tcp, controller, big } = await heldInSocket({ maxInFlight: 1 });
      const behind = once(client!.request('echo', ['behind']));
      expect([client!.pendingCalls, client!.queuedCalls]).toEqual([2, 1]);
      controller.abort(new Error('changed my mind'));
      expect((await big.outcome).error.message).toBe('changed my mind');
      // The slot is free: the call behind goes out (after the big request and its cancel, in order).
      expect(client!.queuedCalls).toBe(0);
      tcp.resume();
      await until(() => peer.frames[0]!.length === 3, 'the three frames');
      const [request, cancel, echo] = peer.frames[0]!;
      expect([request!.method, cancel!.method, cancel!.params, echo!.method]).toEqual([
        'store',
        '$/cancelRequest',
        { id: request!.id },
        'echo',
      ]);
      answer(peer.sockets[0]!, echo!.id, 'ok');
      expect((await behind.outcome).value).toBe('ok');
      expect([big.count(), behind.count(), client!.pendingCalls, client!.queuedCalls]).toEqual([1, 1, 0, 0]);
      expect(uncaught).toEqual([]);
    });

    it('the deadline in `sent`: TimeoutError once, then the peer reads the request and its cancel, nothing else', async () => {
      const { clock, peer, tcp, big } = await heldInSocket();
      clock.increment(1_000);
      expect((await big.outcome).error).toBeInstanceOf(TimeoutError);
      tcp.resume();
      await until(() => peer.frames[0]!.length === 2, 'the two frames');
      await turn();
      expect(peer.frames[0]!.map((f) => f.method)).toEqual(['store', '$/cancelRequest']);
      expect([big.count(), client!.pendingCalls]).toEqual([1, 0]);
      expect(uncaught).toEqual([]);
    });

    it('aborted in `sent`, then its write fails as the socket is lost: rejects once with the reason, not with the loss', async () => {
      const { peer, controller, big } = await heldInSocket();
      controller.abort(new Error('changed my mind'));
      peer.sockets[0]!.terminate();
      const { error } = await big.outcome;
      expect(error.message).toBe('changed my mind');
      await client!.closed;
      expect([big.count(), client!.pendingCalls, client!.queuedCalls]).toEqual([1, 0, 0]);
      expect(uncaught).toEqual([]);
    });

    it('close() in `sent`, a call queued behind (maxInFlight 1): both fail once with the close, nothing is written after it', async () => {
      const { peer, tcp, big } = await heldInSocket({ maxInFlight: 1, closeTimeout: 60_000 });
      const behind = once(client!.request('echo', ['behind']));
      const closing = client!.close();
      const outcomes = [await big.outcome, await behind.outcome];
      for (const { error } of outcomes) {
        expect(error).toBeInstanceOf(ConnectionClosedError);
        expect(error.message).toMatch(/closed locally$/);
      }
      expect([client!.pendingCalls, client!.queuedCalls]).toEqual([0, 0]);
      // The peer reads again: the request, then the close frame, which ends the handshake (no closeTimeout involved).
      tcp.resume();
      await closing;
      await turn();
      // The peer read the request that was in the socket, then the close frame (the handshake ends): never the call
      // queued behind it, nor a cancel for either.
      expect(peer.frames[0]!.map((f) => f.method)).toEqual(['store']);
      expect([big.count(), behind.count()]).toEqual([1, 1]);
      expect(uncaught).toEqual([]);
    });

    it('the write fails as the socket is lost, then the signal aborts: fails once with the loss', async () => {
      const { peer, controller, big } = await heldInSocket();
      peer.sockets[0]!.terminate();
      await client!.closed;
      controller.abort(new Error('too late'));
      const { error } = await big.outcome;
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect([big.count(), client!.pendingCalls, client!.queuedCalls]).toEqual([1, 0, 0]);
      expect(uncaught).toEqual([]);
    });
  });

  describe('call: a lost connection with retry calls in flight', () => {
    it('one retry call times out while waiting, one is aborted while waiting, one goes out again with its id: each once, none twice on the new socket', async () => {
      const clock = new SimulatedClock();
      const peer = await scriptedPeer();
      client = connect(peer.url, { engine, clock, heartbeat: 0, reconnect: { initialDelay: 100, maxDelay: 100, jitter: 0 } });
      await client.ready;
      const controller = new AbortController();
      const short = once(client.request('work', ['short'], { retry: true, timeout: 50 }));
      const aborted = once(client.request('work', ['aborted'], { retry: true, timeout: 60_000, signal: controller.signal }));
      const again = once(client.request('work', ['again'], { retry: true, timeout: 60_000 }));
      const plain = once(client.request('work', ['plain'], { timeout: 60_000 }));
      await until(() => peer.frames[0]?.length === 4, 'the four requests');
      const ids = Object.fromEntries(peer.frames[0]!.map((f) => [f.params[0], f.id]));
      peer.sockets[0]!.terminate();
      await until(() => client!.reconnecting, 'the loss');
      expect((await plain.outcome).error).toBeInstanceOf(ConnectionClosedError);
      expect(client.queuedCalls).toBe(3);
      clock.increment(50); // the short call's deadline, while it waits: the peer it was written to is gone
      controller.abort(new Error('no longer needed'));
      expect((await short.outcome).error).toBeInstanceOf(TimeoutError);
      expect((await aborted.outcome).error.message).toBe('no longer needed');
      expect(client.queuedCalls).toBe(1);
      clock.increment(50); // the backoff
      await until(() => peer.frames[1]?.length === 1, 'the retry on the new connection');
      await turn();
      expect(peer.frames[1]).toEqual([{ jsonrpc: '2.0', id: ids.again, method: 'work', params: ['again'] }]);
      answer(peer.sockets[1]!, ids.again, 'second time');
      expect((await again.outcome).value).toBe('second time');
      for (const call of [short, aborted, again, plain]) expect(call.count()).toBe(1);
      expect([client.pendingCalls, client.queuedCalls, client.epoch, peer.frames[1]!.length]).toEqual([0, 0, 2, 1]);
      expect(uncaught).toEqual([]);
    });
  });

  describe('incoming call: $/cancelRequest against the handler answer', () => {
    it('a cancel read in the turn the handler settles, before its answer: one answer only (-32800), the call released', async () => {
      const release = deferred<string>();
      const reasons: unknown[] = [];
      server = await serve({
        engine,
        heartbeat: 0,
        methods: {
          work: (_p: unknown, ctx: HandlerContext) => {
            ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason));
            return release.promise;
          },
          release: () => void release.resolve('done'),
        },
      });
      const { caller, inbox, peerSide } = await workStarted(server);
      // One frame: the notification settles the handler's promise, the cancel behind it is dispatched before that settles.
      caller.send(
        JSON.stringify([
          { jsonrpc: '2.0', method: 'release' },
          { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 1 } },
        ]),
      );
      await until(() => inbox.length >= 1, 'an answer');
      caller.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'release' }));
      await until(() => inbox.length >= 2, 'the probe');
      expect(inbox.map((f) => f.id)).toEqual([1, 2]);
      expect(inbox[0]!.error?.code).toBe(-32800);
      expect(reasons).toHaveLength(1);
      expect(peerSide().handlingCalls).toBe(0);
      expect(uncaught).toEqual([]);
    });

    it('a cancel read after the handler answered: nothing more is written, nothing reported', async () => {
      const errors: unknown[] = [];
      server = await serve({
        engine,
        heartbeat: 0,
        onError: (e) => errors.push(e),
        methods: { work: async () => 'done', echo: (p: unknown) => p },
      });
      raw = await rawClient(server.url);
      const inbox = framesOf(raw.socket);
      raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'work' }));
      await until(() => inbox.length === 1, 'the answer');
      // The caller's cancel crossed the answer on the wire: the server reads it once the call has ended.
      raw.send(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 1 } }));
      raw.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo', params: [2] }));
      await until(() => inbox.length >= 2, 'the answers');
      await turn();
      expect(inbox).toEqual([
        { jsonrpc: '2.0', id: 1, result: 'done' },
        { jsonrpc: '2.0', id: 2, result: [2] },
      ]);
      expect([...server.connections][0]!.handlingCalls).toBe(0);
      expect([errors, uncaught]).toEqual([[], []]);
    });
  });

  describe('incoming call: handlerTimeout against the handler answer', () => {
    it.each([
      ['the deadline passes in the turn the handler settles: one answer, -32001', 500, -32001],
      ['the handler settles a turn before the deadline: one answer, its result; the deadline then writes nothing', 499, undefined],
    ] as const)('%s', async (_name, step, code) => {
      const clock = new SimulatedClock();
      const release = deferred<string>();
      server = await serve({
        engine,
        clock,
        heartbeat: 0,
        handlerTimeout: 500,
        methods: { work: () => release.promise, echo: (p: unknown) => p },
      });
      const { caller, inbox, peerSide } = await workStarted(server);
      release.resolve('done');
      clock.increment(step);
      await until(() => inbox.length >= 1, 'an answer');
      clock.increment(10_000);
      caller.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo', params: [2] }));
      await until(() => inbox.length >= 2, 'the probe');
      expect(inbox.map((f) => f.id)).toEqual([1, 2]);
      if (code === undefined) expect(inbox[0]!.result).toBe('done');
      else expect(inbox[0]!.error?.code).toBe(code);
      expect(peerSide().handlingCalls).toBe(0);
      expect(uncaught).toEqual([]);
    });
  });

  describe('incoming call: handlerTimeout against $/cancelRequest', () => {
    it('the deadline passes and the cancel is read in the same turn: one answer (-32800: the cancel is taken at once, the outcome of the deadline a microtask later), the signal aborted once', async () => {
      const clock = new SimulatedClock();
      const reasons: unknown[] = [];
      server = await serve({
        engine,
        clock,
        heartbeat: 0,
        handlerTimeout: 500,
        methods: {
          work: (_p: unknown, ctx: HandlerContext) =>
            new Promise(() => ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason))),
          tick: () => void clock.increment(500),
          echo: (p: unknown) => p,
        },
      });
      const { caller, inbox, peerSide } = await workStarted(server);
      // One frame: the notification runs the handler's deadline out, the cancel behind it comes in the same dispatch.
      caller.send(
        JSON.stringify([
          { jsonrpc: '2.0', method: 'tick' },
          { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 1 } },
        ]),
      );
      await until(() => inbox.length >= 1, 'an answer');
      caller.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo', params: [2] }));
      await until(() => inbox.length >= 2, 'the probe');
      expect(inbox.map((f) => f.id)).toEqual([1, 2]);
      expect(inbox[0]!.error?.code).toBe(-32800);
      expect(reasons).toHaveLength(1);
      expect(peerSide().handlingCalls).toBe(0);
      expect(uncaught).toEqual([]);
    });
  });

  describe('incoming call: the server closes against running handlers', () => {
    it("close() without drain in the turn the handler settles: the close wins, the caller fails once with it, its handler's signal aborts", async () => {
      const release = deferred<string>();
      const entered = deferred();
      const aborted: boolean[] = [];
      server = await serve({
        engine,
        heartbeat: 0,
        methods: {
          work: (_p: unknown, ctx: HandlerContext) => {
            ctx.signal.addEventListener('abort', () => aborted.push(true));
            entered.resolve();
            return release.promise;
          },
        },
      });
      client = connect(server.url, { engine, heartbeat: 0 });
      const call = once(client.request('work'));
      await entered.promise;
      const closing = server.close();
      release.resolve('done');
      await closing;
      const { error } = await call.outcome;
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(aborted).toEqual([true]);
      expect([call.count(), client.pendingCalls]).toEqual([1, 0]);
      expect(uncaught).toEqual([]);
    });

    it('close({ drain }) whose window ends in the turn the handler settles: the answer, already made, goes out once before the close frame (1001)', async () => {
      const clock = new SimulatedClock();
      const release = deferred<string>();
      const aborted: boolean[] = [];
      server = await serve({
        engine,
        clock,
        heartbeat: 0,
        methods: {
          work: (_p: unknown, ctx: HandlerContext) => {
            ctx.signal.addEventListener('abort', () => aborted.push(true));
            return release.promise;
          },
        },
      });
      raw = await rawClient(server.url);
      const inbox = framesOf(raw.socket);
      const closed = new Promise<number>((resolve) => raw!.socket.once('close', (code) => resolve(code)));
      raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'work' }));
      const peerSide = [...server.connections][0]!;
      await until(() => peerSide.handlingCalls === 1, 'the handler to start');
      const draining = server.close({ drain: 1_000 });
      clock.increment(999);
      await turn();
      expect(inbox).toEqual([]);
      const order: string[] = [];
      raw.socket.on('message', () => order.push('answer'));
      raw.socket.once('close', () => order.push('close'));
      // The handler's promise settles a microtask before the window's end reaches the connections (drainWindow
      // awaits its timer): the answer is no longer running, so it is written, and its signal stays unaborted.
      release.resolve('done');
      clock.increment(1);
      await draining;
      expect(await closed).toBe(1001);
      expect(inbox).toEqual([{ jsonrpc: '2.0', id: 1, result: 'done' }]);
      expect(order).toEqual(['answer', 'close']);
      expect(aborted).toEqual([]);
      expect(peerSide.handlingCalls).toBe(0);
      expect(uncaught).toEqual([]);
    });

    it('close({ drain }) whose handler settles a turn before the window ends: answered once, then closed (1001)', async () => {
      const clock = new SimulatedClock();
      const release = deferred<string>();
      server = await serve({ engine, clock, heartbeat: 0, methods: { work: () => release.promise } });
      client = connect(server.url, { engine, heartbeat: 0 });
      const call = once(client.request('work'));
      await until(() => [...server!.connections][0]?.handlingCalls === 1, 'the handler to start');
      const draining = server.close({ drain: 1_000 });
      clock.increment(999);
      release.resolve('done');
      expect((await call.outcome).value).toBe('done');
      await draining;
      await client.closed;
      expect([call.count(), client.pendingCalls]).toEqual([1, 0]);
      expect(uncaught).toEqual([]);
    });
  });

  describe('incoming call over HTTP POST: the drain window ends against a running handler', () => {
    it.each([
      'settles in the turn the window ends: answered once, then close() resolves',
      'still runs: aborted after closeTimeout, the caller fails once (the TCP connection dropped), close() resolves',
    ] as const)('a handler that %s', async (name) => {
      const clock = new SimulatedClock();
      const release = deferred<string>();
      const entered = deferred();
      const settles = name.startsWith('settles');
      const aborted: unknown[] = [];
      const errors: unknown[] = [];
      server = await serve({
        engine,
        clock,
        heartbeat: 0,
        closeTimeout: 50,
        onError: (error) => errors.push(error),
        methods: {
          work: (_p: unknown, ctx: HandlerContext) => {
            ctx.signal.addEventListener('abort', () => aborted.push(ctx.signal.reason));
            entered.resolve();
            return release.promise;
          },
        },
      });
      client = connect(server.httpUrl, { engine, timeout: 60_000 });
      const call = once(client.request('work'));
      await entered.promise;
      const draining = server.close({ drain: 1_000 });
      clock.increment(999);
      await turn();
      if (settles) release.resolve('done');
      clock.increment(1);
      const { value, error } = await call.outcome;
      await draining;
      if (settles) {
        expect(value).toBe('done');
        expect(aborted).toEqual([]);
      } else {
        expect(error.name).toBe('HttpError');
        expect(aborted).toHaveLength(1);
      }
      expect([call.count(), client.pendingCalls, errors.length]).toEqual([1, 0, 0]);
      expect(uncaught).toEqual([]);
    });
  });

  describe('connection: the heartbeat against a late pong', () => {
    it('a pong sent after the heartbeat ran out: the connection is dropped all the same, the call fails once, the next epoch is unaffected', async () => {
      const clock = new SimulatedClock();
      const peer = await scriptedPeer({ autoPong: false });
      const pinged = deferred<Buffer>();
      scripted!.on('connection', (socket) => socket.once('ping', (data) => pinged.resolve(data)));
      client = connect(peer.url, {
        engine,
        clock,
        heartbeat: 1_000,
        timeout: 60_000,
        reconnect: { initialDelay: 100, maxDelay: 100, jitter: 0 },
      });
      await client.ready;
      const call = once(client.request('work'));
      await until(() => peer.frames[0]?.length === 1, 'the request');
      clock.increment(500); // ping
      const data = await pinged.promise;
      clock.increment(500); // not answered by now: gone
      peer.sockets[0]!.pong(data); // the pong, too late
      const { error } = await call.outcome;
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(call.count()).toBe(1);
      expect(client.reconnecting).toBe(true);
      clock.increment(100);
      await until(() => client!.state === 'open' && peer.sockets.length === 2, 'the next connection');
      const next = once(client.request('work'));
      await until(() => peer.frames[1]?.length === 1, 'the request on the new connection');
      answer(peer.sockets[1]!, peer.frames[1]![0]!.id, 'ok');
      expect((await next.outcome).value).toBe('ok');
      expect([client.pendingCalls, client.epoch]).toEqual([0, 2]);
      expect(uncaught).toEqual([]);
    });

    it("on the server: a client's pong sent after the heartbeat ran out: dropped all the same, its handler aborted once, nothing left", async () => {
      const clock = new SimulatedClock();
      const aborted: unknown[] = [];
      server = await serve({
        engine,
        clock,
        heartbeat: 1_000,
        methods: {
          work: (_p: unknown, ctx: HandlerContext) =>
            new Promise(() => ctx.signal.addEventListener('abort', () => aborted.push(ctx.signal.reason))),
        },
      });
      const socket = new WebSocket(server.url, { autoPong: false });
      const pinged = deferred<Buffer>();
      socket.once('ping', (data) => pinged.resolve(data));
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'work' }));
      await until(() => [...server!.connections][0]?.handlingCalls === 1, 'the handler to start');
      const peerSide = [...server.connections][0]!;
      clock.increment(500); // ping
      const data = await pinged.promise;
      clock.increment(500); // not answered by now: gone
      socket.pong(data); // too late
      expect(await closed).toBe(1006);
      await until(() => server!.connections.size === 0, 'the server to let the connection go');
      expect(aborted).toHaveLength(1);
      expect([peerSide.state, peerSide.handlingCalls]).toEqual(['closed', 0]);
      expect(uncaught).toEqual([]);
    });
  });

  describe('call: the deadline or an abort as the answer is made, on each transport', () => {
    beforeAll(async () => {
      nats ??= await startNatsServer();
    });
    let subjects = 0;

    /** A server on `transport` whose `answer` method runs `during` (in this process: the client's clock, its signal) and then answers. */
    async function serverOn(transport: 'ws' | 'http' | 'nats', during: () => void, onError: (error: unknown) => void) {
      const methods = { answer: () => (during(), 'made'), echo: (p: unknown) => p };
      if (transport === 'nats') {
        const subject = `races.${engine}.${++subjects}`;
        responder = await serve({ nats: nats!.url, subject, engine, onError, methods });
        return { url: nats!.url, subject, running: () => responder!.handlingCalls };
      }
      server = await serve({ engine, heartbeat: 0, onError, methods });
      const running = () => [...server!.connections].reduce((sum, peer) => sum + peer.handlingCalls, 0);
      return { url: transport === 'ws' ? server.url : server.httpUrl, subject: undefined, running };
    }

    for (const transport of ['ws', 'http', 'nats'] as const) {
      it.each(['deadline', 'abort'] as const)(
        `(${transport}) the %s comes while the handler makes its answer: the caller fails once, the answer settles nothing`,
        async (what) => {
          const clock = new SimulatedClock();
          const controller = new AbortController();
          const errors: unknown[] = [];
          const during = () => (what === 'deadline' ? clock.increment(1_000) : controller.abort(new Error('changed my mind')));
          const peer = await serverOn(transport, during, (error) => errors.push(error));
          client = connect(peer.url, {
            engine,
            clock,
            timeout: 1_000,
            ...(peer.subject ? { subject: peer.subject } : transport === 'ws' ? { heartbeat: 0 } : {}),
          });
          const unmatched: string[] = [];
          if (transport !== 'http') client.on('unmatched', ({ reason }) => unmatched.push(reason));
          const call = once(client.request('answer', [], { signal: controller.signal }));
          const { error } = await call.outcome;
          if (what === 'deadline') expect(error).toBeInstanceOf(TimeoutError);
          else expect(error.message).toBe('changed my mind');
          // The answer, written as the caller gave up, is late where the channel still carries it (never settling the call).
          if (transport !== 'http') await until(() => unmatched.length === 1, 'the answer');
          expect(unmatched).toEqual(transport === 'http' ? [] : ['late']);
          // The channel serves on.
          expect(await client.request('echo', [1])).toEqual([1]);
          await until(() => peer.running() === 0, 'the server to end the call');
          expect([call.count(), client.pendingCalls, client.queuedCalls, errors.length]).toEqual([1, 0, 0, 0]);
          expect(uncaught).toEqual([]);
        },
      );
    }
  });
});
