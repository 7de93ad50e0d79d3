import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, type Client, type Peer, type Server, type UnmatchedEvent } from '../../src/index.js';
import { abortWatcher, closeAfterEach, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

/** A server whose `hold` calls the test answers by hand, and the client's view of unmatched messages. */
async function setup(options: { clock?: SimulatedClock; settledMemory?: number } = {}) {
  const held = new Map<string | number, (value: unknown) => void>();
  server = await serve({
    methods: {
      echo: (p: unknown) => p,
      hold: (_p: unknown, ctx) => new Promise((resolve) => held.set(ctx.id!, resolve)),
    },
  });
  client = connect(server.url, options);
  const unmatched: UnmatchedEvent[] = [];
  client.on('unmatched', (event) => unmatched.push(event));
  await client.ready;
  await until(() => server!.connections.size === 1, 'the server to see the client');
  const serverSide = [...server.connections][0] as Peer;
  return { held, unmatched, serverSide, client };
}

describe('messages that match no call', () => {
  it("reports a response with an unknown id as 'unknown' and settles nothing", async () => {
    const { held, unmatched, serverSide, client } = await setup();
    const call = client.request('hold', { n: 1 });
    await until(() => held.size === 1, 'the call to arrive');
    serverSide.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'no-such-call', result: 'stray' }));
    serverSide.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 42, result: 'numeric id' }));
    await until(() => unmatched.length === 2, 'two reports');
    expect(unmatched.map((u) => [u.reason, u.id])).toEqual([
      ['unknown', 'no-such-call'],
      ['unknown', 42],
    ]);
    expect(unmatched[0]!.detail).toBe('response whose id matches no call made on this connection');
    expect(client.pendingCalls).toBe(1);
    [...held.values()][0]!('mine');
    expect(await call).toBe('mine');
  });

  it("forgets settled ids beyond settledMemory: a response for one is then 'unknown', for a recent one 'duplicate'", async () => {
    const { held, unmatched, serverSide, client } = await setup({ settledMemory: 2 });
    for (let n = 0; n < 5; n++) {
      const call = client.request('hold', { n });
      await until(() => held.size === n + 1, `call ${n} to arrive`);
      [...held.values()][n]!(n);
      expect(await call).toBe(n);
    }
    const ids = [...held.keys()];
    serverSide.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: ids[0], result: 'again' }));
    serverSide.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: ids[4], result: 'again' }));
    await until(() => unmatched.length === 2, 'two reports');
    expect(unmatched.map((u) => [u.reason, u.id])).toEqual([
      ['unknown', ids[0]],
      ['duplicate', ids[4]],
    ]);
  });

  it("reports a second response for a settled call as 'duplicate'", async () => {
    const { held, unmatched, serverSide, client } = await setup();
    const call = client.request('hold', {});
    await until(() => held.size === 1, 'the call to arrive');
    const [id, answer] = [...held.entries()][0]!;
    answer('first');
    expect(await call).toBe('first');
    serverSide.sendRaw(JSON.stringify({ jsonrpc: '2.0', id, result: 'second' }));
    await until(() => unmatched.length === 1, 'the duplicate report');
    expect(unmatched[0]).toEqual({
      reason: 'duplicate',
      id,
      message: { jsonrpc: '2.0', id, result: 'second' },
      detail: 'second response for a call that already settled',
    });
  });

  it("reports a response after the call was cancelled as 'late'", async () => {
    const { held, unmatched, client } = await setup();
    const controller = new AbortController();
    const call = settle(client.request('hold', {}, { signal: controller.signal }));
    await until(() => held.size === 1, 'the call to arrive');
    controller.abort();
    const { error } = await call;
    expect(error).toBe(controller.signal.reason);
    expect(error.name).toBe('AbortError');
    [...held.values()][0]!('after the abort');
    await until(() => unmatched.length === 1, 'the late report');
    expect(unmatched[0]).toMatchObject({ reason: 'late', message: { result: 'after the abort' } });
  });

  it("reports frames that are not JSON-RPC as 'malformed', keeps the connection and settles nothing", async () => {
    const { held, unmatched, serverSide, client } = await setup();
    const call = client.request('hold', {});
    await until(() => held.size === 1, 'the call to arrive');
    serverSide.sendRaw('this is not json');
    serverSide.sendRaw(JSON.stringify({ jsonrpc: '1.0', id: 'x', result: 1 }));
    serverSide.sendRaw(JSON.stringify({ jsonrpc: '2.0', id: 'y', result: 1, error: { code: 1, message: 'both' } }));
    serverSide.sendRaw('[]');
    await until(() => unmatched.length === 4, 'four reports');
    expect(unmatched.map((u) => u.reason)).toEqual(['malformed', 'malformed', 'malformed', 'malformed']);
    expect(unmatched[0]).toMatchObject({ message: 'this is not json', id: null });
    expect(unmatched[0]!.detail).toMatch(/^not valid JSON: /);
    expect(unmatched[1]).toMatchObject({ id: 'x', detail: '"jsonrpc" must be exactly "2.0"' });
    expect(unmatched[2]).toMatchObject({ id: 'y', detail: 'a response must have exactly one of "result" and "error"' });
    expect(unmatched[3]).toMatchObject({ message: '[]', detail: 'empty batch' });
    expect(client.state).toBe('open');
    [...held.values()][0]!('still fine');
    expect(await call).toBe('still fine');
    expect(await client.request('echo', { after: 'garbage' })).toEqual({ after: 'garbage' });
  });

  it('reports a response that arrives after its timeout as late, with a simulated clock', async () => {
    const clock = new SimulatedClock();
    const { held, unmatched, client } = await setup({ clock });
    const call = settle(client.request('hold', {}, { timeout: 1_000 }));
    await until(() => held.size === 1, 'the call to arrive');
    clock.increment(1_000);
    expect((await call).error.name).toBe('TimeoutError');
    [...held.values()][0]!('late');
    await until(() => unmatched.length === 1, 'the late report');
    expect(unmatched[0]!.reason).toBe('late');
    expect(unmatched[0]!.detail).toBe('response for a call that already timed out or was cancelled');
  });

  it('a listener that throws does not break the connection', async () => {
    const { unmatched, serverSide, client } = await setup();
    const errors: unknown[] = [];
    const onError = (e: unknown) => errors.push(e);
    process.on('uncaughtException', onError);
    try {
      client.on('unmatched', () => {
        throw new Error('listener bug');
      });
      serverSide.sendRaw('{"jsonrpc":"2.0","id":"nope","result":0}');
      await until(() => unmatched.length === 1 && errors.length === 1, 'the report and the rethrown listener error');
      expect((errors[0] as Error).message).toBe('listener bug');
      expect(await client.request('echo', [1])).toEqual([1]);
    } finally {
      process.off('uncaughtException', onError);
    }
  });
});

describe('cancellation', () => {
  it("sends $/cancelRequest so the handler's ctx.signal aborts", async () => {
    const { handler, entered, aborted } = abortWatcher();
    server = await serve({ methods: { work: handler } });
    client = connect(server.url);
    const controller = new AbortController();
    const call = settle(client.request('work', {}, { signal: controller.signal }));
    await entered;
    controller.abort(new Error('user gave up'));
    expect((await call).error.message).toBe('user gave up');
    expect(await aborted).toBe(true);
    await until(() => [...server!.connections][0]!.handlingCalls === 0, 'the server to drop the cancelled call');
  });

  it('rejects at once with the reason when the signal is already aborted, sending nothing', async () => {
    let calls = 0;
    server = await serve({ methods: { count: () => ++calls } });
    client = connect(server.url);
    const reason = new Error('already');
    const { error } = await settle(client.request('count', {}, { signal: AbortSignal.abort(reason) }));
    expect(error).toBe(reason);
    expect(await client.request('count')).toBe(1);
  });

  it('cancels a queued call before it is ever written', async () => {
    let calls = 0;
    server = await serve({ methods: { count: () => ++calls } });
    client = connect(server.url);
    const controller = new AbortController();
    const call = settle(client.request('count', {}, { signal: controller.signal }));
    expect(client.state).toBe('connecting');
    controller.abort();
    expect((await call).error.name).toBe('AbortError');
    await client.ready;
    expect(await client.request('count')).toBe(1);
  });
});
