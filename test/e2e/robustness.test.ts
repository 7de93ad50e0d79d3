import { WebSocketServer } from 'ws';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  connect,
  serve,
  ConnectionClosedError,
  RemoteError,
  RpcError,
  type Client,
  type Server,
  type UnmatchedEvent,
} from '../../src/index.js';
import { abortWatcher, closeAfterEach, deferred, rawClient, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
closeAfterEach(() => [client, server]);

describe('handler errors that cannot travel as JSON', () => {
  it.each([
    [
      'a BigInt in data',
      () => {
        throw new RpcError(-32000, 'bad', { n: 10n });
      },
      -32000,
      'bad',
    ],
    [
      'a cycle in data',
      () => {
        const d: Record<string, unknown> = {};
        d.self = d;
        throw new RpcError(-32001, 'cyclic', d);
      },
      -32001,
      'cyclic',
    ],
    ['an object without a prototype', () => Promise.reject(Object.create(null)), -32603, '[object Object]', { name: 'object' }],
  ])(
    'answers an error the peer can read when the handler throws %s, and the server keeps serving',
    async (_name, fail, code, message, data?: unknown) => {
      server = await serve({ methods: { fail, echo: (p: unknown) => p } });
      client = connect(server.url);
      const { error } = await settle(client.request('fail'));
      expect(error).toBeInstanceOf(RemoteError);
      expect([error.code, error.message, error.data]).toEqual([code, message, data]);
      expect(await client.request('echo', ['still up'])).toEqual(['still up']);
    },
  );
});

describe('deadlines reach the other side', () => {
  it("sends $/cancelRequest when a written call times out, aborting the handler's signal", async () => {
    const clock = new SimulatedClock();
    const { handler, entered, aborted } = abortWatcher();
    server = await serve({ methods: { work: handler } });
    client = connect(server.url, { clock });
    const call = settle(client.request('work', {}, { timeout: 100 }));
    await entered;
    clock.increment(100);
    expect((await call).error.name).toBe('TimeoutError');
    expect(await aborted).toBe(true);
    await until(() => [...server!.connections][0]!.handlingCalls === 0, 'the server to drop the call');
  });

  it('sends the cancel notices of calls timing out together, a frame each, and every handler is aborted', async () => {
    const clock = new SimulatedClock();
    const frames: unknown[] = [];
    const aborted: string[] = [];
    server = await serve({
      methods: {
        work: ({ n }: { n: string }, ctx) =>
          new Promise((_, reject) => ctx.signal.addEventListener('abort', () => (aborted.push(n), reject(ctx.signal.reason)))),
      },
    });
    server.on('connection', (peer) => peer.on('unmatched', (e) => frames.push(e)));
    client = connect(server.url, { clock });
    const calls = ['a', 'b', 'c'].map((n) => settle(client!.request('work', { n }, { timeout: 100 })));
    await until(() => [...server!.connections][0]?.handlingCalls === 3, 'the server to handle all three');
    const sent: string[] = [];
    const transport = (client as unknown as { transport: { send(text: string): void } }).transport;
    const send = transport.send.bind(transport);
    transport.send = (text: string, ...rest: unknown[]) => (sent.push(text), (send as (...a: unknown[]) => void)(text, ...rest));

    clock.increment(100);
    expect((await Promise.all(calls)).map((c) => c.error.name)).toEqual(['TimeoutError', 'TimeoutError', 'TimeoutError']);
    await until(() => aborted.length === 3, 'every handler to be aborted');
    expect(aborted.sort()).toEqual(['a', 'b', 'c']);
    expect(sent).toHaveLength(3);
    expect(sent.map((text) => JSON.parse(text).method)).toEqual(['$/cancelRequest', '$/cancelRequest', '$/cancelRequest']);
    // Notifications get no reply and nothing is reported as unmatched.
    expect(frames).toEqual([]);
  });
});

describe('cancellation and a server with a small maxBatch', () => {
  it("aborts every handler when more calls time out together than the server's maxBatch", async () => {
    const clock = new SimulatedClock();
    const aborted: string[] = [];
    server = await serve({
      maxBatch: 2,
      methods: {
        work: ({ n }: { n: string }, ctx) =>
          new Promise((_, reject) => ctx.signal.addEventListener('abort', () => (aborted.push(n), reject(ctx.signal.reason)))),
      },
    });
    client = connect(server.url, { clock });
    const calls = ['a', 'b', 'c', 'd', 'e'].map((n) => settle(client!.request('work', { n }, { timeout: 100 })));
    await until(() => [...server!.connections][0]?.handlingCalls === 5, 'the server to handle all five');
    clock.increment(100);
    for (const { error } of await Promise.all(calls)) expect(error.name).toBe('TimeoutError');
    await until(() => aborted.length === 5, 'every handler to be aborted');
    expect(aborted.sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect([...server.connections][0]!.handlingCalls).toBe(0);
  });
});

describe('closing', () => {
  it('throws for close codes and reasons a close frame cannot carry, and stays usable', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    client = connect(server.url);
    await client.ready;
    expect(() => client!.close(1005)).toThrow(
      new RangeError('close code must be from 1000 to 1014 (not 1004-1006) or from 3000 to 4999, got 1005'),
    );
    expect(() => client!.close(999)).toThrow(RangeError);
    expect(() => client!.close(1000, 'x'.repeat(124))).toThrow(new RangeError('close reason must be at most 123 bytes of UTF-8, got 124'));
    expect(client.state).toBe('open');
    expect(await client.request('echo', [1])).toEqual([1]);
  });

  it('client.close() drops a server that never answers the close frame, after closeTimeout', async () => {
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => silent.once('listening', resolve));
    // Stop reading from each accepted socket: the close frame is never seen, never answered.
    silent.on('connection', (socket) => (socket as unknown as { _socket: { pause(): void } })._socket.pause());
    try {
      client = connect(`ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, { closeTimeout: 50 });
      await client.ready;
      await client.close();
      expect(client.state).toBe('closed');
    } finally {
      for (const socket of silent.clients) socket.terminate();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("reports a response to a call failed by the client's own close as late, not duplicate", async () => {
    const answer = deferred<string>();
    const entered = deferred();
    server = await serve({ methods: { hold: () => (entered.resolve(), answer.promise) } });
    client = connect(server.url);
    const unmatched: UnmatchedEvent[] = [];
    client.on('unmatched', (u) => unmatched.push(u));
    const call = settle(client.request('hold'));
    await entered.promise;
    // Answer in the same turn as the close: the response crosses the close frame.
    answer.resolve('crossing');
    const closed = client.close();
    expect((await call).error).toBeInstanceOf(ConnectionClosedError);
    await closed;
    expect(unmatched.map((u) => [u.reason, u.message])).toEqual([['late', expect.objectContaining({ result: 'crossing' })]]);
  });
});

describe('opening', () => {
  it('fails ready and queued calls when the server accepts the socket but never answers the upgrade', async () => {
    const sockets: Socket[] = [];
    const mute = createServer((socket) => sockets.push(socket)); // accepts TCP, never speaks HTTP
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    try {
      client = connect(`ws://127.0.0.1:${(mute.address() as AddressInfo).port}`, { handshakeTimeout: 50 });
      const call = settle(client.request('echo', {}));
      const { error } = await settle(client.ready);
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.message).toMatch(/^could not connect to ws:\/\/127\.0\.0\.1:\d+ \(code 1006\): Opening handshake has timed out$/);
      expect((await call).error).toBe(error);
      expect(client.state).toBe('closed');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => mute.close(resolve));
    }
  });
});

describe('a closing connection', () => {
  it('starts no handler for a request that arrives after close() began', async () => {
    let calls = 0;
    server = await serve({ methods: { count: () => ++calls } });
    const raw = await rawClient(server.url);
    await until(() => server!.connections.size === 1, 'the server to see the client');
    const serverSide = [...server.connections][0]!;
    raw.send('{"jsonrpc":"2.0","id":1,"method":"count"}');
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 1, result: 1 });
    const closed = serverSide.close(4000, 'bye');
    // Written before this client has read the close frame: it reaches a closing server.
    raw.send('{"jsonrpc":"2.0","id":2,"method":"count"}');
    await closed;
    expect(calls).toBe(1);
    expect(serverSide.handlingCalls).toBe(0);
  });
});

describe('ordering before open', () => {
  it('writes queued calls and notifications in the order they were made', async () => {
    // A plain ws server records the frames in the order they arrive on the wire.
    const wire = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wire.once('listening', resolve));
    const seen: string[] = [];
    wire.on('connection', (socket) =>
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { id?: string; params: { tag: string } };
        seen.push(frame.params.tag);
        if (frame.id) socket.send(JSON.stringify({ jsonrpc: '2.0', id: frame.id, result: frame.params.tag }));
      }),
    );
    try {
      client = connect(`ws://127.0.0.1:${(wire.address() as AddressInfo).port}`);
      const first = client.request('record', { tag: 'request 1' });
      client.notify('note', { tag: 'notify 2' });
      const third = client.request('record', { tag: 'request 3' });
      expect(await Promise.all([first, third])).toEqual(['request 1', 'request 3']);
      expect(seen).toEqual(['request 1', 'notify 2', 'request 3']);
      await client.close();
    } finally {
      await new Promise((resolve) => wire.close(resolve));
    }
  });
});

describe('urls', () => {
  it.each(['ws://', 'ws://exa mple.com', 'ftp://127.0.0.1:1', 'not a url'])('throws TypeError for %j', (url) => {
    expect(() => connect(url)).toThrow(
      new TypeError(`url must be a ws://, wss://, http://, https:// or nats:// URL, got ${JSON.stringify(url)}`),
    );
  });

  it('throws TypeError for a url with a fragment', () => {
    expect(() => connect('ws://127.0.0.1:1/#frag')).toThrow(new TypeError('url must not have a fragment, got "ws://127.0.0.1:1/#frag"'));
  });
});
