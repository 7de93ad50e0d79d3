/**
 * Whatever a handler returns or throws, its caller gets exactly one answer it
 * can match, and the responder keeps serving: over WebSocket on both engines,
 * from the client's own methods (server → client calls), and on a NATS responder.
 * Also: request ids a responder cannot tell apart are refused, not run.
 */
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import type { AddressInfo } from 'node:net';
import {
  connect,
  serve,
  RemoteError,
  RpcError,
  type Client,
  type ErrorInfo,
  type NatsServer,
  type Server,
  type UnmatchedEvent,
} from '../../src/index.js';
import { closeAfterEach, collectUncaught, deferred, errorWithThrowingGetter, rawClient, settle, throwingProxy, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

let server: Server | undefined;
let client: Client | undefined;
let responder: NatsServer | undefined;
closeAfterEach(() => [client, server, responder]);

/** Everything thrown or rejected without a handler while a test runs: on the old code, a reply that threw ended up here. */
const uncaught = collectUncaught();

type Case = [behaviour: string, handler: () => unknown, code: number, message: string, data?: unknown];

const E = (method: string) => `the result of "${method}" cannot be encoded as JSON`;

/** Handlers on method "m", and what the caller must get. */
const hostileCases: Case[] = [
  [
    'returns a value whose toJSON throws undefined',
    () => ({
      toJSON: () => {
        throw undefined;
      },
    }),
    -32603,
    `${E('m')}: undefined`,
  ],
  [
    'returns a value with a getter that throws null',
    () => ({
      get x() {
        throw null;
      },
    }),
    -32603,
    `${E('m')}: null`,
  ],
  [
    'returns a value whose toJSON throws a symbol',
    () => ({
      toJSON: () => {
        throw Symbol('no');
      },
    }),
    -32603,
    `${E('m')}: Symbol(no)`,
  ],
  [
    'returns a value whose toJSON throws a Proxy',
    () => ({
      toJSON: () => {
        throw throwingProxy();
      },
    }),
    -32603,
    `${E('m')}: [unreadable object]`,
  ],
  ['returns a BigInt', () => 10n, -32603, `${E('m')}: Do not know how to serialize a BigInt`],
  [
    'throws undefined',
    () => {
      throw undefined;
    },
    -32603,
    'undefined',
    { name: 'undefined' },
  ],
  [
    'throws an Error whose message getter throws',
    () => {
      throw errorWithThrowingGetter('message', undefined);
    },
    -32603,
    'an error whose message cannot be read',
    { name: 'Error' },
  ],
  [
    'throws an Error whose name getter throws',
    () => {
      throw errorWithThrowingGetter('name', null);
    },
    -32603,
    'original',
    { name: 'Error' },
  ],
  [
    'throws a Proxy whose traps throw',
    () => {
      throw throwingProxy(new Error('trap'));
    },
    -32603,
    '[unreadable object]',
    { name: 'object' },
  ],
  [
    'rejects with a Proxy whose traps throw undefined',
    () => Promise.reject(throwingProxy()),
    -32603,
    '[unreadable object]',
    { name: 'object' },
  ],
  [
    'throws an RpcError whose data toJSON throws undefined',
    () => {
      throw new RpcError(-32050, 'kept', {
        toJSON: () => {
          throw undefined;
        },
      });
    },
    -32050,
    'kept',
  ],
  [
    'throws an RpcError whose code is not an integer',
    () => {
      throw new RpcError('E_BAD' as unknown as number, 'kept', { n: 1 });
    },
    -32603,
    'kept',
    { n: 1 },
  ],
];

/** Handlers whose result JSON would drop: the caller gets `null`, never a frame without `result`. */
const nothingCases: Array<[behaviour: string, handler: () => unknown]> = [
  ['a function', () => () => 1],
  ['a symbol', () => Symbol('s')],
  ['a value whose toJSON returns undefined', () => ({ toJSON: () => undefined })],
  ['a promise of a function', () => Promise.resolve(() => 1)],
];

describe.each(['light', 'xstate'] as const)('a WebSocket server (engine %s) whose handler', (engine) => {
  it.each(hostileCases)(
    '%s: answers RemoteError with the code and message, and keeps serving',
    async (_name, m, code, message, data?: unknown) => {
      server = await serve({ port: 0, host: '127.0.0.1', engine, methods: { m, echo: (p: unknown) => p } });
      client = connect(server.url, { timeout: 2_000 });
      const { error } = await settle(client.request('m'));
      expect(error).toBeInstanceOf(RemoteError);
      expect([error.code, error.message, error.data]).toEqual([code, message, data]);
      expect(await client.request('echo', ['still up'])).toEqual(['still up']);
      await until(() => [...server!.connections][0]!.handlingCalls === 0, 'the server to release the call');
      expect(uncaught).toEqual([]);
    },
  );

  it.each(nothingCases)('returns %s: answers null', async (_name, m) => {
    server = await serve({ port: 0, host: '127.0.0.1', engine, methods: { m } });
    client = connect(server.url, { timeout: 2_000 });
    expect(await client.request('m')).toBeNull();
  });
});

describe('a client whose own method (called by the server)', () => {
  it.each(hostileCases)(
    '%s: answers the server with the code and message, and keeps serving',
    async (_name, m, code, message, data?: unknown) => {
      const called = deferred<{ error?: any }>();
      server = await serve({ port: 0, host: '127.0.0.1', methods: {} });
      server.on('connection', (peer) => void settle(peer.request('m')).then(called.resolve));
      client = connect(server.url, { methods: { m } });
      const { error } = await called.promise;
      expect(error).toBeInstanceOf(RemoteError);
      expect([error.code, error.message, error.data]).toEqual([code, message, data]);
      expect(client.handlingCalls).toBe(0);
      expect(uncaught).toEqual([]);
    },
  );
});

describe('a batch whose handler returns a function', () => {
  it('answers its member with result null', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { fn: () => () => 1, one: () => 1 } });
    const raw = await rawClient(server.url);
    raw.send('[{"jsonrpc":"2.0","id":"a","method":"fn"},{"jsonrpc":"2.0","id":"b","method":"one"}]');
    expect(await raw.next()).toEqual([
      { jsonrpc: '2.0', id: 'a', result: null },
      { jsonrpc: '2.0', id: 'b', result: 1 },
    ]);
    await raw.close();
  });
});

describe('a batch whose answers together are longer than a string can be', () => {
  it('answers the longest -32603 each, to its own id, the rest as they are, and releases every call (the join threw from the last answer)', async () => {
    // 200 million characters each: three of them pass V8's longest string (2^29 - 24). One string, shared.
    const long = 'x'.repeat(200_000_000);
    const reported: Array<[unknown, string, ErrorInfo['kind'], number | undefined]> = [];
    const onError = (error: unknown, info: ErrorInfo) =>
      void reported.push([info.id, (error as Error).message, info.kind, info.response?.code]);
    server = await serve({ port: 0, host: '127.0.0.1', methods: { long: () => long, one: () => 1 }, onError });
    const raw = await rawClient(server.url);
    raw.send(
      JSON.stringify([
        { jsonrpc: '2.0', id: 1, method: 'long' },
        { jsonrpc: '2.0', id: 2, method: 'one' },
        { jsonrpc: '2.0', id: 3, method: 'long' },
        { jsonrpc: '2.0', id: 4, method: 'long' },
      ]),
    );
    const message = `internal error: the answer to this call (${long.length + 36} characters) and the others of its batch are too long together for one reply; make the call outside a batch`;
    expect(await raw.next()).toEqual([
      { jsonrpc: '2.0', id: 1, error: { code: -32603, message } },
      { jsonrpc: '2.0', id: 2, result: 1 },
      { jsonrpc: '2.0', id: 3, error: { code: -32603, message } },
      { jsonrpc: '2.0', id: 4, error: { code: -32603, message } },
    ]);
    // Each answer replaced is the responder's own error answered: onError hears of it (it heard nothing).
    expect(reported.sort()).toEqual([1, 3, 4].map((id) => [id, message, 'protocol', -32603]));
    expect([...server.connections][0]!.handlingCalls).toBe(0);
    expect(uncaught).toEqual([]);
    await raw.close();
  });
});

describe('request ids a WebSocket server cannot tell apart', () => {
  it('answers a second request reusing an id still in flight with -32600, reports it as duplicate, and still answers the first', async () => {
    const release = deferred<string>();
    const unmatched: UnmatchedEvent[] = [];
    server = await serve({ port: 0, host: '127.0.0.1', methods: { wait: () => release.promise } });
    server.on('connection', (peer) => peer.on('unmatched', (event) => unmatched.push(event)));
    const raw = await rawClient(server.url);
    raw.send('{"jsonrpc":"2.0","id":"same","method":"wait"}');
    raw.send('{"jsonrpc":"2.0","id":"same","method":"wait"}');
    expect(await raw.next()).toEqual({
      jsonrpc: '2.0',
      id: 'same',
      error: { code: -32600, message: 'a request with id "same" is already being handled' },
    });
    expect(unmatched).toEqual([
      expect.objectContaining({ reason: 'duplicate', id: 'same', detail: 'a request with this id is already being handled' }),
    ]);
    release.resolve('first');
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 'same', result: 'first' });
    await raw.close();
  });

  it('answers a duplicate id inside a batch with -32600 in the batch reply', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { one: () => 1 } });
    const raw = await rawClient(server.url);
    raw.send('[{"jsonrpc":"2.0","id":7,"method":"one"},{"jsonrpc":"2.0","id":7,"method":"one"}]');
    expect(await raw.next()).toEqual([
      { jsonrpc: '2.0', id: 7, error: { code: -32600, message: 'a request with id 7 is already being handled' } },
      { jsonrpc: '2.0', id: 7, result: 1 },
    ]);
    await raw.close();
  });

  it('refuses two ids beyond 2^53 that JSON.parse would round to one, with -32600 and id null, running neither', async () => {
    let runs = 0;
    server = await serve({ port: 0, host: '127.0.0.1', methods: { echo: () => ++runs } });
    const raw = await rawClient(server.url);
    raw.send('{"jsonrpc":"2.0","id":9007199254740993,"method":"echo"}');
    raw.send('{"jsonrpc":"2.0","id":9007199254740992,"method":"echo"}');
    const refusal = {
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32600,
        message:
          '"id" must be a string or an integer from -(2^53 - 1) to 2^53 - 1: a number id beyond that or with a fraction cannot be read exactly',
      },
    };
    expect([await raw.next(), await raw.next()]).toEqual([refusal, refusal]);
    expect(runs).toBe(0);
    await raw.close();
  });
});

describe('a client sent a response whose id is beyond 2^53', () => {
  it('reports it as malformed and matches it to no call', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket) => socket.send('{"jsonrpc":"2.0","id":9007199254740993,"result":1}'));
    try {
      client = connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
      const unmatched: UnmatchedEvent[] = [];
      client.on('unmatched', (event) => unmatched.push(event));
      await until(() => unmatched.length === 1, 'the report');
      expect(unmatched[0]).toMatchObject({ reason: 'malformed', id: null });
      expect(unmatched[0]!.detail).toMatch(/^"id" must be a string or an integer/);
    } finally {
      await client?.close();
      client = undefined;
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});

describe('a NATS responder', () => {
  const nats = useNatsServer();
  let subjects = 0;

  describe.each(['light', 'xstate'] as const)('(engine %s) whose handler', (engine) => {
    it.each(hostileCases)(
      '%s: answers RemoteError with the code and message, and keeps serving',
      async (_name, m, code, message, data?: unknown) => {
        const subject = `hostile.e2e${++subjects}`;
        responder = await serve({ nats: nats.url, subject, engine, methods: { m, echo: (p: unknown) => p } });
        client = connect(nats.url, { subject, timeout: 2_000 });
        const { error } = await settle(client.request('m'));
        expect(error).toBeInstanceOf(RemoteError);
        expect([error.code, error.message, error.data]).toEqual([code, message, data]);
        expect(await client.request('echo', ['still up'])).toEqual(['still up']);
        expect(responder.handlingCalls).toBe(0);
        expect(uncaught).toEqual([]);
      },
    );
  });

  it('answers a second request reusing an id still in flight with -32600, in the same words as over WebSocket', async () => {
    const subject = `hostile.e2e${++subjects}`;
    const release = deferred<string>();
    responder = await serve({ nats: nats.url, subject, methods: { wait: () => release.promise } });
    const request = (text: string) =>
      nats.raw.request(subject, new TextEncoder().encode(text), { timeout: 2_000 }).then((msg) => JSON.parse(msg.string()));
    const first = request('{"jsonrpc":"2.0","id":"same","method":"wait"}');
    await until(() => responder!.handlingCalls === 1, 'the first call to run');
    expect(await request('{"jsonrpc":"2.0","id":"same","method":"wait"}')).toEqual({
      jsonrpc: '2.0',
      id: 'same',
      error: { code: -32600, message: 'a request with id "same" is already being handled' },
    });
    release.resolve('first');
    expect(await first).toEqual({ jsonrpc: '2.0', id: 'same', result: 'first' });
  });

  it('refuses a request id beyond 2^53 with -32600 and id null', async () => {
    const subject = `hostile.e2e${++subjects}`;
    responder = await serve({ nats: nats.url, subject, methods: { echo: () => 'ran' } });
    const msg = await nats.raw.request(subject, new TextEncoder().encode('{"jsonrpc":"2.0","id":9007199254740993,"method":"echo"}'), {
      timeout: 2_000,
    });
    expect(JSON.parse(msg.string())).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
  });
});
