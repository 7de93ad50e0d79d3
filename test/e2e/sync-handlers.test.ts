/**
 * Handlers (and middleware) that act before they return: since `invoke()` runs the method during the incoming-call
 * actor's step into `handling`, inside the inbound dispatcher, whatever a handler does synchronously (close its
 * connection or the server, call the peer back, throw any value, return a hostile thenable) happens in the middle of
 * a frame's dispatch, and of a batch's. Over real sockets, on both engines: each case ends in a clear answer or a
 * clear close, with no unhandled rejection, no hang, and nothing left counted as in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  connect,
  ConnectionClosedError,
  ErrorCodes,
  serve,
  type ErrorInfo,
  type HandlerContext,
  type Peer,
  type Server,
  type NatsServeOptions,
  type ServeOptions,
} from '../../src/index.js';
import { closeTrackedAfterEach, collectUncaught, deferred, orHang, rawClient, settle, throwingProxy, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';
import { rawUpgrade, textFrame } from '../raw-websocket.js';

const uncaught = collectUncaught();
const nats = useNatsServer();
let subjects = 0;
const track = closeTrackedAfterEach();
afterEach(() => expect(uncaught).toEqual([]));

type Ctx = HandlerContext<any>;

/** A peer's `IncomingCalls`: how many incoming calls (and notification handlers) it counts as running, and their bytes. */
const inFlight = (peer: Peer): [number, number] => {
  const { size, bytes } = (peer as unknown as { incoming: { size: number; bytes: number } }).incoming;
  return [size, bytes];
};

/** A raw client's close: its code, once the socket has closed. */
const closeCodeOf = (socket: import('ws').WebSocket) =>
  new Promise<number>((resolve) => (socket.readyState === socket.CLOSED ? resolve(-1) : socket.once('close', (code) => resolve(code))));

/** The text frames a server writes on a raw TCP socket (short ones: unmasked, length under 65,536), as they come. */
function serverTexts(socket: import('node:net').Socket): string[] {
  const texts: string[] = [];
  let data = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    data = Buffer.concat([data, chunk]);
    for (;;) {
      if (data.length < 2) return;
      const short = data[1]! & 0x7f;
      const start = short === 126 ? 4 : 2;
      if (data.length < start) return;
      const length = short === 126 ? data.readUInt16BE(2) : short;
      if (data.length < start + length) return;
      if ((data[0]! & 0x0f) === 0x1) texts.push(data.subarray(start, start + length).toString('utf8'));
      data = data.subarray(start + length);
    }
  });
  return texts;
}

/** Handlers that call their caller back, or close it: over HTTP and NATS, where the caller cannot be called. */
const callingBack = {
  ask: (_p: unknown, ctx: Ctx) => ctx.peer.request('back'),
  tell: (_p: unknown, ctx: Ctx) => (ctx.peer.notify('back'), 'never'),
  close: (_p: unknown, ctx: Ctx) => (void ctx.peer.close(), 'still answered'),
};

describe.each(['light', 'xstate'] as const)('engine: %s', (engine) => {
  /** A server on port 0 whose `onError` reports are collected; tracked, closed after the test. */
  async function server(options: Omit<ServeOptions<any, any>, 'engine'>) {
    const errors: Array<[unknown, ErrorInfo]> = [];
    const made = track(await serve({ engine, onError: (error, info) => errors.push([error, info]), ...options }));
    const peers: Peer[] = [];
    made.on('connection', (peer) => peers.push(peer));
    return Object.assign(made, { errors, peers });
  }

  /** Every connection the server had is closed, with no incoming call still counted and no call of its own pending. */
  async function allGone(s: Awaited<ReturnType<typeof server>>): Promise<void> {
    await until(() => s.connections.size === 0, 'the peers to leave');
    expect(s.peers.map((peer) => [peer.state, ...inFlight(peer), peer.pendingCalls])).toEqual(s.peers.map(() => ['closed', 0, 0, 0]));
  }
  const client = (url: string, options: Parameters<typeof connect>[1] = {}) => track(connect(url, { engine, heartbeat: 0, ...options }));

  /** The server's only peer once it has one. */
  async function onlyPeer(s: Server): Promise<Peer> {
    await until(() => s.connections.size === 1, 'the connection');
    return [...s.connections][0]!;
  }

  describe('a handler that closes its own connection before it returns', () => {
    it('ctx.peer.close(): the caller fails with ConnectionClosedError, the handler signal aborts, nothing stays in flight', async () => {
      const aborted = deferred<boolean>();
      let seenBeforeReturn: boolean | undefined;
      const s = await server({
        methods: {
          bye: (_p: unknown, ctx: Ctx) => {
            void ctx.peer.close(4001, 'handler said bye');
            seenBeforeReturn = ctx.signal.aborted;
            ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.aborted));
            return 'never sent';
          },
        },
      });
      const c = client(s.url);
      const { error } = await settle(c.request('bye'));
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.closeCode).toBe(4001);
      expect(await orHang(aborted.promise, 'the abort of ctx.signal')).toBe(true);
      expect(seenBeforeReturn).toBe(false);
      await allGone(s);
      expect(c.pendingCalls).toBe(0);
      expect(s.errors).toEqual([]);
    });

    it('terminate(): the socket is dropped, the caller fails with ConnectionClosedError', async () => {
      const s = await server({
        methods: {
          drop: (_p: unknown, ctx: Ctx) => {
            void (ctx.peer as unknown as Peer).terminate();
            return 'never sent';
          },
        },
      });
      const c = client(s.url);
      const { error } = await settle(c.request('drop'));
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.closeCode).toBe(1006);
      await allGone(s);
    });

    it('then throws: nothing is answered on the closed connection and nothing is reported as an error', async () => {
      const s = await server({
        methods: {
          bye: (_p: unknown, ctx: Ctx) => {
            void ctx.peer.close();
            throw new Error('after close');
          },
        },
      });
      const raw = await rawClient(s.url);
      const closed = closeCodeOf(raw.socket);
      const frames: unknown[] = [];
      raw.socket.on('message', (data) => frames.push(String(data)));
      raw.send('{"jsonrpc":"2.0","id":1,"method":"bye"}');
      expect(await closed).toBe(1000);
      expect(frames).toEqual([]);
      await allGone(s);
      // The call ended cancelled (the connection went first): its error is nobody's.
      expect(s.errors).toEqual([]);
    });

    it('from middleware, before next(): the call ends with the connection, the handler never runs', async () => {
      let ran = 0;
      const s = await server({
        use: [
          (ctx, next) => {
            if (ctx.method === 'guarded') void ctx.peer.close(4002, 'not you');
            return next();
          },
        ],
        methods: { guarded: () => (ran++, 'ran') },
      });
      const c = client(s.url);
      const { error } = await settle(c.request('guarded'));
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.closeCode).toBe(4002);
      await allGone(s);
      // next() ran the handler (the middleware chose to go on); its result went nowhere.
      expect(ran).toBe(1);
    });
  });

  describe('a handler that closes the server before it returns', () => {
    it('close() without drain: the caller fails with ConnectionClosedError, close() resolves', async () => {
      let closing: Promise<void> | undefined;
      const s = await server({ methods: { shutdown: () => ((closing = s.close()), 'never sent') } });
      const c = client(s.url);
      const { error } = await settle(c.request('shutdown'));
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.closeCode).toBe(1001);
      await orHang(closing!, 'server.close()');
    });

    it('close({ drain }): its own call back to the caller and its answer still go out, and close() resolves (no clock advance)', async () => {
      const clock = new SimulatedClock();
      let closing: Promise<void> | undefined;
      const s = await server({
        clock,
        methods: {
          // Calls the client back while the server already drains: outgoing calls go on, the answer waits for it.
          shutdown: (_p: unknown, ctx: Ctx) => (
            (closing = s.close({ drain: 60_000 })),
            ctx.peer.request('ping').then((pong) => ['bye', pong])
          ),
        },
      });
      const c = client(s.url, { methods: { ping: () => 'pong' } });
      expect(await c.request('shutdown')).toEqual(['bye', 'pong']);
      // Idle: the drain window ends without the clock moving.
      await orHang(closing!, 'server.close({ drain })');
      await orHang(c.closed, 'the client to be closed by the server');
      const late = await settle(c.request('shutdown'));
      expect(late.error).toBeInstanceOf(ConnectionClosedError);
    });

    it('close({ drain }) from the first request of a batch: the rest of the batch is refused -32000, all in one array', async () => {
      const clock = new SimulatedClock();
      let closing: Promise<void> | undefined;
      const s = await server({
        clock,
        methods: { shutdown: () => ((closing = s.close({ drain: 60_000 })), 'bye'), echo: (p: unknown) => p },
      });
      const raw = await rawClient(s.url);
      raw.send(
        JSON.stringify([
          { jsonrpc: '2.0', id: 1, method: 'shutdown' },
          { jsonrpc: '2.0', id: 2, method: 'echo', params: [2] },
        ]),
      );
      const batch = (await orHang(raw.next(), 'the batch answer')) as Array<{ id: number; result?: unknown; error?: { code: number } }>;
      expect(batch.map((r) => [r.id, r.result ?? r.error?.code])).toEqual([
        [2, ErrorCodes.ServerBusy],
        [1, 'bye'],
      ]);
      await orHang(closing!, 'server.close({ drain })');
    });
  });

  describe('a handler that calls its caller back before it returns', () => {
    it('ctx.peer.request() and ctx.peer.notify(): the notification arrives before the answer, which carries the callback result', async () => {
      const s = await server({
        methods: {
          ask: (_p: unknown, ctx: Ctx) => {
            ctx.peer.notify('progress', ['started']);
            return ctx.peer.request('double', [21]);
          },
        },
      });
      const seen: unknown[] = [];
      const c = client(s.url, { methods: { double: ([n]: [number]) => (seen.push('double'), n * 2) } });
      c.on('notification', ({ method, params }) => seen.push([method, params]));
      expect(await c.request('ask')).toBe(42);
      expect(seen).toEqual([['progress', ['started']], 'double']);
      const peer = await onlyPeer(s);
      expect(peer.handlingCalls).toBe(0);
      expect(peer.pendingCalls).toBe(0);
    });

    it('ctx.peer.notify() and request() whose params close the connection while encoded: both fail with ConnectionClosedError', async () => {
      const outcomes: unknown[] = [];
      const s = await server({
        methods: {
          tell: (_p: unknown, ctx: Ctx) => {
            const closing = { toJSON: () => (void ctx.peer.close(4007), 'params') };
            try {
              ctx.peer.notify('note', [closing]);
              outcomes.push('notify returned');
            } catch (error) {
              outcomes.push([(error as Error).name, (error as Error).message]);
            }
            return ctx.peer.request('back', [closing]).catch((error: Error) => (outcomes.push([error.name, error.message]), 'never sent'));
          },
        },
      });
      const heard: string[] = [];
      const c = client(s.url, { methods: { back: () => 'unreached' } });
      c.on('notification', ({ method }) => heard.push(method));
      const { error } = await settle(c.request('tell'));
      expect(error).toBeInstanceOf(ConnectionClosedError);
      // Not sent, and said so, as a call whose params close the connection is: not left in a line nothing will empty.
      expect(outcomes).toEqual([
        ['ConnectionClosedError', expect.stringMatching(/^cannot notify "note": the connection to client .* is closing$/)],
        ['ConnectionClosedError', expect.stringMatching(/^cannot call "back": the connection to client .* is closing$/)],
      ]);
      expect(heard).toEqual([]);
      await allGone(s);
    });

    it('a callback whose own handler closes the connection: both ends fail their calls with ConnectionClosedError', async () => {
      let inner: Promise<{ error?: any }> | undefined;
      const s = await server({
        methods: {
          ask: (_p: unknown, ctx: Ctx) => {
            const call = ctx.peer.request('quit');
            inner = settle(call);
            return call;
          },
        },
      });
      // The client's handler, called back, closes the client's own connection at once.
      const c = client(s.url, { methods: { quit: () => (void c.close(4003, 'quit'), 'never sent') } });
      const { error } = await settle(c.request('ask'));
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect((await inner!).error).toBeInstanceOf(ConnectionClosedError);
      await allGone(s);
    });
  });

  describe('a handler that throws any value at once', () => {
    const hostile = {
      undefined: () => undefined,
      null: () => null,
      'a string': () => 'plain string',
      'an object whose message getter throws': () => ({
        get message(): string {
          throw new Error('getter');
        },
      }),
      'a Proxy every trap of which throws': () => throwingProxy(new Error('trap')),
      'an Error whose message getter throws': () => {
        const error = new Error('original');
        Object.defineProperty(error, 'message', {
          get() {
            throw new Error('getter');
          },
        });
        return error;
      },
    };

    it.each(Object.keys(hostile))('%s: answered -32603, reported to onError once, nothing left in flight', async (name) => {
      const value = hostile[name as keyof typeof hostile]();
      const s = await server({
        methods: {
          boom: () => {
            throw value;
          },
        },
      });
      const c = client(s.url);
      const { error } = await settle(c.request('boom'));
      expect(error.name).toBe('RemoteError');
      expect(error.code).toBe(ErrorCodes.InternalError);
      expect(typeof error.message).toBe('string');
      // By identity: a deep comparison would read the Proxy, whose traps throw.
      expect(s.errors.map(([thrown, info]) => [thrown === value, info.kind, info.method])).toEqual([[true, 'handler', 'boom']]);
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
    });

    it('middleware that throws undefined before next(): answered -32603, the handler never runs', async () => {
      let ran = 0;
      const s = await server({
        use: [
          () => {
            throw undefined;
          },
        ],
        methods: { echo: (p: unknown) => (ran++, p) },
      });
      const c = client(s.url);
      const { error } = await settle(c.request('echo', [1]));
      expect([error.name, error.code, error.message]).toEqual(['RemoteError', ErrorCodes.InternalError, 'undefined']);
      expect(ran).toBe(0);
    });
  });

  describe('a handler that returns a hostile thenable', () => {
    it('whose then getter throws: answered -32603 with that error', async () => {
      const s = await server({
        methods: {
          trap: () => ({
            get then() {
              throw new Error('then getter');
            },
          }),
        },
      });
      const c = client(s.url);
      const { error } = await settle(c.request('trap'));
      expect([error.code, error.message]).toEqual([ErrorCodes.InternalError, 'then getter']);
    });

    it('whose then getter gives a function only when first read: followed, its then read once (as a promise reads it)', async () => {
      let reads = 0;
      const s = await server({
        methods: {
          flip: () =>
            Object.defineProperty({}, 'then', {
              get: () => (++reads === 1 ? (resolve: (v: unknown) => void) => resolve('followed') : undefined),
            }),
        },
      });
      const c = client(s.url);
      expect(await c.request('flip')).toBe('followed');
      expect(reads).toBe(1);
    });

    it('whose then getter closes the connection and gives no function: read once, the caller fails with ConnectionClosedError', async () => {
      let reads = 0;
      const s = await server({
        methods: {
          bye: (_p: unknown, ctx: Ctx) =>
            Object.defineProperty({}, 'then', {
              get: () => {
                reads++;
                void ctx.peer.close();
                return undefined;
              },
            }),
        },
      });
      const c = client(s.url);
      const { error } = await settle(c.request('bye'));
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(reads).toBe(1);
      await allGone(s);
    });

    it('that is a Proxy every trap of which throws (then included): answered -32603, from middleware too', async () => {
      const s = await server({
        use: [(ctx, next) => (ctx.method === 'viaMiddleware' ? (throwingProxy(new Error('middleware trap')) as never) : next())],
        methods: { trap: () => throwingProxy(new Error('handler trap')), viaMiddleware: () => 'unreached' },
      });
      const c = client(s.url);
      const [direct, middleware] = await Promise.all([settle(c.request('trap')), settle(c.request('viaMiddleware'))]);
      expect([direct.error.code, direct.error.message]).toEqual([ErrorCodes.InternalError, 'handler trap']);
      expect([middleware.error.code, middleware.error.message]).toEqual([ErrorCodes.InternalError, 'middleware trap']);
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
    });

    it('whose then calls both callbacks, synchronously: the first wins, answered once', async () => {
      const s = await server({
        methods: {
          both: () => ({
            then(resolve: (v: unknown) => void, reject: (e: unknown) => void) {
              resolve('first');
              reject(new Error('second'));
              resolve('third');
            },
          }),
          rejectFirst: () => ({
            then(resolve: (v: unknown) => void, reject: (e: unknown) => void) {
              reject(new Error('first'));
              resolve('second');
            },
          }),
        },
      });
      const c = client(s.url);
      expect(await c.request('both')).toBe('first');
      const { error } = await settle(c.request('rejectFirst'));
      expect(error.message).toBe('first');
      expect(s.errors.map(([e]) => (e as Error).message)).toEqual(['first']);
    });

    it('whose then throws after resolving: the resolution stands', async () => {
      const s = await server({
        methods: {
          late: () => ({
            then(resolve: (v: unknown) => void) {
              resolve('resolved');
              throw new Error('thrown after');
            },
          }),
        },
      });
      const c = client(s.url);
      expect(await c.request('late')).toBe('resolved');
      expect(s.errors).toEqual([]);
    });

    it('from middleware, resolving next() synchronously inside then: the handler runs once, answered once', async () => {
      let ran = 0;
      const s = await server({
        use: [
          (_ctx, next) =>
            ({ then: (resolve: (v: unknown) => void, reject: (e: unknown) => void) => next().then(resolve, reject) }) as never,
        ],
        methods: { echo: (p: unknown) => (ran++, p) },
      });
      const c = client(s.url);
      expect(await c.request('echo', ['x'])).toEqual(['x']);
      expect(ran).toBe(1);
    });
  });

  describe('in a batch, the first handler acts before the next request is dispatched', () => {
    type Answer = { id: number; result?: unknown; error?: { code: number; message: string } };
    const batchOf = (...calls: Array<[number | undefined, string, unknown?]>) =>
      JSON.stringify(
        calls.map(([id, method, params]) => ({
          jsonrpc: '2.0',
          ...(id === undefined ? {} : { id }),
          method,
          ...(params ? { params } : {}),
        })),
      );
    const byId = (answers: Answer[]) =>
      answers
        .map((a) => [a.id, a.error ? a.error.code : a.result] as const)
        .sort(([a], [b]) => a - b)
        .map(([id, outcome]) => [id, outcome]);

    it('closes the connection: the socket closes, no partial array is sent, the later requests never run', async () => {
      const ran: string[] = [];
      const s = await server({
        methods: {
          bye: (_p: unknown, ctx: Ctx) => (ran.push('bye'), void ctx.peer.close(4004, 'batch bye'), 'never sent'),
          echo: (p: unknown) => (ran.push('echo'), p),
        },
      });
      const raw = await rawClient(s.url);
      const frames: string[] = [];
      raw.socket.on('message', (data) => frames.push(String(data)));
      const closed = closeCodeOf(raw.socket);
      raw.send(batchOf([1, 'bye'], [2, 'echo', [2]], [undefined, 'echo', [3]], [4, 'nope']));
      expect(await orHang(closed, 'the close')).toBe(4004);
      expect(frames).toEqual([]);
      expect(ran).toEqual(['bye']);
      await allGone(s);
    });

    it('throws (undefined, then a string) at once: every request is answered, in one array', async () => {
      const s = await server({
        methods: {
          undef: () => {
            throw undefined;
          },
          str: () => {
            throw 'text';
          },
          echo: (p: unknown) => p,
        },
      });
      const raw = await rawClient(s.url);
      raw.send(batchOf([1, 'undef'], [2, 'str'], [3, 'echo', ['three']], [4, 'nope']));
      const answers = (await orHang(raw.next(), 'the batch answer')) as Answer[];
      expect(byId(answers)).toEqual([
        [1, ErrorCodes.InternalError],
        [2, ErrorCodes.InternalError],
        [3, ['three']],
        [4, ErrorCodes.MethodNotFound],
      ]);
      expect(answers.find((a) => a.id === 2)!.error!.message).toBe('text');
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
    });

    it('returns a value larger than highWaterMark, and one JSON cannot encode: the rest is answered in the same array', async () => {
      const huge = 'x'.repeat(5 * 1024 * 1024);
      const s = await server({ methods: { huge: () => huge, bigint: () => 1n, echo: (p: unknown) => p } });
      const raw = await rawClient(s.url);
      raw.send(batchOf([1, 'huge'], [2, 'bigint'], [3, 'echo', [3]]));
      const answers = (await orHang(raw.next(), 'the batch answer')) as Answer[];
      expect(answers.map((a) => [a.id, a.error ? a.error.code : typeof a.result === 'string' ? a.result.length : a.result])).toEqual([
        [1, huge.length],
        [2, ErrorCodes.InternalError],
        [3, [3]],
      ]);
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
    });

    it('with maxInFlightPerConnection: 1, the rest of the batch is refused -32000 while the first runs; nothing leaks', async () => {
      const clock = new SimulatedClock();
      const release = deferred<string>();
      const s = await server({
        clock,
        maxInFlightPerConnection: 1,
        methods: { slow: () => release.promise, echo: (p: unknown) => p, note: () => 'dropped' },
      });
      const raw = await rawClient(s.url);
      raw.send(batchOf([1, 'slow'], [2, 'echo', [2]], [undefined, 'note']));
      const peer = await onlyPeer(s);
      await until(() => peer.handlingCalls === 1, 'the first call to run');
      release.resolve('done');
      const answers = (await orHang(raw.next(), 'the batch answer')) as Answer[];
      expect(byId(answers)).toEqual([
        [1, 'done'],
        [2, ErrorCodes.ServerBusy],
      ]);
      // The notification was not run either (busy, reported).
      expect(s.errors.map(([, info]) => [info.kind, info.method])).toEqual([
        ['protocol', 'echo'],
        ['notification', 'note'],
      ]);
      expect(peer.handlingCalls).toBe(0);
      await orHang(s.close({ drain: 60_000 }), 'a draining close (idle)');
    });

    it('a notification running a method that closes the connection, before a request: the request never runs', async () => {
      const ran: string[] = [];
      const s = await server({
        methods: {
          bye: (_p: unknown, ctx: Ctx) => (ran.push('bye'), void ctx.peer.close(4005), undefined),
          echo: (p: unknown) => (ran.push('echo'), p),
        },
      });
      const raw = await rawClient(s.url);
      const closed = closeCodeOf(raw.socket);
      const frames: string[] = [];
      raw.socket.on('message', (data) => frames.push(String(data)));
      raw.send(batchOf([undefined, 'bye'], [1, 'echo', [1]]));
      expect(await orHang(closed, 'the close')).toBe(4005);
      expect(frames).toEqual([]);
      expect(ran).toEqual(['bye']);
      expect(s.errors).toEqual([]);
    });
  });

  describe('in-flight limits of 1 and a handler that calls back at once', () => {
    /**
     * A server with `limit` whose `outer` calls the client's `relay`, which calls the server's `inner` back on the
     * same connection while `outer` still runs; and that client.
     */
    const relay = async (limit: Pick<ServeOptions, 'maxInFlightPerConnection' | 'maxInFlightBytesPerConnection'>) => {
      const s = await server({
        clock: new SimulatedClock(),
        ...limit,
        methods: { outer: (_p: unknown, ctx: Ctx) => ctx.peer.request('relay'), inner: () => 'inner ran' },
      });
      const c = client(s.url, { methods: { relay: () => c.request('inner') } });
      return { s, c };
    };

    it('maxInFlightPerConnection: 1: the call the callback makes back on the same connection is refused -32000; nothing leaks', async () => {
      const { s, c } = await relay({ maxInFlightPerConnection: 1 });
      const { error } = await settle(c.request('outer'));
      // The client's relay was refused busy; the server's outer handler rethrew that RemoteError as its own failure.
      expect(error.name).toBe('RemoteError');
      expect(error.message).toMatch(/server busy: 1 call already in flight/);
      const peer = await onlyPeer(s);
      expect(peer.handlingCalls).toBe(0);
      // The limit frees again: the next call runs.
      expect(await c.request('inner')).toBe('inner ran');
      await orHang(s.close({ drain: 60_000 }), 'a draining close (idle)');
    });

    it('maxInFlightPerConnection: 1 and five single requests in one TCP write: light answers each (ended before the next is read)', async () => {
      const s = await server({ maxInFlightPerConnection: 1, methods: { echo: ([n]: [number]) => n } });
      const socket = await rawUpgrade(s.url);
      const texts = serverTexts(socket);
      socket.write(
        Buffer.concat([1, 2, 3, 4, 5].map((id) => textFrame(`{"jsonrpc":"2.0","id":${id},"method":"echo","params":[${id}]}`, true))),
      );
      await until(() => texts.length === 5, 'five answers');
      const answers = texts.map((text) => JSON.parse(text) as { id: number; result?: number; error?: { code: number } });
      expect(answers.map((answer) => answer.id).sort()).toEqual([1, 2, 3, 4, 5]);
      if (engine === 'light') expect(answers).toEqual([1, 2, 3, 4, 5].map((id) => ({ jsonrpc: '2.0', id, result: id })));
      // Through XState, each handler's value is taken a microtask later: the four read meanwhile are refused busy.
      else expect(answers.every((answer) => answer.result === answer.id || answer.error?.code === ErrorCodes.ServerBusy)).toBe(true);
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
      socket.destroy();
      await allGone(s);
    });

    it('maxInFlightBytesPerConnection: 1: one call runs alone, the callback-made call is refused; the byte count returns to 0', async () => {
      const { s, c } = await relay({ maxInFlightBytesPerConnection: 1 });
      const { error } = await settle(c.request('outer'));
      expect(error.message).toMatch(/maxInFlightBytesPerConnection/);
      expect(await c.request('inner')).toBe('inner ran');
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
      await orHang(s.close({ drain: 60_000 }), 'a draining close (idle)');
    });
  });

  describe('with handlerTimeout', () => {
    it('a handler that closes its connection at once: its deadline is gone, the clock passing it later reports nothing', async () => {
      const clock = new SimulatedClock();
      const s = await server({
        clock,
        handlerTimeout: 1_000,
        methods: { bye: (_p: unknown, ctx: Ctx) => (void ctx.peer.close(), ctx.signal.aborted ? 'aborted' : 'not yet') },
      });
      const c = client(s.url);
      expect((await settle(c.request('bye'))).error).toBeInstanceOf(ConnectionClosedError);
      await allGone(s);
      clock.increment(5_000);
      expect(s.errors).toEqual([]);
    });

    it('a handler that throws at once, then one that reads its signal at once and hangs: -32603, then -32001 and an aborted signal', async () => {
      const clock = new SimulatedClock();
      const reason = deferred<unknown>();
      const s = await server({
        clock,
        handlerTimeout: 1_000,
        methods: {
          boom: () => {
            throw null;
          },
          hang: (_p: unknown, ctx: Ctx) => {
            expect(ctx.signal.aborted).toBe(false);
            ctx.signal.addEventListener('abort', () => reason.resolve(ctx.signal.reason));
            return new Promise(() => {});
          },
        },
      });
      const c = client(s.url, { timeout: 60_000 });
      expect((await settle(c.request('boom'))).error.code).toBe(ErrorCodes.InternalError);
      const hanging = settle(c.request('hang'));
      const peer = await onlyPeer(s);
      await until(() => peer.handlingCalls === 1, 'the hanging call to run');
      clock.increment(1_000);
      expect((await hanging).error.code).toBe(ErrorCodes.HandlerTimeout);
      expect(((await reason.promise) as Error).name).toBe('TimeoutError');
      expect(peer.handlingCalls).toBe(0);
      // The first call's deadline went with it: one -32001 only, after both.
      clock.increment(5_000);
      expect(s.errors.map(([, info]) => info.response?.code)).toEqual([ErrorCodes.InternalError, ErrorCodes.HandlerTimeout]);
    });
    it('a handler that moves the clock past its own deadline before it returns, then hangs: -32001 all the same', async () => {
      // A SimulatedClock fires what is due inside increment(): the deadline passes while the handler still runs.
      const clock = new SimulatedClock();
      const aborted = deferred<boolean>();
      const s = await server({
        clock,
        handlerTimeout: 1_000,
        methods: {
          stall: (_p: unknown, ctx: Ctx) => {
            ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.aborted));
            clock.increment(1_000);
            return new Promise(() => {});
          },
        },
      });
      const c = client(s.url, { timeout: 60_000 });
      const { error } = await orHang(settle(c.request('stall')), 'the call whose deadline passed inside its handler');
      expect([error.name, error.code]).toEqual(['RemoteError', ErrorCodes.HandlerTimeout]);
      expect(await aborted.promise).toBe(true);
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
    });

    it('the same in a notification: reported as timed out, and no longer counted', async () => {
      const clock = new SimulatedClock();
      const s = await server({
        clock,
        handlerTimeout: 1_000,
        methods: { stall: () => (clock.increment(1_000), new Promise(() => {})) },
      });
      const c = client(s.url);
      c.notify('stall');
      await until(() => s.errors.length === 1, 'the timeout to be reported');
      expect(s.errors.map(([e, info]) => [(e as { code?: number }).code, info.kind, info.method])).toEqual([
        [ErrorCodes.HandlerTimeout, 'notification', 'stall'],
      ]);
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
    });
  });

  describe('a notification whose method acts at once', () => {
    it('throws undefined: reported to onError as a notification, nothing counted after', async () => {
      const s = await server({
        methods: {
          note: () => {
            throw undefined;
          },
        },
      });
      const c = client(s.url);
      c.notify('note');
      await until(() => s.errors.length === 1, 'the report');
      expect(s.errors.map(([e, info]) => [e, info.kind, info.method])).toEqual([[undefined, 'notification', 'note']]);
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
    });

    it('closes the server with drain: close() resolves, as nothing runs once the method returned', async () => {
      const clock = new SimulatedClock();
      let closing: Promise<void> | undefined;
      const s = await server({ clock, methods: { stop: () => void (closing = s.close({ drain: 60_000 })) } });
      const c = client(s.url);
      c.notify('stop');
      await until(() => closing !== undefined, 'the notification to run');
      await orHang(closing!, 'a draining close (idle)');
      await orHang(c.closed, 'the client to be closed');
    });
  });

  describe('over HTTP POST, where the caller cannot be called back', () => {
    async function post(url: string, body: unknown): Promise<{ status: number; body: any; connection: string | null }> {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : JSON.parse(text), connection: response.headers.get('connection') };
    }
    const call = (id: number, method: string) => ({ jsonrpc: '2.0', id, method });

    it('ctx.peer.request() rejects and ctx.peer.notify() throws NotSupportedError: answered -32603 saying so; close() is a no-op', async () => {
      const s = await server({
        methods: callingBack,
      });
      const answers = await post(s.httpUrl, [call(1, 'ask'), call(2, 'tell'), call(3, 'close')]);
      expect(answers.status).toBe(200);
      expect(answers.body.sort((a: { id: number }, b: { id: number }) => a.id - b.id)).toEqual([
        {
          jsonrpc: '2.0',
          id: 1,
          error: {
            code: ErrorCodes.InternalError,
            message: 'cannot call "back" on the caller: responders cannot call back over HTTP',
            data: { name: 'NotSupportedError' },
          },
        },
        {
          jsonrpc: '2.0',
          id: 2,
          error: {
            code: ErrorCodes.InternalError,
            message: 'cannot notify "back" to the caller: responders cannot notify callers over HTTP',
            data: { name: 'NotSupportedError' },
          },
        },
        { jsonrpc: '2.0', id: 3, result: 'still answered' },
      ]);
    });

    it('a handler that closes the server without drain: its POST is still answered (Connection: close), close() resolves', async () => {
      let closing: Promise<void> | undefined;
      const s = await server({ methods: { shutdown: () => ((closing = s.close()), 'bye') } });
      const answer = await post(s.httpUrl, call(1, 'shutdown'));
      expect([answer.status, answer.body, answer.connection]).toEqual([200, { jsonrpc: '2.0', id: 1, result: 'bye' }, 'close']);
      await orHang(closing!, 'server.close()');
    });

    it('close({ drain }) from the first request of a batch: the rest is refused -32000 in the same array; close() resolves idle', async () => {
      const clock = new SimulatedClock();
      let closing: Promise<void> | undefined;
      const s = await server({
        clock,
        methods: { shutdown: () => ((closing = s.close({ drain: 60_000 })), 'bye'), echo: (p: unknown) => p },
      });
      const answer = await post(s.httpUrl, [call(1, 'shutdown'), call(2, 'echo')]);
      expect(answer.body.map((a: any) => [a.id, a.result ?? a.error.code])).toEqual([
        [2, ErrorCodes.ServerBusy],
        [1, 'bye'],
      ]);
      await orHang(closing!, 'server.close({ drain })');
    });

    it('a handler that moves the clock past its own deadline, then hangs: the POST is answered -32001, nothing left to drain', async () => {
      const clock = new SimulatedClock();
      const s = await server({ clock, handlerTimeout: 1_000, methods: { stall: () => (clock.increment(1_000), new Promise(() => {})) } });
      const answer = await orHang(post(s.httpUrl, call(1, 'stall')), 'the POST');
      expect([answer.status, answer.body.error.code]).toEqual([200, ErrorCodes.HandlerTimeout]);
      await orHang(s.close({ drain: 60_000 }), 'a draining close (idle)');
    });

    it('a batch whose first handler throws null and whose second hangs past handlerTimeout: all answered, nothing left to drain', async () => {
      const clock = new SimulatedClock();
      const s = await server({
        clock,
        handlerTimeout: 1_000,
        maxInFlightPerConnection: 2,
        methods: {
          boom: () => {
            throw null;
          },
          hang: () => new Promise(() => {}),
          echo: (p: unknown) => p,
        },
      });
      const pending = post(s.httpUrl, [call(1, 'boom'), call(2, 'hang'), call(3, 'echo'), call(4, 'echo')]);
      await until(() => s.errors.length === 3, 'boom and the two busy refusals to be reported');
      clock.increment(1_000);
      const answer = await orHang(pending, 'the POST');
      // boom threw at once, but its call ends a microtask later: it still counts while the batch goes on, so 3 and 4 are refused.
      expect(answer.body.map((a: any) => [a.id, a.result ?? a.error.code]).sort(([a]: number[], [b]: number[]) => a! - b!)).toEqual([
        [1, ErrorCodes.InternalError],
        [2, ErrorCodes.HandlerTimeout],
        [3, ErrorCodes.ServerBusy],
        [4, ErrorCodes.ServerBusy],
      ]);
      await orHang(s.close({ drain: 60_000 }), 'a draining close (idle)');
    });
  });

  describe('over NATS, where the caller cannot be called back', () => {
    /** A responder on a fresh subject, its onError reports collected; tracked, closed after the test. */
    async function responder(options: Omit<NatsServeOptions, 'nats' | 'subject' | 'engine'>) {
      const errors: Array<[unknown, ErrorInfo]> = [];
      const subject = `sync.svc${++subjects}`;
      const made = track(
        await serve({ nats: nats.url, subject, engine, onError: (error, info) => errors.push([error, info]), ...options }),
      );
      return Object.assign(made, { errors });
    }
    /** A batch sent as one NATS request (nats.js), and its answer. */
    async function batch(
      subject: string,
      calls: unknown[],
    ): Promise<Array<{ id: number; result?: unknown; error?: { code: number; message: string } }>> {
      const message = await nats.raw.request(subject, JSON.stringify(calls), { timeout: 5_000 });
      return (JSON.parse(message.string()) as Array<{ id: number }>).sort((a, b) => a.id - b.id) as never;
    }
    const call = (id: number, method: string) => ({ jsonrpc: '2.0', id, method });

    it('ctx.peer.request() rejects and ctx.peer.notify() throws NotSupportedError: answered -32603 saying so; close() is a no-op', async () => {
      const r = await responder({
        methods: callingBack,
      });
      const answers = await batch(r.subject, [call(1, 'ask'), call(2, 'tell'), call(3, 'close')]);
      expect(answers.map((a) => [a.id, a.result ?? a.error!.message])).toEqual([
        [1, 'cannot call "back" on the caller: responders cannot call back over NATS'],
        [2, 'cannot notify "back" to the caller: responders cannot notify callers over NATS'],
        [3, 'still answered'],
      ]);
      expect(r.handlingCalls).toBe(0);
    });

    it('a handler that closes the responder at once: its caller is still answered, close() resolves', async () => {
      let closing: Promise<void> | undefined;
      const r = await responder({ methods: { shutdown: () => ((closing = r.close()), 'bye') } });
      const c = track(connect(nats.url, { subject: r.subject, engine, timeout: 5_000 }));
      expect(await c.request('shutdown')).toBe('bye');
      await orHang(closing!, 'the responder close()');
      expect(r.handlingCalls).toBe(0);
    });

    it('a handler that moves the clock past its own deadline, then hangs: answered -32001, nothing left running', async () => {
      const clock = new SimulatedClock();
      const r = await responder({
        clock,
        handlerTimeout: 1_000,
        methods: { stall: () => (clock.increment(1_000), new Promise(() => {})) },
      });
      const answers = await batch(r.subject, [call(1, 'stall')]);
      expect(answers.map((a) => [a.id, a.error?.code])).toEqual([[1, ErrorCodes.HandlerTimeout]]);
      expect(r.handlingCalls).toBe(0);
    });

    it('a batch whose first handler throws undefined: every request answered in one array', async () => {
      const r = await responder({
        methods: {
          boom: () => {
            throw undefined;
          },
          echo: () => 'echoed',
        },
      });
      const answers = await batch(r.subject, [call(1, 'boom'), call(2, 'echo'), call(3, 'nope')]);
      expect(answers.map((a) => [a.id, a.result ?? a.error!.code])).toEqual([
        [1, ErrorCodes.InternalError],
        [2, 'echoed'],
        [3, ErrorCodes.MethodNotFound],
      ]);
      // The unknown method is reported while the batch is dispatched; boom's failure once its call ends, a microtask later.
      expect(r.errors.map(([e, info]) => [e instanceof Error ? 'an error' : e, info.kind, info.method])).toEqual([
        ['an error', 'protocol', 'nope'],
        [undefined, 'handler', 'boom'],
      ]);
    });

    it('maxInFlightPerConnection: 1 and a notification that throws at once ahead of a batch: the requests are refused, nothing leaks', async () => {
      const clock = new SimulatedClock();
      const r = await responder({
        clock,
        maxInFlightPerConnection: 1,
        methods: {
          note: () => {
            throw 'note failed';
          },
          echo: () => 'echoed',
        },
      });
      const answers = await batch(r.subject, [{ jsonrpc: '2.0', method: 'note' }, call(1, 'echo'), call(2, 'echo')]);
      expect(answers.map((a) => [a.id, a.result ?? a.error!.code])).toEqual([
        [1, ErrorCodes.ServerBusy],
        [2, ErrorCodes.ServerBusy],
      ]);
      await until(() => r.errors.some(([, info]) => info.kind === 'notification'), 'the notification failure');
      expect(r.handlingCalls).toBe(0);
      expect((await batch(r.subject, [call(3, 'echo')])).map((a) => a.result)).toEqual(['echoed']);
      await orHang(r.close({ drain: 60_000 }), 'a draining close (idle)');
    });
  });

  describe('with an inspector (each frame then goes through a step of the connection actor)', () => {
    it('a batch whose first handler closes the connection and whose second is cancelled: closed, nothing answered or left', async () => {
      const events: string[] = [];
      const ran: string[] = [];
      const s = await server({
        inspect: (event) => events.push(event.type),
        methods: {
          bye: (_p: unknown, ctx: Ctx) => (ran.push('bye'), void ctx.peer.close(4006), 'never sent'),
          echo: (p: unknown) => (ran.push('echo'), p),
        },
      });
      const raw = await rawClient(s.url);
      const closed = closeCodeOf(raw.socket);
      const frames: string[] = [];
      raw.socket.on('message', (data) => frames.push(String(data)));
      raw.send(
        JSON.stringify([
          { jsonrpc: '2.0', id: 1, method: 'bye' },
          { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 1 } },
          { jsonrpc: '2.0', id: 2, method: 'echo' },
        ]),
      );
      expect(await orHang(closed, 'the close')).toBe(4006);
      expect(frames).toEqual([]);
      expect(ran).toEqual(['bye']);
      await allGone(s);
      expect(events).toContain('@xstate.snapshot');
    });

    it('a request cancelled in the same batch while its handler (started at once) waits: answered -32800, its signal aborted', async () => {
      const aborted = deferred<boolean>();
      const s = await server({
        inspect: () => {},
        methods: {
          wait: (_p: unknown, ctx: Ctx) =>
            new Promise((_, reject) => ctx.signal.addEventListener('abort', () => (aborted.resolve(true), reject(new Error('aborted'))))),
        },
      });
      const raw = await rawClient(s.url);
      raw.send(
        JSON.stringify([
          { jsonrpc: '2.0', id: 1, method: 'wait' },
          { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 1 } },
        ]),
      );
      const answers = (await orHang(raw.next(), 'the batch answer')) as Array<{ id: number; error: { code: number } }>;
      expect(answers.map((a) => [a.id, a.error.code])).toEqual([[1, ErrorCodes.RequestCancelled]]);
      expect(await aborted.promise).toBe(true);
      expect(inFlight(await onlyPeer(s))).toEqual([0, 0]);
    });
  });

  describe('a handler that waits for the draining close it started (a deadlock of its own)', () => {
    it('ends when the drain window passes: its caller fails with ConnectionClosedError, close() resolves', async () => {
      const clock = new SimulatedClock();
      let closing: Promise<void> | undefined;
      const s = await server({
        clock,
        methods: {
          shutdown: async () => {
            closing = s.close({ drain: 1_000 });
            await closing;
            return 'never sent';
          },
        },
      });
      const c = client(s.url);
      const pending = settle(c.request('shutdown'));
      await until(() => closing !== undefined, 'the handler to start the close');
      clock.increment(1_000);
      expect((await pending).error).toBeInstanceOf(ConnectionClosedError);
      await orHang(closing!, 'server.close({ drain })');
      await allGone(s);
    });
  });
});
