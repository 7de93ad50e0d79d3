/**
 * JSON-RPC interop over real sockets: requests cancelled by `$/cancelRequest` are answered -32800 (as LSP and
 * vscode-jsonrpc servers do, whose clients wait for that answer), and notifications run the method they name.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, type Client, type ErrorInfo, type Server, type UnmatchedEvent } from '../../src/index.js';
import { closeAfterEach, deferred, rawClient, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
let raw: Awaited<ReturnType<typeof rawClient>> | undefined;

closeAfterEach(() => [raw, client, server]);

/** A method that runs until its signal aborts; `aborted` resolves then. */
function untilAborted() {
  const started = deferred();
  const aborted = deferred<unknown>();
  const handler = (_params: unknown, ctx: { signal: AbortSignal }) =>
    new Promise((_resolve, reject) => {
      started.resolve();
      ctx.signal.addEventListener('abort', () => {
        aborted.resolve(ctx.signal.reason);
        reject(new Error('aborted'));
      });
    });
  return { handler, started, aborted };
}

describe('a request cancelled by $/cancelRequest', () => {
  it('is answered -32800 for a vscode-jsonrpc-style client (numeric ids, one notice frame), and its handler aborts', async () => {
    const slow = untilAborted();
    server = await serve({ methods: { slow: slow.handler } });
    raw = await rawClient(server.url);
    // What vscode-jsonrpc writes: a request with a numeric id, then the notice, each a frame of its own.
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'slow', params: { uri: 'file:///a' } }));
    await slow.started.promise;
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 0 } }));
    expect(await raw.next()).toEqual({
      jsonrpc: '2.0',
      id: 0,
      error: { code: -32800, message: 'request cancelled: "slow" was cancelled by its caller' },
    });
    await slow.aborted.promise;
    // Answered once: the next answer on the socket is the next request's.
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'nope' }));
    expect(await raw.next()).toMatchObject({ id: 1, error: { code: -32601 } });
  });

  it('is answered -32800 inside the batch it came in', async () => {
    const slow = untilAborted();
    server = await serve({ methods: { slow: slow.handler, echo: (p: unknown) => p } });
    raw = await rawClient(server.url);
    raw.send(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'slow' },
        { jsonrpc: '2.0', id: 'b', method: 'echo', params: [1] },
      ]),
    );
    await slow.started.promise;
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 'a' } }));
    const answers = (await raw.next()) as Array<{ id: string }>;
    expect(answers.sort((x, y) => x.id.localeCompare(y.id))).toEqual([
      { jsonrpc: '2.0', id: 'a', error: { code: -32800, message: 'request cancelled: "slow" was cancelled by its caller' } },
      { jsonrpc: '2.0', id: 'b', result: [1] },
    ]);
  });

  it("is expected by callstate's own client: the -32800 that answers an aborted call is not reported late", async () => {
    const slow = untilAborted();
    server = await serve({ methods: { slow: slow.handler, echo: (p: unknown) => p } });
    client = connect(server.url);
    const unmatched: UnmatchedEvent[] = [];
    client.on('unmatched', (event) => unmatched.push(event));
    const controller = new AbortController();
    const call = client.request('slow', undefined, { signal: controller.signal });
    await slow.started.promise;
    controller.abort(new Error('no longer needed'));
    expect((await settle(call)).error.message).toBe('no longer needed');
    await slow.aborted.promise;
    // The server wrote -32800 when the notice arrived, before it could read this request: its answer comes after.
    expect(await client.request('echo', ['after'])).toEqual(['after']);
    expect(unmatched).toEqual([]);
  });
});

describe('a notification', () => {
  it('runs the method of its name (result dropped), and notification listeners still hear it', async () => {
    const ran = deferred<unknown>();
    server = await serve({ methods: { log: (params: unknown) => (ran.resolve(params), 'dropped') } });
    client = connect(server.url);
    await client.ready;
    await until(() => server!.connections.size === 1, 'the server to see the client');
    const heard: unknown[] = [];
    [...server.connections][0]!.on('notification', (event) => heard.push(event));
    client.notify('log', { line: 'x' });
    expect(await ran.promise).toEqual({ line: 'x' });
    expect(heard).toEqual([{ method: 'log', params: { line: 'x' } }]);
  });

  it('sends nothing back, and what its handler throws goes to onError (kind notification, no id)', async () => {
    const seen = deferred<[unknown, ErrorInfo]>();
    server = await serve({
      onError: (error, info) => seen.resolve([error, info]),
      methods: {
        fail: (_p: unknown, ctx) => {
          throw new Error(`failed, id ${String(ctx.id)}`);
        },
      },
    });
    raw = await rawClient(server.url);
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: 'fail', params: [] }));
    const [error, info] = await seen.promise;
    expect((error as Error).message).toBe('failed, id undefined');
    expect(info).toMatchObject({ method: 'fail', id: undefined, kind: 'notification', response: undefined });
    // Nothing was answered: the next answer on the socket is this request's.
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'nope' }));
    expect(await raw.next()).toMatchObject({ id: 9, error: { code: -32601 } });
  });

  it('runs through the middleware, and a notification for a method that does not exist runs nothing and is not answered', async () => {
    const trail: string[] = [];
    server = await serve({
      use: [(ctx, next) => (trail.push(`mw ${ctx.method} ${String(ctx.id)}`), next())],
      methods: { log: () => trail.push('handler') },
    });
    raw = await rawClient(server.url);
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: 'missing' }));
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: 'log' }));
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'nope' }));
    expect(await raw.next()).toMatchObject({ id: 1, error: { code: -32601 } });
    await until(() => trail.length === 2, 'the notification to run');
    expect(trail).toEqual(['mw log undefined', 'handler']);
  });

  it('is bounded by handlerTimeout: its signal aborts, onError hears -32001, and its slot is freed', async () => {
    const hold = untilAborted();
    const clock = new SimulatedClock();
    const seen = deferred<[number, ErrorInfo['kind']]>();
    server = await serve({
      clock,
      handlerTimeout: 50,
      onError: (error, info) => seen.resolve([(error as { code: number }).code, info.kind]),
      methods: { hold: hold.handler },
    });
    raw = await rawClient(server.url);
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: 'hold' }));
    await hold.started.promise;
    const serverSide = [...server.connections][0]!;
    expect(serverSide.handlingCalls).toBe(1);
    clock.increment(50);
    expect(await seen.promise).toEqual([-32001, 'notification']);
    expect((await hold.aborted.promise) as DOMException).toMatchObject({ name: 'TimeoutError' });
    await until(() => serverSide.handlingCalls === 0, 'the slot to be freed');
  });

  it('is not run beyond maxInFlightPerConnection (reported -32000 to onError), and its handler aborts when the client goes', async () => {
    const hold = untilAborted();
    const seen: Array<[number, ErrorInfo['kind']]> = [];
    server = await serve({
      maxInFlightPerConnection: 1,
      onError: (error, info) => seen.push([(error as { code: number }).code, info.kind]),
      methods: { hold: hold.handler },
    });
    raw = await rawClient(server.url);
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: 'hold' }));
    await hold.started.promise;
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: 'hold' }));
    raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hold' }));
    expect(await raw.next()).toMatchObject({ id: 1, error: { code: -32000 } });
    expect(seen).toEqual([
      [-32000, 'notification'],
      [-32000, 'protocol'],
    ]);
    await raw.close();
    await hold.aborted.promise;
    await until(() => server!.connections.size === 0, 'the server to drop the client');
  });
});
