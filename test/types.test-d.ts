/** Type tests: `connect<Api>()` types method names, params and results; `serve<Api>()` types handlers. */
import { describe, expectTypeOf, it } from 'vitest';
import { connect, serve, type Client, type ConnectionInfo } from '../src/index.js';

interface Api {
  echo(params: { n: number }): { n: number };
  add(params: [number, number]): number;
  now(): Promise<string>;
}

declare const client: Client<Api>;

describe('typed methods', () => {
  it('types params and results of request()', () => {
    expectTypeOf(client.request('echo', { n: 1 })).toEqualTypeOf<Promise<{ n: number }>>();
    expectTypeOf(client.request('add', [1, 2])).toEqualTypeOf<Promise<number>>();
    // A method without params may be called without them; results are awaited types.
    expectTypeOf(client.request('now')).toEqualTypeOf<Promise<string>>();
    expectTypeOf(client.request('add', [1, 2], { timeout: 100 })).toEqualTypeOf<Promise<number>>();
  });

  it('rejects unknown methods and wrong params', () => {
    // @ts-expect-error: no such method
    void client.request('subtract', [1, 2]);
    // @ts-expect-error: params of the wrong type
    void client.request('add', ['1', 2]);
    // @ts-expect-error: params are required for echo
    void client.request('echo');
  });

  it('connect<Api>() gives a typed client; without Api everything is allowed', () => {
    const typed = () => connect<Api>('ws://127.0.0.1:1');
    expectTypeOf(typed).returns.toEqualTypeOf<Client<Api>>();
    const untyped = () => connect('ws://127.0.0.1:1');
    expectTypeOf(untyped).returns.toMatchTypeOf<Client>();
    expectTypeOf<ReturnType<typeof untyped>['request']>().toBeCallableWith('anything', { any: 'thing' });
  });

  it('serve<Api>() checks handlers against the API', () => {
    void (() =>
      serve<Api>({
        methods: {
          echo: (p) => p,
          add: ([a, b]) => a + b,
          now: async () => new Date().toISOString(),
        },
      }));
    void (() =>
      serve<Api>({
        methods: {
          echo: (p) => p,
          // @ts-expect-error: add must return a number
          add: () => 'three',
          now: async () => '',
        },
      }));
  });

  it('authenticate answers true, false, a refusal or { data }; servers close with { drain }; peers expose ConnectionInfo', () => {
    void (() =>
      serve({
        authenticate: (request) =>
          request.url === '/a' ? { data: { role: 'admin' } } : request.url === '/b' || { status: 403, reason: 'no' },
        methods: { whoami: (_p, ctx) => ctx.connection.data },
      }).then(async (server) => {
        server.on('connection', (peer) => expectTypeOf(peer.connection).toEqualTypeOf<ConnectionInfo>());
        await server.close({ drain: 1_000 });
      }));
    // @ts-expect-error: authenticate cannot answer a string
    void (() => serve({ authenticate: () => 'yes', methods: {} }));
  });
});
