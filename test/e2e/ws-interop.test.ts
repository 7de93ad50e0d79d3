/**
 * WebSocket interop with third-party JSON-RPC 2.0 implementations (rpc-websockets' Client and Server, json-rpc-2.0's
 * JSONRPCServer / JSONRPCClient / JSONRPCServerAndClient wired to `ws`), and the lenient dialects a callstate client
 * meets from real servers (JSON-RPC 1.0 style answers, a BOM, a newline after the JSON, a batch of one), sent by
 * hand from a raw `WebSocketServer`.
 *
 * Calls that should settle are awaited through `orHang` with a long timeout: one left to its deadline fails as a hang.
 */
import type { AddressInfo } from 'node:net';
import {
  JSONRPCClient,
  JSONRPCErrorException,
  JSONRPCServer,
  JSONRPCServerAndClient,
  type JSONRPCRequest,
  type JSONRPCResponse,
} from 'json-rpc-2.0';
import { Client as RpcWsClient, Server as RpcWsServer } from 'rpc-websockets';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import {
  connect,
  serve,
  ConnectionClosedError,
  ProtocolError,
  RemoteError,
  RpcError,
  TimeoutError,
  type HandlerContext,
  type Server,
  type UnmatchedEvent,
} from '../../src/index.js';
import { closeTrackedAfterEach, deferred, orHang, settle, until } from '../helpers.js';

const LONG = 60_000;
const track = closeTrackedAfterEach();

/** A callstate client of `url`, tracked, with the reports of what matched nothing. */
async function callstateClient(url: string, options: Parameters<typeof connect>[1] = {}) {
  const client = track(connect(url, { timeout: LONG, ...options }));
  const unmatched: UnmatchedEvent[] = [];
  client.on('unmatched', (event) => unmatched.push(event));
  await client.ready;
  return { client, unmatched };
}

/** A `ws` server on a free port, closed after the test (its sockets terminated). */
async function wsServer(): Promise<{ wss: WebSocketServer; url: string }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  track({
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of wss.clients) socket.terminate();
        wss.close(() => resolve());
      }),
  });
  return { wss, url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}` };
}

/** An rpc-websockets Server on a free port, closed after the test. */
async function rpcWsServer(): Promise<{ rpc: RpcWsServer; url: string }> {
  const rpc = new RpcWsServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => rpc.once('listening', resolve));
  let closed = false;
  track({ close: async () => void (closed || (await rpc.close())) });
  const close = rpc.close.bind(rpc);
  rpc.close = () => ((closed = true), close());
  return { rpc, url: `ws://127.0.0.1:${(rpc.wss.address() as AddressInfo).port}` };
}

/** An rpc-websockets Client of `url`, open, closed after the test. */
async function rpcWsClient(url: string, options: { reconnect?: boolean; reconnect_interval?: number } = {}): Promise<RpcWsClient> {
  const client = new RpcWsClient(url, { reconnect: false, ...options });
  await new Promise((resolve) => client.once('open', resolve));
  track({
    close: async () => {
      client.setAutoReconnect(false);
      client.close();
    },
  });
  return client;
}

/** A `ws` client of `url`, open, terminated after the test. */
async function wsClient(url: string): Promise<WebSocket> {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject)));
  track({ close: async () => socket.terminate() });
  return socket;
}

/** json-rpc-2.0 logs every error a method throws, JSONRPCErrorException too: the tests throw them on purpose. */
const quiet = () => {};

/** Serves `rpc` (json-rpc-2.0) on every connection of `wss`: each frame in, its answer (if any) out. */
function serveJsonRpc2(wss: WebSocketServer, rpc: JSONRPCServer): void {
  wss.on('connection', (socket) =>
    socket.on('message', (data) => {
      void rpc.receiveJSON(data.toString()).then((answer) => {
        if (answer !== null) socket.send(JSON.stringify(answer));
      });
    }),
  );
}

/** A json-rpc-2.0 JSONRPCClient over `socket`. */
function jsonRpc2Client(socket: WebSocket): JSONRPCClient {
  const rpc: JSONRPCClient = new JSONRPCClient((request) => socket.send(JSON.stringify(request)));
  socket.on('message', (data) => rpc.receive(JSON.parse(data.toString()) as JSONRPCResponse));
  socket.on('close', () => rpc.rejectAllPendingRequests('connection closed'));
  return rpc;
}

/** rpc-websockets types its params as an object: [a, b] as a + b. */
const sum = (params: unknown) => (params as number[]).reduce((a, b) => a + b);

/** Methods answered in the order the test releases them: `started` holds the calls in, `release(n)` answers one. */
function heldAnswers() {
  const held = new Map<number, (value: unknown) => void>();
  return {
    held,
    wait: (n: number) => new Promise((resolve) => held.set(n, resolve)),
    release: (n: number, value: unknown) => held.get(n)!(value),
  };
}

describe('a callstate client calls an rpc-websockets Server', () => {
  it('results (params by position and by name), errors with data, method not found, a thrown Error', async () => {
    const { rpc, url } = await rpcWsServer();
    rpc.register('add', (params) => sum(params));
    rpc.register('greet', (params) => `hello ${(params as { name: string }).name}`);
    rpc.register('refuse', () => {
      throw { code: -32050, message: 'over the limit', data: { limit: 100 } };
    });
    rpc.register('crash', () => {
      throw new TypeError('bad thing');
    });
    const { client, unmatched } = await callstateClient(url);
    expect(await orHang(client.request('add', [2, 3]), 'add')).toBe(5);
    expect(await orHang(client.request('greet', { name: 'rpc-websockets' }), 'greet')).toBe('hello rpc-websockets');
    const refused = await orHang(settle(client.request('refuse')), 'refuse');
    expect(refused.error).toBeInstanceOf(RemoteError);
    expect(refused.error).toMatchObject({ code: -32050, message: 'over the limit', data: { limit: 100 } });
    expect((await orHang(settle(client.request('missing')), 'missing')).error).toMatchObject({ name: 'RemoteError', code: -32601 });
    // rpc-websockets answers a thrown Error -32000 with its name as the message and its message as data.
    expect((await orHang(settle(client.request('crash')), 'crash')).error).toMatchObject({
      code: -32000,
      message: 'TypeError',
      data: 'bad thing',
    });
    expect(unmatched).toEqual([]);
  });

  it('notifications run its method; answers out of order are matched by id; a silent method times out', async () => {
    const { rpc, url } = await rpcWsServer();
    const notes: unknown[] = [];
    rpc.register('note', (params: unknown) => void notes.push(params));
    const answers = heldAnswers();
    rpc.register('held', (params) => answers.wait((params as unknown as number[])[0]!));
    rpc.register('silent', () => new Promise(() => {}));
    const { client, unmatched } = await callstateClient(url);
    client.notify('note', { line: 'x' });
    const calls = [1, 2, 3].map((n) => client.request('held', [n]));
    await until(() => answers.held.size === 3, 'the three calls to arrive');
    answers.release(3, 'three');
    answers.release(1, 'one');
    answers.release(2, 'two');
    expect(await orHang(Promise.all(calls), 'the held calls')).toEqual(['one', 'two', 'three']);
    expect(notes).toEqual([{ line: 'x' }]);
    expect(unmatched).toEqual([]);
    const silent = await settle(client.request('silent', [], { timeout: 20 }));
    expect(silent.error).toBeInstanceOf(TimeoutError);
    // rpc-websockets answers the $/cancelRequest notice that follows (a notification) with -32601 and id null,
    // which JSON-RPC forbids: reported, saying what it is, and nothing else happens.
    await until(() => unmatched.length === 1, 'the answer to the cancel notice');
    expect(unmatched).toEqual([
      {
        reason: 'unknown',
        id: null,
        message: { jsonrpc: '2.0', id: null, error: { code: -32601, message: 'Method not found' } },
        detail: 'error response with id null (the peer could not tell what it answers): it matches no call',
      },
    ]);
    expect(client.state).toBe('open');
  });

  it('its event subscription (rpc.on / rpc.off) is a plain call; its events ({ notification }) are reported malformed, and the connection stays', async () => {
    const { rpc, url } = await rpcWsServer();
    rpc.event('tick');
    const { client, unmatched } = await callstateClient(url);
    expect(await orHang(client.request('rpc.on', ['tick', 'nope']), 'rpc.on')).toEqual({ tick: 'ok', nope: 'provided event invalid' });
    rpc.emit('tick', 7);
    await until(() => unmatched.length > 0, 'the event');
    // Not JSON-RPC: rpc-websockets' own event frame, which carries no "jsonrpc" and no "method".
    expect(unmatched[0]).toEqual({
      reason: 'malformed',
      id: null,
      message: { notification: 'tick', params: [7] },
      detail: '"jsonrpc" must be exactly "2.0"',
    });
    expect(await orHang(client.request('rpc.off', ['tick']), 'rpc.off')).toEqual({ tick: 'ok' });
    expect(client.state).toBe('open');
  });

  it('the server closing its connections fails the pending call at once with ConnectionClosedError', async () => {
    const { rpc, url } = await rpcWsServer();
    const entered = deferred();
    rpc.register('hang', () => (entered.resolve(), new Promise(() => {})));
    const { client } = await callstateClient(url);
    const call = settle(client.request('hang'));
    await entered.promise;
    // Its close() only stops listening (ws 8 leaves open sockets be): each socket is closed (a close frame, 1000).
    for (const socket of rpc.wss.clients) socket.close();
    expect((await orHang(call, 'the call')).error).toBeInstanceOf(ConnectionClosedError);
  });
});

describe('a callstate client calls a json-rpc-2.0 JSONRPCServer over ws', () => {
  it('results by position and by name, errors with data, notifications, answers out of order, a timeout', async () => {
    const { wss, url } = await wsServer();
    const rpc = new JSONRPCServer({ errorListener: quiet });
    const notes: unknown[] = [];
    const answers = heldAnswers();
    rpc.addMethod('add', ([a, b]: number[]) => a! + b!);
    rpc.addMethod('greet', ({ name }: { name: string }) => `hello ${name}`);
    rpc.addMethod('refuse', () => {
      throw new JSONRPCErrorException('over the limit', -32050, { limit: 100 });
    });
    rpc.addMethod('note', (params: unknown) => void notes.push(params));
    rpc.addMethod('held', ([n]: number[]) => answers.wait(n!));
    rpc.addMethod('silent', () => new Promise(() => {}));
    serveJsonRpc2(wss, rpc);
    const { client, unmatched } = await callstateClient(url);
    expect(await orHang(client.request('add', [2, 3]), 'add')).toBe(5);
    expect(await orHang(client.request('greet', { name: 'json-rpc-2.0' }), 'greet')).toBe('hello json-rpc-2.0');
    const refused = await orHang(settle(client.request('refuse')), 'refuse');
    expect(refused.error).toBeInstanceOf(RemoteError);
    expect(refused.error).toMatchObject({ code: -32050, message: 'over the limit', data: { limit: 100 } });
    expect((await orHang(settle(client.request('missing')), 'missing')).error).toMatchObject({ code: -32601 });
    client.notify('note', { line: 'x' });
    const calls = [1, 2, 3].map((n) => client.request('held', [n]));
    await until(() => answers.held.size === 3, 'the three calls to arrive');
    answers.release(2, 'two');
    answers.release(3, 'three');
    answers.release(1, 'one');
    expect(await orHang(Promise.all(calls), 'the held calls')).toEqual(['one', 'two', 'three']);
    expect(notes).toEqual([{ line: 'x' }]);
    expect((await settle(client.request('silent', [], { timeout: 20 }))).error).toBeInstanceOf(TimeoutError);
    // json-rpc-2.0 leaves the $/cancelRequest notice that follows unanswered, as JSON-RPC says: a call made after it
    // comes back, and nothing was reported.
    expect(await orHang(client.request('add', [1, 1]), 'a call after the timeout')).toBe(2);
    expect(unmatched).toEqual([]);
  });

  it('the server dropping the connection fails the pending call at once with ConnectionClosedError', async () => {
    const { wss, url } = await wsServer();
    const rpc = new JSONRPCServer({ errorListener: quiet });
    const entered = deferred();
    rpc.addMethod('hang', () => (entered.resolve(), new Promise(() => {})));
    serveJsonRpc2(wss, rpc);
    const { client } = await callstateClient(url);
    const call = settle(client.request('hang'));
    await entered.promise;
    for (const socket of wss.clients) socket.terminate();
    expect((await orHang(call, 'the call')).error).toBeInstanceOf(ConnectionClosedError);
  });
});

/** A callstate server whose methods cover what the third-party clients below call. */
async function callstateServer(extra: Parameters<typeof serve>[0]['methods'] = {}): Promise<Server> {
  return track(
    await serve({
      port: 0,
      host: '127.0.0.1',
      methods: {
        add: ([a, b]: [number, number]) => a + b,
        greet: ({ name }: { name: string }) => `hello ${name}`,
        refuse: () => {
          throw new RpcError(-32050, 'over the limit', { limit: 100 });
        },
        ...extra,
      },
    }),
  );
}

describe('an rpc-websockets Client calls a callstate server', () => {
  it('results by position and by name, errors with data, notifications, answers out of order', async () => {
    const notes: unknown[] = [];
    const answers = heldAnswers();
    const server = await callstateServer({
      note: (params: unknown) => void notes.push(params),
      held: ([n]: [number]) => answers.wait(n),
    });
    const rpc = await rpcWsClient(server.url);
    expect(await orHang(rpc.call('add', [2, 3]), 'add')).toBe(5);
    expect(await orHang(rpc.call('greet', { name: 'rpc-websockets' }), 'greet')).toBe('hello rpc-websockets');
    // rpc-websockets rejects with the error object as it came.
    expect((await orHang(settle(rpc.call('refuse')), 'refuse')).error).toEqual({
      code: -32050,
      message: 'over the limit',
      data: { limit: 100 },
    });
    expect((await orHang(settle(rpc.call('missing')), 'missing')).error).toMatchObject({ code: -32601 });
    await rpc.notify('note', { line: 'x' });
    const calls = [1, 2, 3].map((n) => rpc.call('held', [n]));
    await until(() => answers.held.size === 3, 'the three calls to arrive');
    answers.release(3, 'three');
    answers.release(2, 'two');
    answers.release(1, 'one');
    expect(await orHang(Promise.all(calls), 'the held calls')).toEqual(['one', 'two', 'three']);
    expect(notes).toEqual([{ line: 'x' }]);
  });

  it('its rpc.on / rpc.off / rpc.login are plain methods: -32601 unless the server defines them; notifications reach its listeners', async () => {
    const bare = await callstateServer();
    const plain = await rpcWsClient(bare.url);
    expect((await orHang(settle(plain.subscribe('tick')), 'subscribe')).error).toMatchObject({
      code: -32601,
      message: 'method not found: rpc.on',
    });
    expect((await orHang(settle(plain.login({ user: 'u' })), 'login')).error).toMatchObject({
      code: -32601,
      message: 'method not found: rpc.login',
    });

    // A callstate server that speaks rpc-websockets' dialect: its own methods of those names, its events as notifications.
    const subscribed = new Set<string>();
    const server = await callstateServer({
      'rpc.login': ({ user }: { user: string }) => user === 'u',
      'rpc.on': (events: string[]) => Object.fromEntries(events.map((e) => (subscribed.add(e), [e, 'ok']))),
      'rpc.off': (events: string[]) => Object.fromEntries(events.map((e) => (subscribed.delete(e), [e, 'ok']))),
    });
    const rpc = await rpcWsClient(server.url);
    expect(await orHang(rpc.login({ user: 'u' }), 'login')).toBe(true);
    expect(await orHang(rpc.subscribe('tick'), 'subscribe')).toEqual({ tick: 'ok' });
    const ticks: unknown[] = [];
    rpc.on('tick', (params: unknown) => ticks.push(params));
    const [peer] = server.connections;
    peer!.notify('tick', { n: 1 });
    await until(() => ticks.length === 1, 'the notification');
    expect(ticks).toEqual([{ n: 1 }]);
    expect(await orHang(rpc.unsubscribe('tick'), 'unsubscribe')).toEqual({ tick: 'ok' });
    expect(subscribed.size).toBe(0);
  });

  it('many clients at once, each numbering its ids from 1: each answer goes to its own caller', async () => {
    const server = await callstateServer({ echo: (params: unknown) => params });
    const clients = await Promise.all(Array.from({ length: 8 }, () => rpcWsClient(server.url)));
    const answers = await orHang(
      Promise.all(clients.map((rpc, c) => Promise.all(Array.from({ length: 20 }, (_, i) => rpc.call('echo', { c, i }))))),
      'every call',
    );
    expect(answers).toEqual(clients.map((_, c) => Array.from({ length: 20 }, (_, i) => ({ c, i }))));
  });

  it('reconnects after the server closes its connection, and calls again', async () => {
    const server = await callstateServer();
    const rpc = await rpcWsClient(server.url, { reconnect: true, reconnect_interval: 1 });
    expect(await orHang(rpc.call('add', [1, 1]), 'the first call')).toBe(2);
    const closed = new Promise((resolve) => rpc.once('close', (code: number) => resolve(code)));
    const reopened = new Promise((resolve) => rpc.once('open', resolve));
    await [...server.connections][0]!.close(4000, 'go away');
    expect(await closed).toBe(4000);
    await orHang(reopened, 'the reconnection');
    expect(await orHang(rpc.call('add', [2, 2]), 'the call after reconnecting')).toBe(4);
    expect(server.connections.size).toBe(1);
  });

  it('the callstate server closing closes its connection with 1001', async () => {
    const server = await callstateServer();
    const rpc = await rpcWsClient(server.url);
    const closed = new Promise((resolve) => rpc.once('close', (code: number) => resolve(code)));
    await server.close();
    expect(await orHang(closed, 'the close')).toBe(1001);
  });
});

describe('a json-rpc-2.0 JSONRPCClient calls a callstate server over ws', () => {
  it('results by position and by name, errors with data, notifications, a batch, answers out of order', async () => {
    const notes: unknown[] = [];
    const answers = heldAnswers();
    const server = await callstateServer({
      note: (params: unknown) => void notes.push(params),
      held: ([n]: [number]) => answers.wait(n),
    });
    const rpc = jsonRpc2Client(await wsClient(server.url));
    expect(await orHang(Promise.resolve(rpc.request('add', [2, 3])), 'add')).toBe(5);
    expect(await orHang(Promise.resolve(rpc.request('greet', { name: 'json-rpc-2.0' })), 'greet')).toBe('hello json-rpc-2.0');
    const refused = await orHang(settle(rpc.request('refuse', []) as Promise<unknown>), 'refuse');
    expect(refused.error).toBeInstanceOf(JSONRPCErrorException);
    expect(refused.error).toMatchObject({ code: -32050, message: 'over the limit', data: { limit: 100 } });
    rpc.notify('note', { line: 'x' });
    const batch: JSONRPCRequest[] = [
      { jsonrpc: '2.0', id: 101, method: 'add', params: [1, 1] },
      { jsonrpc: '2.0', id: 102, method: 'missing' },
    ];
    const answered = await orHang(rpc.requestAdvanced(batch) as Promise<JSONRPCResponse[]>, 'the batch');
    expect([...answered].sort((a, b) => Number(a.id) - Number(b.id))).toEqual([
      { jsonrpc: '2.0', id: 101, result: 2 },
      { jsonrpc: '2.0', id: 102, error: { code: -32601, message: 'method not found: missing' } },
    ]);
    const calls = [1, 2, 3].map((n) => rpc.request('held', [n]));
    await until(() => answers.held.size === 3, 'the three calls to arrive');
    answers.release(2, 'two');
    answers.release(1, 'one');
    answers.release(3, 'three');
    expect(await orHang(Promise.all(calls), 'the held calls')).toEqual(['one', 'two', 'three']);
    expect(notes).toEqual([{ line: 'x' }]);
  });

  it('numeric ids are echoed as numbers and string ids as strings, "5" and 5 being two calls', async () => {
    const answers = heldAnswers();
    const server = await callstateServer({ held: ([n]: [number]) => answers.wait(n) });
    const socket = await wsClient(server.url);
    const received: unknown[] = [];
    socket.on('message', (data) => received.push(JSON.parse(data.toString())));
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'held', params: [1] }));
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: '5', method: 'held', params: [2] }));
    await until(() => answers.held.size === 2, 'both calls to run');
    answers.release(2, 'string');
    answers.release(1, 'number');
    await until(() => received.length === 2, 'both answers');
    expect(received).toEqual([
      { jsonrpc: '2.0', id: '5', result: 'string' },
      { jsonrpc: '2.0', id: 5, result: 'number' },
    ]);
  });
});

describe('what a callstate server answers to frames its own client never sends', () => {
  it('a request with a byte order mark before its JSON is answered', async () => {
    const server = await callstateServer();
    const socket = await wsClient(server.url);
    const answer = new Promise((resolve) => socket.once('message', (data) => resolve(JSON.parse(data.toString()))));
    socket.send(`\uFEFF${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'add', params: [2, 3] })}`);
    expect(await orHang(answer, 'the answer')).toEqual({ jsonrpc: '2.0', id: 1, result: 5 });
  });
});

describe('bidirectional: a json-rpc-2.0 JSONRPCServerAndClient on a raw ws', () => {
  it('calls a callstate server, which calls it back through ctx.peer and server.connections', async () => {
    const server = await callstateServer({
      hello: async ({ name }: { name: string }, ctx: HandlerContext) => {
        const who = (await ctx.peer.request('whoami', { asked: name })) as string;
        return `hello ${name}, you are ${who}`;
      },
    });
    const socket = await wsClient(server.url);
    const both: JSONRPCServerAndClient = new JSONRPCServerAndClient(
      new JSONRPCServer({ errorListener: quiet }),
      new JSONRPCClient((request) => socket.send(JSON.stringify(request))),
    );
    socket.on('message', (data) => void both.receiveAndSend(JSON.parse(data.toString()), undefined, undefined));
    both.addMethod('whoami', ({ asked }: { asked: string }) => `the peer asked about ${asked}`);
    both.addMethod('refuse', () => {
      throw new JSONRPCErrorException('no', -32051, { why: 'because' });
    });
    expect(await orHang(Promise.resolve(both.request('hello', { name: 'x' }, undefined)), 'hello')).toBe(
      'hello x, you are the peer asked about x',
    );
    const [peer] = server.connections;
    expect(await orHang(peer!.request('whoami', { asked: 'y' }), 'whoami')).toBe('the peer asked about y');
    const refused = await orHang(settle(peer!.request('refuse')), 'refuse');
    expect(refused.error).toBeInstanceOf(RemoteError);
    expect(refused.error).toMatchObject({ code: -32051, message: 'no', data: { why: 'because' } });
    expect((await orHang(settle(peer!.request('missing')), 'missing')).error).toMatchObject({ code: -32601 });
  });
});

describe('bidirectional: a json-rpc-2.0 JSONRPCServerAndClient server calls a callstate client back', () => {
  it("runs the client's methods: results, errors with data, method not found", async () => {
    const { wss, url } = await wsServer();
    const callbacks: Array<Promise<unknown>> = [];
    wss.on('connection', (socket) => {
      const both: JSONRPCServerAndClient = new JSONRPCServerAndClient(
        new JSONRPCServer({ errorListener: quiet }),
        new JSONRPCClient((request) => socket.send(JSON.stringify(request))),
      );
      socket.on('message', (data) => void both.receiveAndSend(JSON.parse(data.toString()), undefined, undefined));
      both.addMethod(
        'hello',
        async ({ name }: { name: string }) => `hello ${name}, you are ${await both.request('whoami', [], undefined)}`,
      );
      both.addMethod('probe', () => {
        const asked = [both.request('refuse', [], undefined), both.request('missing', [], undefined)].map((p) =>
          Promise.resolve(p).catch((error: unknown) => error),
        );
        callbacks.push(...asked);
        return 'probing';
      });
    });
    const { client, unmatched } = await callstateClient(url, {
      methods: {
        whoami: () => 'callstate',
        refuse: () => {
          throw new RpcError(-32052, 'not you', { who: 'them' });
        },
      },
    });
    expect(await orHang(client.request('hello', { name: 'x' }), 'hello')).toBe('hello x, you are callstate');
    expect(await orHang(client.request('probe'), 'probe')).toBe('probing');
    const [refused, missing] = await orHang(Promise.all(callbacks), 'the calls back');
    expect(refused).toBeInstanceOf(JSONRPCErrorException);
    expect(refused).toMatchObject({ code: -32052, message: 'not you', data: { who: 'them' } });
    expect(missing).toMatchObject({ code: -32601, message: 'method not found: missing' });
    expect(unmatched).toEqual([]);
  });
});

/**
 * A raw server whose every request is answered with the text `answer(id, frame)` returns (as sent, byte for byte):
 * the dialects real servers speak.
 */
async function answering(answer: (id: string, request: { method: string }) => string) {
  const { wss, url } = await wsServer();
  wss.on('connection', (socket) =>
    socket.on('message', (data) => {
      const request = JSON.parse(data.toString()) as { id?: string; method: string };
      if (request.id !== undefined) socket.send(answer(request.id, request));
    }),
  );
  return callstateClient(url);
}

describe('the lenient dialects a callstate client meets from real servers', () => {
  it('JSON-RPC 1.0 style (Bitcoin Core, Go net/rpc/jsonrpc): "error": null beside the result, "result": null beside the error, no "jsonrpc"', async () => {
    const { client, unmatched } = await answering((id, { method }) => {
      const json = JSON.stringify(id);
      if (method === 'ok') return `{"jsonrpc":"2.0","id":${json},"result":5,"error":null}`;
      if (method === 'nullResult') return `{"jsonrpc":"2.0","id":${json},"result":null,"error":null}`;
      if (method === 'fails') return `{"jsonrpc":"2.0","id":${json},"result":null,"error":{"code":-32601,"message":"Method not found"}}`;
      if (method === 'legacy') return `{"result":"v1","error":null,"id":${json}}`;
      return `{"result":null,"error":{"code":-8,"message":"Block height out of range","data":[1]},"id":${json}}`;
    });
    expect(await orHang(client.request('ok'), 'ok')).toBe(5);
    expect(await orHang(client.request('nullResult'), 'nullResult')).toBeNull();
    const fails = await orHang(settle(client.request('fails')), 'fails');
    expect(fails.error).toBeInstanceOf(RemoteError);
    expect(fails.error).toMatchObject({ code: -32601, message: 'Method not found' });
    expect(await orHang(client.request('legacy'), 'legacy')).toBe('v1');
    expect((await orHang(settle(client.request('legacyError')), 'legacyError')).error).toMatchObject({
      name: 'RemoteError',
      code: -8,
      message: 'Block height out of range',
      data: [1],
    });
    expect(unmatched).toEqual([]);
  });

  it('both a result and an error (neither null), or another "jsonrpc", stay malformed: the call fails at once', async () => {
    const { client, unmatched } = await answering((id, { method }) =>
      method === 'both'
        ? JSON.stringify({ jsonrpc: '2.0', id, result: 1, error: { code: 1, message: 'no' } })
        : JSON.stringify({ jsonrpc: '1.0', id, result: 1 }),
    );
    const both = await orHang(settle(client.request('both')), 'both');
    expect(both.error).toBeInstanceOf(ProtocolError);
    expect(both.error.message).toContain('a response must have exactly one of "result" and "error"');
    const version = await orHang(settle(client.request('version')), 'version');
    expect(version.error).toBeInstanceOf(ProtocolError);
    expect(version.error.message).toContain('"jsonrpc" must be exactly "2.0"');
    expect(unmatched.map((u) => u.reason)).toEqual(['malformed', 'malformed']);
  });

  it('an error that is a string (Go net/rpc/jsonrpc) rejects with RemoteError -32603; one whose code is no integer fails the call at once, saying why', async () => {
    const { client, unmatched } = await answering((id, { method }) =>
      method === 'go'
        ? // What Go's jsonrpc.ServeConn writes over x/net/websocket: json.Encoder's newline included.
          `{"id":${JSON.stringify(id)},"result":null,"error":"rpc: can't find method Arith.Nope"}\n`
        : JSON.stringify({ jsonrpc: '2.0', id, error: { code: '-32000', message: 'busy' } }),
    );
    const go = await orHang(settle(client.request('go')), 'go');
    expect(go.error).toBeInstanceOf(RemoteError);
    expect(go.error).toMatchObject({
      code: -32603,
      message: "rpc: can't find method Arith.Nope",
      data: "rpc: can't find method Arith.Nope",
    });
    const code = await orHang(settle(client.request('code')), 'code');
    expect(code.error).toBeInstanceOf(ProtocolError);
    expect(code.error.message).toContain('("error.code" must be an integer)');
    expect(unmatched.map((u) => u.reason)).toEqual(['malformed']);
  });

  it('whitespace around the JSON, a byte order mark before it, and an answer in a batch of one settle the call', async () => {
    const { client, unmatched } = await answering((id, { method }) => {
      const frame = JSON.stringify({ jsonrpc: '2.0', id, result: method });
      if (method === 'spaces') return `\r\n ${frame} \r\n\t`;
      if (method === 'bom') return `\uFEFF${frame}`;
      return `[${frame}]`;
    });
    expect(await orHang(client.request('spaces'), 'spaces')).toBe('spaces');
    expect(await orHang(client.request('bom'), 'bom')).toBe('bom');
    expect(await orHang(client.request('batch'), 'batch')).toBe('batch');
    expect(unmatched).toEqual([]);
  });

  it('an id echoed with another type (a number for our string id) or an error with "id": null matches no call: reported, the call waits', async () => {
    const { client, unmatched } = await answering((_id, { method }) =>
      method === 'number'
        ? JSON.stringify({ jsonrpc: '2.0', id: 5, result: 'five' })
        : JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } }),
    );
    const number = settle(client.request('number', [], { timeout: 20 }));
    const parse = settle(client.request('parse', [], { timeout: 20 }));
    await until(() => unmatched.length === 2, 'both answers');
    expect(unmatched).toEqual([
      {
        reason: 'unknown',
        id: 5,
        message: { jsonrpc: '2.0', id: 5, result: 'five' },
        detail: 'response whose id matches no call made on this connection',
      },
      {
        reason: 'unknown',
        id: null,
        message: { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } },
        detail: 'error response with id null (the peer could not tell what it answers): it matches no call',
      },
    ]);
    expect((await number).error).toBeInstanceOf(TimeoutError);
    expect((await parse).error).toBeInstanceOf(TimeoutError);
  });
});
