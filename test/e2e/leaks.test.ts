/**
 * What a long-lived process must not accumulate: each test counts what is still held after many operations
 * (entries, calls, objects still reachable after a full collection), never heap or time.
 */
import { describe, expect, it } from 'vitest';
import { connect, serve, type Client, type Server } from '../../src/index.js';
import { closeAfterEach, deferred, heapAfterGc, settle } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

/** White-box: the HTTP client's POSTs still in its line (dropped ones included), and the calls its send queue still holds as being written. */
function heldByHttpClient(peer: Client): { posts: number; writing: number } {
  const internals = peer as unknown as {
    transport: { line: { first?: { next?: unknown } } };
    outgoing: { queue: { writing: { size: number } } };
  };
  let posts = 0;
  for (let post = internals.transport.line.first; post !== undefined; post = post.next as typeof post) posts++;
  return { posts, writing: internals.outgoing.queue.writing.size };
}

describe('leaks: HTTP client', () => {
  it('keeps nothing of calls that end while waiting for a connection that long calls hold', async () => {
    const release = deferred<string>();
    const entered = deferred();
    server = await serve({
      port: 0,
      methods: {
        hold: () => (entered.resolve(), release.promise),
        echo: (params: unknown) => params,
      },
    });
    client = connect(server.httpUrl, { maxConnections: 1, timeout: 60_000 });
    const hold = client.request('hold', []);
    await entered.promise;

    // Each waits in line behind the call holding the only connection, then is cancelled there: never sent.
    const count = 200;
    const controllers = Array.from({ length: count }, () => new AbortController());
    const waiting = controllers.map((controller) => settle(client!.request('echo', ['x'.repeat(1_000)], { signal: controller.signal })));
    for (const controller of controllers) controller.abort();
    const outcomes = await Promise.all(waiting);
    expect(outcomes.every(({ error }) => (error as Error | undefined)?.name === 'AbortError')).toBe(true);
    // Their writes end in microtasks: let them.
    await new Promise((resolve) => setImmediate(resolve));

    // Nothing of them is kept until the connection is free (it was: every frame, and every call, for as long as `hold` ran).
    expect(heldByHttpClient(client)).toEqual({ posts: 0, writing: 0 });

    // The line still works in order: the long call is answered, and the next call goes out.
    release.resolve('done');
    expect(await hold).toBe('done');
    expect(await client.request('echo', ['after'])).toEqual(['after']);
  });
});

describe('leaks: handlers', () => {
  it('keeps nothing a handler answered with an abort listener on ctx.signal still attached holds, with handlerTimeout', async () => {
    // What each handler's listener holds: reachable from nothing else once its call is answered.
    const held: Array<WeakRef<object>> = [];
    server = await serve({
      port: 0,
      handlerTimeout: 60_000,
      methods: {
        listens: (_params: unknown, ctx) => {
          const state = { payload: new Array(100).fill(0) };
          held.push(new WeakRef(state));
          ctx.signal.addEventListener('abort', () => state.payload.fill(1), { once: true });
          return 'answered';
        },
      },
    });
    client = connect(server.url);
    const count = 100;
    const answers = await Promise.all(Array.from({ length: count }, () => client!.request('listens', [])));
    expect(answers.every((answer) => answer === 'answered')).toBe(true);
    // WeakRefs made in this job are kept until it ends: collect from a later one.
    await new Promise((resolve) => setImmediate(resolve));
    heapAfterGc();
    // Each was kept for good (with its signal, made by AbortSignal.any, which Node keeps while it has a listener).
    expect(held.filter((ref) => ref.deref() !== undefined).length).toBe(0);
  });
});
