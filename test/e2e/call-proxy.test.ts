/** The typed proxy `peer.call.<method>(params, options)`, over real sockets, both ways. */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, TimeoutError, type Client, type Server } from '../../src/index.js';
import { closeAfterEach, settle, until } from '../helpers.js';

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
