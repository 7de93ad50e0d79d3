/** The typed proxy `peer.call.<method>(params, options)`, over real sockets, both ways. */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, TimeoutError, type Client, type Server } from '../../src/index.js';
import { closeAfterEach, collectUncaught, settle, until } from '../helpers.js';

const uncaught = collectUncaught();

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

interface Api {
  add(params: [number, number]): number;
  hang(): never;
  then(params: [number]): string;
}

describe('client.call', () => {
  it('calls the method of its name with params and per-call options, as request() does', async () => {
    server = await serve({ methods: { add: ([a, b]: [number, number]) => a + b, hang: () => new Promise(() => {}) } });
    const clock = new SimulatedClock();
    const typed = connect<Api>(server.url, { clock });
    client = typed as Client;
    expect(await typed.call.add([1, 2])).toBe(3);
    const hanging = settle(typed.call.hang(undefined as never, { timeout: 50 }));
    await until(() => client!.pendingCalls === 1 && client!.queuedCalls === 0, 'the call to be written');
    clock.increment(50);
    const { error } = await hanging;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(/hang/);
  });

  it('is not a thenable: awaiting it calls no method named then, and symbol keys read undefined', async () => {
    let thenCalls = 0;
    server = await serve({ methods: { then: ([n]: [number]) => (thenCalls++, `then ${n}`) } });
    const typed = connect<Api>(server.url);
    client = typed as Client;
    const awaited: unknown = await typed.call;
    expect(awaited).toBe(typed.call);
    expect((typed.call as unknown as Record<symbol, unknown>)[Symbol.iterator]).toBeUndefined();
    expect((typed.call as unknown as Record<symbol, unknown>)[Symbol.toPrimitive]).toBeUndefined();
    expect(thenCalls).toBe(0);
    // A method named then is still reachable through request().
    expect(await typed.request('then', [1])).toBe('then 1');
  });

  it('converts to no string and calls nothing when logged or serialized: toString, valueOf and toJSON read undefined', async () => {
    const calls: unknown[] = [];
    // A request for a method the server lacks is answered -32601 and told to onError (kind 'protocol').
    server = await serve({ methods: { echo: (p: unknown) => p }, onError: (_error, { method }) => calls.push(method) });
    const typed = connect<Api>(server.url);
    client = typed as Client;
    await client.ready;
    expect(() => String(typed.call)).toThrow(new TypeError('Cannot convert object to primitive value'));
    expect(JSON.stringify({ proxy: typed.call })).toBe('{"proxy":{}}');
    // Anything sent would have been answered -32601 before the answer of a call made after it.
    expect(await client.request('echo', [1])).toEqual([1]);
    expect(client.pendingCalls).toBe(0);
    expect(calls).toEqual([]);
    expect(uncaught).toEqual([]);
    // Methods of those names are still reachable through request().
    expect((await settle(client.request('toString'))).error).toMatchObject({ code: -32601 });
    expect(calls).toEqual(['toString']);
  });

  it('caches one function per method name, and the proxy itself is one per peer', async () => {
    server = await serve({ methods: {} });
    client = connect(server.url);
    expect(client.call).toBe(client.call);
    const call = client.call as Record<string, unknown>;
    expect(call.add).toBe(call.add);
    expect(call.add).not.toBe(call.sub);
    expect(Object.keys(client.call)).toEqual([]);
    expect('add' in client.call).toBe(false);
  });

  it('works on the server side as ctx.peer.call, calling the client back', async () => {
    interface ServerApi {
      askBack(): string;
    }
    interface ClientApi {
      hello(params: [string]): string;
    }
    server = await serve<ServerApi, ClientApi>({
      methods: { askBack: async (_p, ctx) => `client says ${await ctx.peer.call.hello(['server'])}` },
    });
    const typed = connect<ServerApi, ClientApi>(server.url, { methods: { hello: ([who]) => `hello ${who}` } });
    client = typed as Client;
    expect(await typed.call.askBack()).toBe('client says hello server');
  });
});
