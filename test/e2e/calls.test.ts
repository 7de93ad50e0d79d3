import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  connect,
  serve,
  ConnectionClosedError,
  RemoteError,
  TimeoutError,
  type Client,
  type Server,
  type UnmatchedEvent,
} from '../../src/index.js';
import { closeAfterEach, deferred, settle, until, type Deferred } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

describe('calls over a real WebSocket', () => {
  it('answers 20 concurrent random-integer echoes, each with what it sent (the seed scenario)', async () => {
    server = await serve({ methods: { echo: (params: unknown) => params } });
    client = connect(server.url);
    const sent = Array.from({ length: 20 }, () => Math.floor(Math.random() * 1_000_000));
    const results = await Promise.all(sent.map((n) => client!.request('echo', { n })));
    expect(results).toEqual(sent.map((n) => ({ n })));
    expect(client.pendingCalls).toBe(0);
  });

  it('settles out-of-order responses on the calls they belong to', async () => {
    const held = new Map<number, Deferred<number>>();
    server = await serve({
      methods: {
        hold: ({ n }: { n: number }) => {
          const d = deferred<number>();
          held.set(n, d);
          return d.promise;
        },
      },
    });
    client = connect(server.url);
    const finished: number[] = [];
    const calls = Array.from({ length: 20 }, (_, n) =>
      client!.request('hold', { n }).then((value) => {
        finished.push(n);
        return value;
      }),
    );
    await until(() => held.size === 20, 'all 20 calls to reach the server');
    // Answer in a shuffled order, each with its own n squared, waiting for each answer to land.
    const order = [...held.keys()].sort(() => Math.random() - 0.5);
    for (const n of order) {
      held.get(n)!.resolve(n * n);
      await until(() => finished.includes(n), `call ${n} to settle`);
    }
    expect(finished).toEqual(order);
    expect(await Promise.all(calls)).toEqual(Array.from({ length: 20 }, (_, n) => n * n));
  });

  it('queues calls made before the socket opens and sends them, in order, on open', async () => {
    const seen: number[] = [];
    server = await serve({ methods: { record: ({ n }: { n: number }) => (seen.push(n), n) } });
    client = connect(server.url);
    expect(client.state).toBe('connecting');
    const calls = [1, 2, 3].map((n) => client!.request('record', { n }));
    await client.ready;
    expect(await Promise.all(calls)).toEqual([1, 2, 3]);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('rejects queued calls and ready with ConnectionClosedError when the socket never opens', async () => {
    // A port that was just free: nothing listens there.
    const probe = await serve({ methods: {} });
    const url = probe.url;
    await probe.close();
    client = connect(url);
    const call = settle(client.request('echo', {}));
    const ready = await settle(client.ready);
    expect(ready.error).toBeInstanceOf(ConnectionClosedError);
    expect(ready.error.code).toBe('ERR_CONNECTION_CLOSED');
    expect(ready.error.message).toMatch(/^could not connect to ws:\/\/127\.0\.0\.1:\d+ \(code 1006\)/);
    const { error } = await call;
    expect(error).toBe(ready.error);
    expect(client.state).toBe('closed');
    expect(client.pendingCalls).toBe(0);
  });

  it('rejects with TimeoutError naming the method, id and timeout, then reports the late response', async () => {
    const clock = new SimulatedClock();
    const arrived = deferred<{ id: string | number; answer: Deferred<string> }>();
    server = await serve({
      methods: {
        slowly: (_params: unknown, ctx) => {
          const answer = deferred<string>();
          arrived.resolve({ id: ctx.id!, answer });
          return answer.promise;
        },
      },
    });
    const unmatched: UnmatchedEvent[] = [];
    client = connect(server.url, { clock, timeout: 10_000 });
    client.on('unmatched', (event) => unmatched.push(event));
    const call = settle(client.request('slowly', {}, { timeout: 500 }));
    const { id, answer } = await arrived.promise;
    clock.increment(499);
    expect(client.pendingCalls).toBe(1);
    clock.increment(1);
    const { error } = await call;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.code).toBe('ERR_CALL_TIMEOUT');
    expect(error.message).toBe(`call "slowly" (id ${id}) got no response within 500 ms`);
    expect([error.method, error.id, error.timeout]).toEqual(['slowly', id, 500]);
    expect(client.pendingCalls).toBe(0);

    answer.resolve('too late');
    await until(() => unmatched.length === 1, 'the late response');
    expect(unmatched[0]).toMatchObject({ reason: 'late', id, message: { jsonrpc: '2.0', id, result: 'too late' } });
  });

  it("uses the client's default timeout when the call gives none", async () => {
    const clock = new SimulatedClock();
    const arrived = deferred();
    server = await serve({ methods: { never: () => (arrived.resolve(), new Promise(() => {})) } });
    client = connect(server.url, { clock, timeout: 300 });
    const call = settle(client.request('never'));
    await arrived.promise;
    clock.increment(299);
    expect(client.pendingCalls).toBe(1);
    clock.increment(1);
    const { error } = await call;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.timeout).toBe(300);
  });

  it('calls the client back through ctx.peer, over the same socket', async () => {
    server = await serve({
      methods: {
        greet: async (_params: unknown, ctx) => {
          const name = await ctx.peer.request('whoami');
          return `hello, ${name}`;
        },
      },
    });
    client = connect(server.url, { methods: { whoami: () => 'client-7' } });
    expect(await client.request('greet')).toBe('hello, client-7');
  });

  it('delivers notifications both ways', async () => {
    server = await serve({ methods: {} });
    const atServer = deferred<{ method: string; params: unknown }>();
    server.on('connection', (peer) => {
      peer.on('notification', (n) => atServer.resolve(n));
    });
    client = connect(server.url);
    const atClient = deferred<{ method: string; params: unknown }>();
    client.on('notification', (n) => atClient.resolve(n));
    client.notify('log', { line: 'from client' });
    expect(await atServer.promise).toEqual({ method: 'log', params: { line: 'from client' } });
    [...server.connections][0]!.notify('tick', [1, 2]);
    expect(await atClient.promise).toEqual({ method: 'tick', params: [1, 2] });
  });

  it('turns a thrown handler error into RemoteError -32603 without a stack by default', async () => {
    server = await serve({
      methods: {
        fail: () => {
          throw new Error('disk on fire');
        },
      },
    });
    client = connect(server.url);
    const { error } = await settle(client.request('fail'));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.name, error.code, error.message]).toEqual(['RemoteError', -32603, 'disk on fire']);
    expect(error.data).toEqual({ name: 'Error' });
  });

  it('includes the stack when the server opts in', async () => {
    server = await serve({
      exposeErrorStack: true,
      methods: {
        fail: async () => {
          throw new TypeError('wrong shape');
        },
      },
    });
    client = connect(server.url);
    const { error } = await settle(client.request('fail'));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message, error.data.name]).toEqual([-32603, 'wrong shape', 'TypeError']);
    expect(error.data.stack).toMatch(/^TypeError: wrong shape\n\s+at /);
  });

  it('refuses an exposeErrorStack that is not a boolean, on every side: the string "false" would send stacks', async () => {
    const refusal = new TypeError('options.exposeErrorStack must be a boolean, got "false"');
    const exposeErrorStack = 'false' as never;
    await expect(serve({ port: 0, host: '127.0.0.1', exposeErrorStack, methods: {} })).rejects.toThrow(refusal);
    // Refused before the NATS connection is tried (nothing listens on port 1).
    await expect(serve({ nats: 'nats://127.0.0.1:1', subject: 'calls.test', exposeErrorStack, methods: {} })).rejects.toThrow(refusal);
    for (const url of ['ws://127.0.0.1:1', 'http://127.0.0.1:2', 'nats://127.0.0.1:1']) {
      expect(() => connect(url, { exposeErrorStack, subject: url.startsWith('nats') ? 'calls.test' : undefined })).toThrow(refusal);
    }
  });
});
