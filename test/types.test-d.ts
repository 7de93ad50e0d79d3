/** Type tests: `connect<Api>()` types method names, params and results; `serve<Api>()` types handlers. */
import { describe, expectTypeOf, it } from 'vitest';
import type { Actor } from 'xstate';
import { z } from 'zod';
import type { connectionMachine } from '../machines/connection.machine.js';
import type { Client as BrowserClient } from '../src/browser.js';
import {
  connect,
  method,
  serve,
  type Client,
  type ConnectionActor,
  type ConnectionInfo,
  type HandlerContext,
  type StandardSchemaV1,
} from '../src/index.js';

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

describe('typed notifications', () => {
  interface ClientApi {
    message(params: { from: string; text: string }): void;
    ping(): void;
  }

  it("types notify() as request() is: a typed API's method names and params", () => {
    expectTypeOf(client.notify).toBeCallableWith('echo', { n: 1 });
    expectTypeOf(client.notify).toBeCallableWith('now');
    // @ts-expect-error: no such method
    client.notify('subtract', [1, 2]);
    // @ts-expect-error: params of the wrong type
    client.notify('add', ['1', 2]);
    // @ts-expect-error: params are required for echo
    client.notify('echo');
    // connect() without an API gives a Client of any method and params.
    expectTypeOf<Client['notify']>().toBeCallableWith('anything', { any: 'thing' });
    expectTypeOf<Client['notify']>().toBeCallableWith('anything');
  });

  it("types a server's notify() to its clients from the client API, in handlers and on each connection", () => {
    void (() =>
      serve<Api, ClientApi>({
        methods: {
          echo: (p, ctx) => {
            ctx.peer.notify('message', { from: 'server', text: 'hi' });
            ctx.peer.notify('ping');
            // @ts-expect-error: a typo in the method's name
            ctx.peer.notify('mesage', { from: 'server', text: 'hi' });
            return p;
          },
          add: ([a, b]) => a + b,
          now: async () => '',
        },
      }).then((server) => {
        for (const peer of server.connections) {
          // @ts-expect-error: text must be a string
          peer.notify('message', { from: 'server', text: 1 });
        }
      }));
  });
});

describe("a client's own methods", () => {
  interface ClientApi {
    whoami(): string;
  }

  it("types their ctx.peer as the server, from connect<Api, LocalApi>'s Api, not any", () => {
    void connect<Api, ClientApi>('ws://127.0.0.1:1', {
      methods: {
        whoami: (_params, ctx) => {
          expectTypeOf(ctx.peer.request('add', [1, 2])).toEqualTypeOf<Promise<number>>();
          expectTypeOf(ctx.peer.call.now()).toEqualTypeOf<Promise<string>>();
          // @ts-expect-error: the server has no such method
          void ctx.peer.request('subtract', [1, 2]);
          return 'ada';
        },
      },
    });
    // Without an API, anything goes, as before, and the client is untyped.
    const untyped = connect('ws://127.0.0.1:1', { methods: { whoami: (_params, ctx) => ctx.peer.request('anything', [1]) } });
    expectTypeOf(untyped).toEqualTypeOf<Client>();
  });
});

describe('connection actors', () => {
  it("a Node client's actor is XState's whole; a server's peer's and a browser client's have only what light actors have", () => {
    expectTypeOf(client.actor).toHaveProperty('system');
    expectTypeOf(client.actor.system).not.toBeAny();
    expectTypeOf(client.actor.getSnapshot().value).toEqualTypeOf<ReturnType<Actor<typeof connectionMachine>['getSnapshot']>['value']>();
    void (() =>
      serve({ methods: {} }).then((server) =>
        server.on('connection', (peer) => {
          expectTypeOf(peer.actor).toEqualTypeOf<ConnectionActor>();
          expectTypeOf(peer.actor.subscribe).toBeCallableWith((snapshot) => void snapshot.value);
          // @ts-expect-error: a light actor has no XState system
          void peer.actor.system;
          const listener = () => {};
          // @ts-expect-error: nor the three-listener form of subscribe
          void peer.actor.subscribe(listener, listener);
        }),
      ));
    expectTypeOf<BrowserClient['actor']>().toEqualTypeOf<ConnectionActor>();
  });
});

describe('schema-checked methods', () => {
  it("types the handler's params from the schema's output, inline in serve()", () => {
    void (() =>
      serve({
        methods: {
          add: {
            params: z.tuple([z.number(), z.number()]),
            handler: ([a, b]) => {
              expectTypeOf(a).toEqualTypeOf<number>();
              return a + b;
            },
          },
          // A transform: the handler gets the output type.
          len: { params: z.string().transform((s) => s.length), handler: (n) => expectTypeOf(n).toEqualTypeOf<number>() },
          plain: (p: string) => p,
        },
      }));
    void (() =>
      serve({
        methods: {
          // @ts-expect-error: a is a number
          add: { params: z.tuple([z.number(), z.number()]), handler: ([a]) => a.toUpperCase() },
        },
      }));
  });

  it('serve<Api>() checks a schema against the params of the API', () => {
    void (() =>
      serve<Api>({
        methods: {
          echo: { params: z.object({ n: z.number() }), handler: (p) => p },
          add: { params: z.tuple([z.number(), z.number()]), handler: ([a, b]) => a + b },
          now: async () => '',
        },
      }));
    void (() =>
      serve<Api>({
        methods: {
          echo: (p) => p,
          // @ts-expect-error: the schema's input must be the API's params
          add: { params: z.tuple([z.string(), z.number()]), handler: ([, b]) => b },
          now: async () => '',
        },
      }));
  });

  it("connect<typeof methods>() takes params from the schema's input and results from the handler", () => {
    const pair: StandardSchemaV1<[number, number]> = null!;
    const _methods = {
      add: method({ params: z.tuple([z.number(), z.number()]), handler: ([a, b]) => a + b }),
      pair: method({ params: pair, handler: async ([a, b]) => `${a},${b}` }),
      echo: (p: { s: string }, _ctx: HandlerContext) => p,
    };
    const typed = connect<typeof _methods>('ws://127.0.0.1:1');
    expectTypeOf(typed.request('add', [1, 2])).toEqualTypeOf<Promise<number>>();
    expectTypeOf(typed.request('pair', [1, 2])).toEqualTypeOf<Promise<string>>();
    expectTypeOf(typed.request('echo', { s: '' })).toEqualTypeOf<Promise<{ s: string }>>();
    expectTypeOf(typed.call.add([1, 2])).toEqualTypeOf<Promise<number>>();
    // @ts-expect-error: the schema's input is a pair of numbers
    void typed.request('add', ['1', 2]);
    // @ts-expect-error: same through the proxy
    void typed.call.add(['1', 2]);
  });
});

describe('typed proxy', () => {
  it('types client.call.<method> from the same Api as request(), with per-call options', () => {
    expectTypeOf(client.call.add([1, 2])).toEqualTypeOf<Promise<number>>();
    expectTypeOf(client.call.add([1, 2], { timeout: 100 })).toEqualTypeOf<Promise<number>>();
    expectTypeOf(client.call.now()).toEqualTypeOf<Promise<string>>();
    // @ts-expect-error: no such method
    void client.call.subtract([1, 2]);
    // @ts-expect-error: params are required for echo
    void client.call.echo();
    // @ts-expect-error: the proxy is not a thenable
    void client.call.then;
  });
});
