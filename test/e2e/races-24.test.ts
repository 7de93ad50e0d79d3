/**
 * Races read off the lifecycle diagrams (docs/lifecycle.md) that no other file pins down: calls made in the turn a
 * connection is lost or opened again (epochs), close() against itself and against the peer's close frame, an abort
 * against an answer read in the same turn or after the deadline, and on the server an answer written as its connection
 * closes and a drain begun between two requests read together. The peer is a `ws` server the test drives by hand; the
 * order of two events comes from doing both in one synchronous block or one frame, never from waiting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { SimulatedClock } from 'xstate';
import { connect, ConnectionClosedError, serve, TimeoutError, type Client, type Server } from '../../src/index.js';
import { abortWatcher, collectUncaught, rawClient, scriptedPeer, settle, until, type Frame } from '../helpers.js';

let client: Client | undefined;
let server: Server | undefined;
let peer: WebSocketServer | undefined;
let raw: Awaited<ReturnType<typeof rawClient>> | undefined;
afterEach(async () => {
  await raw?.close();
  await client?.close();
  await server?.close();
  for (const socket of peer?.clients ?? []) socket.terminate();
  await new Promise((resolve) => (peer ? peer.close(resolve) : resolve(undefined)));
  [client, server, peer, raw] = [undefined, undefined, undefined, undefined];
});
const uncaught = collectUncaught();

const RECONNECT = { initialDelay: 100, maxDelay: 100, jitter: 0 };

/** A scripted peer standing in for the client's peer (test/helpers.ts), closed after the test: `read`, its frames per socket. */
async function handDrivenPeer() {
  const hand = await scriptedPeer();
  peer = hand.wss;
  return { url: hand.url, sockets: hand.sockets, read: hand.frames };
}

const send = (socket: WebSocket, ...frames: object[]) =>
  socket.send(JSON.stringify(frames.length === 1 ? { jsonrpc: '2.0', ...frames[0] } : frames.map((f) => ({ jsonrpc: '2.0', ...f }))));

/** A client (in `client`) on `engine`, open to a hand-driven peer, without heartbeat. */
async function connectedPeer(engine: 'light' | 'xstate', options: Parameters<typeof connect>[1] = {}) {
  const hand = await handDrivenPeer();
  client = connect(hand.url, { engine, heartbeat: 0, ...options });
  await client.ready;
  await until(() => hand.sockets.length === 1, 'the connection');
  return { ...hand, client };
}

/** The same with reconnect (after a fixed 100 ms) and a simulated clock. */
async function reconnectingPeer(engine: 'light' | 'xstate') {
  const clock = new SimulatedClock();
  return { clock, ...(await connectedPeer(engine, { clock, reconnect: RECONNECT })) };
}

/** A call the peer answers once it reads it: whatever the connection wrote before it, the peer has read by then. */
async function probed(caller: Client, socket: WebSocket, frames: Frame[]): Promise<unknown> {
  const probe = caller.request('work', ['probe'], { timeout: 60_000 });
  await until(() => frames.some((f) => f.params?.[0] === 'probe'), 'the probe');
  send(socket, { id: frames.find((f) => f.params?.[0] === 'probe')!.id, result: 'probe' });
  return probe;
}

/** The reasons of the unmatched messages `caller` reports, as they come. */
function unmatchedOf(caller: Client): string[] {
  const reasons: string[] = [];
  caller.on('unmatched', ({ reason }) => reasons.push(reason));
  return reasons;
}

/** A server (in `server`) on `engine` without heartbeat; what it reports to `onError` or logs from `info` up, as it comes. */
async function watchedServer(engine: 'light' | 'xstate', methods: Record<string, () => unknown>): Promise<unknown[]> {
  const reported: unknown[] = [];
  const log = (...args: unknown[]) => reported.push(args);
  server = await serve({
    engine,
    heartbeat: 0,
    onError: (error) => reported.push(error),
    logger: { error: log, warn: log, info: log, debug: () => {} },
    methods,
  });
  return reported;
}

/** Counts how often a promise settles (once, or a defect) and what with. */
function counted<T>(promise: Promise<T>) {
  let times = 0;
  const outcome = settle(promise.finally(() => times++));
  return { outcome, times: () => times };
}

describe.each(['light', 'xstate'] as const)('engine: %s', (engine) => {
  describe('calls made in the turn the connection is lost, or opens again', () => {
    it("made as the peer's notification and close frame are read: the written plain call fails once and never goes out on the next connection; the retry one goes out there once, with its id", async () => {
      const { clock, sockets, read, client: caller } = await reconnectingPeer(engine);
      const calls: Record<string, ReturnType<typeof counted>> = {};
      caller.once('notification', () => {
        calls.plain = counted(caller.request('work', ['plain'], { timeout: 60_000 }));
        calls.retry = counted(caller.request('work', ['retry'], { retry: true, timeout: 60_000 }));
      });
      const openedAgain: Array<ReturnType<typeof counted>> = [];
      caller.on('reconnecting', () => {
        calls.duringLoss = counted(caller.request('work', ['during the loss'], { timeout: 60_000 }));
      });
      caller.on('open', () => openedAgain.push(counted(caller.request('work', ['on open'], { timeout: 60_000 }))));
      // One turn of the peer: the notification, then the close frame; the client reads both before the socket ends.
      send(sockets[0]!, { method: 'tick' });
      sockets[0]!.close(1012, 'restarting');
      await until(() => caller.reconnecting, 'the loss');
      const plain = await calls.plain!.outcome;
      expect(plain.error).toBeInstanceOf(ConnectionClosedError);
      expect(plain.error.message).not.toMatch(/could not be written/);
      // Both were made before the client read the close frame: written on the first connection.
      expect(read[0]!.map((f) => f.params[0])).toEqual(['plain', 'retry']);
      expect(caller.queuedCalls).toBe(2); // the retry call and the one made as the loss was reported
      clock.increment(100);
      await until(() => read[1]?.length === 3, 'three requests on the second connection');
      expect(read[1]!.map((f) => f.params[0])).toEqual(['retry', 'during the loss', 'on open']);
      const retryId = read[1]![0]!.id;
      expect(read[0]![1]!.id).toBe(retryId);
      for (const frame of read[1]!) send(sockets[1]!, { id: frame.id, result: frame.params[0] });
      expect((await calls.retry!.outcome).value).toBe('retry');
      expect((await calls.duringLoss!.outcome).value).toBe('during the loss');
      expect(openedAgain).toHaveLength(1);
      expect((await openedAgain[0]!.outcome).value).toBe('on open');
      for (const call of [...Object.values(calls), ...openedAgain]) expect(call.times()).toBe(1);
      expect([caller.pendingCalls, caller.queuedCalls, caller.epoch]).toEqual([0, 0, 2]);
      expect(uncaught).toEqual([]);
    });
  });

  describe("a retry call's answer against the loss", () => {
    it('its answer read in the turn of the close frame, before it: resolved once from the lost connection, never re-sent on the next', async () => {
      const { clock, sockets, read, client: caller } = await reconnectingPeer(engine);
      const unmatched = unmatchedOf(caller);
      const call = counted(caller.request('work', [], { retry: true, timeout: 60_000 }));
      await until(() => read[0]!.length === 1, 'the request');
      send(sockets[0]!, { id: read[0]![0]!.id, result: 'first' });
      sockets[0]!.close(1012, 'restarting');
      expect(await call.outcome).toEqual({ value: 'first' });
      await until(() => caller.reconnecting, 'the loss');
      clock.increment(100);
      await until(() => caller.state === 'open' && sockets.length === 2, 'the second connection');
      expect(await probed(caller, sockets[1]!, read[1]!)).toBe('probe');
      expect(read[1]!.map((f) => f.params)).toEqual([['probe']]);
      expect([call.times(), unmatched, caller.pendingCalls, caller.epoch]).toEqual([1, [], 0, 2]);
      expect(uncaught).toEqual([]);
    });
  });

  describe('close() against itself and against the peer', () => {
    it('close() twice in one turn, and once more after closed: each resolves, one close frame, one close event, pending calls fail once', async () => {
      const { sockets, read, client: caller } = await connectedPeer(engine);
      const closeCodes: number[] = [];
      sockets[0]!.on('close', (code) => closeCodes.push(code));
      const closes: unknown[] = [];
      caller.on('close', (event) => closes.push(event));
      const call = counted(caller.request('work', [], { timeout: 60_000 }));
      await until(() => read[0]!.length === 1, 'the request');
      const first = caller.close(4000, 'first');
      const second = caller.close(4001, 'second');
      expect(await settle(first)).toEqual({ value: undefined });
      expect(await settle(second)).toEqual({ value: undefined });
      expect(await settle(caller.close())).toEqual({ value: undefined });
      await until(() => closeCodes.length === 1, 'the peer to see the close');
      expect(closeCodes).toEqual([4000]);
      expect(closes).toHaveLength(1);
      expect((await call.outcome).error).toBeInstanceOf(ConnectionClosedError);
      expect([call.times(), caller.pendingCalls, caller.state]).toEqual([1, 0, 'closed']);
      expect(uncaught).toEqual([]);
    });

    it("close() in the turn the peer's close frame is read: resolves, one close event, the call in flight fails once as closed locally", async () => {
      const { sockets, client: caller } = await connectedPeer(engine, { reconnect: RECONNECT });
      const events: string[] = [];
      caller.on('close', () => events.push('close'));
      caller.on('reconnecting', () => events.push('reconnecting'));
      const call = counted(caller.request('work', [], { timeout: 60_000 }));
      let closing: Promise<void> | undefined;
      caller.once('notification', () => (closing = caller.close()));
      send(sockets[0]!, { method: 'tick' });
      sockets[0]!.close(1001, 'going away');
      await until(() => closing !== undefined, 'the notification');
      expect(await settle(closing!)).toEqual({ value: undefined });
      const { error } = await call.outcome;
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.message).toMatch(/closed locally$/);
      await until(() => sockets[0]!.readyState === 3, 'the peer socket to close');
      expect(events).toEqual(['close']);
      expect([call.times(), caller.state, caller.pendingCalls]).toEqual([1, 'closed', 0]);
      expect(uncaught).toEqual([]);
    });
  });

  describe('close() on both ends in one turn', () => {
    it("the client's close() and the server's close of that connection cross: each end closes once, the client never reconnects, its call fails once as closed locally, the handler's signal aborts", async () => {
      const watcher = abortWatcher();
      server = await serve({ engine, heartbeat: 0, methods: { work: watcher.handler } });
      client = connect(server.url, { engine, heartbeat: 0, reconnect: RECONNECT });
      const clientEvents: string[] = [];
      client.on('close', () => clientEvents.push('close'));
      client.on('reconnecting', () => clientEvents.push('reconnecting'));
      const call = counted(client.request('work', [], { timeout: 60_000 }));
      await watcher.entered;
      const serverSide = [...server.connections][0]!;
      const serverEvents: string[] = [];
      serverSide.on('close', () => serverEvents.push('close'));
      const closes = [settle(client.close(4000, 'client')), settle(serverSide.close(4001, 'server'))];
      expect(await Promise.all(closes)).toEqual([{ value: undefined }, { value: undefined }]);
      const { error } = await call.outcome;
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.message).toMatch(/closed locally$/);
      expect(await watcher.aborted).toBe(true);
      await until(() => server!.connections.size === 0, 'the server to let the connection go');
      expect([clientEvents, serverEvents, client.state, serverSide.state, call.times()]).toEqual([
        ['close'],
        ['close'],
        'closed',
        'closed',
        1,
      ]);
      expect(uncaught).toEqual([]);
    });
  });

  describe('an abort against the answer', () => {
    it.each(['after', 'before'] as const)(
      'aborted in the turn its answer is read, %s it: after, resolves and no cancel notice is written; before, rejects once with the reason, one cancel notice, the answer late',
      async (order) => {
        const { sockets, read, client: caller } = await connectedPeer(engine);
        const unmatched = unmatchedOf(caller);
        const controller = new AbortController();
        const call = counted(caller.request('work', [], { signal: controller.signal, timeout: 60_000 }));
        caller.once('notification', () => controller.abort(new Error('changed my mind')));
        await until(() => read[0]!.length === 1, 'the request');
        const answer = { id: read[0]![0]!.id, result: 'done' };
        const abort = { method: 'tick' };
        send(sockets[0]!, ...(order === 'after' ? [answer, abort] : [abort, answer]));
        const outcome = await call.outcome;
        if (order === 'after') expect(outcome).toEqual({ value: 'done' });
        else expect(outcome.error.message).toBe('changed my mind');
        // A probe behind: whatever the call wrote after its request, the peer has read it first.
        expect(await probed(caller, sockets[0]!, read[0]!)).toBe('probe');
        const notices = order === 'after' ? [] : [{ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: answer.id } }];
        expect(read[0]!.slice(1, -1)).toEqual(notices);
        expect([call.times(), unmatched, caller.pendingCalls]).toEqual([1, order === 'after' ? [] : ['late'], 0]);
        expect(uncaught).toEqual([]);
      },
    );

    it('one signal for three calls, aborted in the turn the first answer is read, before the last: the first resolves, the other two reject once with the reason, two cancel notices, the last answer late', async () => {
      const { sockets, read, client: caller } = await connectedPeer(engine);
      const unmatched = unmatchedOf(caller);
      const controller = new AbortController();
      const calls = [1, 2, 3].map((n) => counted(caller.request('work', [n], { signal: controller.signal, timeout: 60_000 })));
      caller.once('notification', () => controller.abort(new Error('changed my mind')));
      await until(() => read[0]!.length === 3, 'the requests');
      const [first, , third] = read[0]!;
      send(sockets[0]!, { id: first!.id, result: 'one' }, { method: 'tick' }, { id: third!.id, result: 'three' });
      const outcomes = await Promise.all(calls.map((call) => call.outcome));
      expect(outcomes[0]).toEqual({ value: 'one' });
      for (const { error } of outcomes.slice(1)) expect(error.message).toBe('changed my mind');
      await until(() => unmatched.length === 1 && read[0]!.length === 5, 'the late answer and the cancel notices');
      expect(read[0]!.slice(3)).toEqual(
        read[0]!.slice(1, 3).map((f) => ({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: f.id } })),
      );
      expect([calls.map((call) => call.times()), unmatched, caller.pendingCalls]).toEqual([[1, 1, 1], ['late'], 0]);
      expect(uncaught).toEqual([]);
    });

    it('aborted after its deadline passed: TimeoutError stays, the abort writes no second cancel notice, the answer after it is late', async () => {
      const clock = new SimulatedClock();
      const { sockets, read, client: caller } = await connectedPeer(engine, { clock });
      const unmatched = unmatchedOf(caller);
      const controller = new AbortController();
      const call = counted(caller.request('work', [], { signal: controller.signal, timeout: 1_000 }));
      await until(() => read[0]!.length === 1, 'the request');
      clock.increment(1_000);
      controller.abort(new Error('too late'));
      expect((await call.outcome).error).toBeInstanceOf(TimeoutError);
      send(sockets[0]!, { id: read[0]![0]!.id, result: 'done' });
      await until(() => unmatched.length === 1, 'the answer');
      expect(await probed(caller, sockets[0]!, read[0]!)).toBe('probe');
      expect(read[0]!.map((f) => f.method)).toEqual(['work', '$/cancelRequest', 'work']);
      expect([call.times(), unmatched, caller.pendingCalls]).toEqual([1, ['late'], 0]);
      expect(uncaught).toEqual([]);
    });
  });

  describe('the server: an answer against the connection closing', () => {
    it.each(['sync', 'async'] as const)(
      'a %s handler whose caller sends its close frame right behind the request: nothing crashes or is reported, nothing stays running',
      async (kind) => {
        const reported = await watchedServer(engine, { work: kind === 'sync' ? () => 'done' : async () => 'done' });
        raw = await rawClient(server!.url);
        const inbox: Frame[] = [];
        raw.socket.on('message', (data) => inbox.push(JSON.parse(String(data))));
        const closed = new Promise<number>((resolve) => raw!.socket.once('close', resolve));
        raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'work' }));
        raw.socket.close(1000, 'bye');
        expect(await closed).toBe(1000);
        await until(() => server!.connections.size === 0, 'the server to let the connection go');
        expect(inbox.every((f) => f.id === 1 && f.result === 'done')).toBe(true);
        expect([reported, uncaught]).toEqual([[], []]);
      },
    );
  });

  describe('the server: an answer held in the socket as its caller drops', () => {
    it('a 32 MB answer the caller does not read, then its TCP connection reset: nothing reported, the connection let go', async () => {
      const reported = await watchedServer(engine, { big: () => 'x'.repeat(32 * 2 ** 20) });
      raw = await rawClient(server!.url);
      (raw.socket as unknown as { _socket: { pause(): void } })._socket.pause();
      raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'big' }));
      const peerSide = () => [...server!.connections][0];
      await until(() => (peerSide()?.bufferedAmount ?? 0) > 0, 'the answer to be held in the socket');
      raw.socket.terminate();
      await until(() => server!.connections.size === 0, 'the server to let the connection go');
      expect([reported, uncaught]).toEqual([[], []]);
    });
  });

  describe('the server: a draining close begun between two requests read together', () => {
    it('the first handler starts close({ drain }) at once: it is answered, the request in the next frame of the same read is refused -32000, then 1001', async () => {
      let closing: Promise<void> | undefined;
      const ran: string[] = [];
      server = await serve({
        engine,
        heartbeat: 0,
        methods: {
          first: () => {
            ran.push('first');
            closing = server!.close({ drain: 60_000 });
            return 'answered';
          },
          second: () => (ran.push('second'), 'ran'),
        },
      });
      raw = await rawClient(server.url);
      const inbox: Frame[] = [];
      raw.socket.on('message', (data) => inbox.push(JSON.parse(String(data))));
      const closed = new Promise<number>((resolve) => raw!.socket.once('close', resolve));
      // Two frames in one write: the server reads the second in the turn the first's handler ran.
      const tcp = (raw.socket as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
      tcp.cork();
      raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'first' }));
      raw.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'second' }));
      tcp.uncork();
      expect(await closed).toBe(1001);
      await closing;
      expect(ran).toEqual(['first']);
      // Answers may go out in any order (the refusal is made at once, the answer as the handler's value settles).
      expect(inbox.map((f) => [f.id, f.result ?? f.error.code]).sort()).toEqual([
        [1, 'answered'],
        [2, -32000],
      ]);
      expect(uncaught).toEqual([]);
    });
  });
});
