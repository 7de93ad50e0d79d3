/**
 * A client, or a server's peer, wrapped in a Proxy keeps working. Its methods then run with the Proxy as `this`, which
 * reaches ordinary properties through the target but not ECMAScript `#private` ones: callstate's classes keep
 * TypeScript `private` members (CONTRIBUTING.md). A plain Proxy is what instrumentation and test doubles make; a deep
 * one, which wraps every object read through it, is what Vue's reactive state makes of a client kept in `ref()` or a
 * Pinia store (tested with @vue/reactivity itself): there the client's methods run on Proxies of its internal objects.
 */ import { ref } from '@vue/reactivity';
import { describe, expect, it } from 'vitest';
import { connect, serve, type Client, type HandlerContext } from '../../src/index.js';
import { closeTrackedAfterEach, until } from '../helpers.js';

const track = closeTrackedAfterEach();

/** A Proxy that forwards everything to `target`, as a plain wrapper does. */
const wrapped = <T extends object>(target: T): T => new Proxy(target, {});

describe('a Proxy around a peer', () => {
  it('the client: request, notify, on, pendingCalls, ready and close run through it', async () => {
    const notes: unknown[] = [];
    const server = track(
      await serve({
        port: 0,
        methods: {
          add: ([a, b]: [number, number]) => a + b,
          note: (params: unknown, ctx: HandlerContext) => void ctx.peer.notify('noted', params),
        },
      }),
    );
    const client: Client = wrapped(connect(server.url));
    await client.ready;
    client.on('notification', ({ method, params }) => notes.push([method, params]));
    expect(await client.request('add', [2, 3])).toBe(5);
    client.notify('note', { n: 1 });
    await until(() => notes.length === 1, 'the notification back');
    expect(notes).toEqual([['noted', { n: 1 }]]);
    expect(client.pendingCalls).toBe(0);
    await client.close();
    await expect(client.request('add', [1, 1])).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
  });

  it("the light connection actor (a server's peer's actor, the browser client's): getSnapshot and subscribe run through it", async () => {
    const server = track(await serve({ port: 0, methods: {} }));
    const client = track(connect(server.url));
    await client.ready;
    await until(() => server.connections.size === 1, 'the connection on the server');
    const [peer] = [...server.connections];
    const actor = wrapped(peer!.actor);
    expect(actor.getSnapshot().value).toBe('open');
    const seen: unknown[] = [];
    const subscription = actor.subscribe({ next: (snapshot) => seen.push(snapshot.value) });
    await client.close();
    await until(() => seen.includes('closed'), 'the closed snapshot');
    subscription.unsubscribe();
    expect(seen).toContain('closed');
  });

  it("Vue's reactive state (the client kept in a ref): calls, a timeout, an abort, notifications and close", async () => {
    const server = track(
      await serve({
        port: 0,
        methods: {
          echo: (params: unknown) => params,
          never: () => new Promise(() => {}),
          note: (params: unknown, ctx: HandlerContext) => void ctx.peer.notify('noted', params),
        },
      }),
    );
    // ref() makes the client reactive: a deep Proxy, whose reads of the client's own objects return Proxies of them too.
    const client = ref(connect(server.url, { timeout: 50 })).value as Client;
    await client.ready;
    const noted = new Promise((resolve) => client.on('notification', ({ method }) => resolve(method)));
    client.notify('note', [1]);
    expect(await noted).toBe('noted');
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => client.request('echo', [i])));
    expect(answers).toEqual(Array.from({ length: 20 }, (_, i) => [i]));
    await expect(client.request('never', [])).rejects.toMatchObject({ name: 'TimeoutError' });
    const controller = new AbortController();
    const aborted = client.request('never', [], { signal: controller.signal, timeout: 5_000 });
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'AbortError' });
    expect(client.pendingCalls).toBe(0);
    await client.close();
  });

  it("a server's peer: request() back to its client runs through it", async () => {
    const server = track(await serve({ port: 0, methods: {} }));
    const client = track(connect(server.url, { methods: { twice: ([n]: [number]) => n * 2 } }));
    await client.ready;
    await until(() => server.connections.size === 1, 'the connection on the server');
    const [peer] = [...server.connections];
    expect(await wrapped(peer!).request('twice', [21])).toBe(42);
  });
});
