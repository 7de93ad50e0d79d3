/**
 * What a long-lived process must not accumulate: each test counts what is still held after many operations
 * (entries, calls, objects still reachable after a full collection), never heap or time.
 */
import { describe, expect, it } from 'vitest';
import { Fifo } from '../../src/core/fifo.js';
import { connect, serve, type Client, type Server } from '../../src/index.js';
import { closeAfterEach, deferred, heapAfterGc, settle } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

/**
 * White-box: what the HTTP client holds of its POSTs not yet sent: the POSTs in its line (dropped ones included), the
 * frames they keep, and the calls its send queue keeps as being written (handed to the transport, not called back).
 */
function heldByHttpClient(peer: Client): { posts: number; frames: number; calls: number } {
  const internals = peer as unknown as {
    transport: { line: { first?: { next?: unknown; text: string } } };
    outgoing: { queue: { writing: { items: unknown[]; head: number } } };
  };
  let posts = 0;
  let frames = 0;
  for (let post = internals.transport.line.first; post !== undefined; post = post.next as typeof post) {
    posts++;
    if (post.text !== '') frames++;
  }
  const { items, head } = internals.outgoing.queue.writing;
  return { posts, frames, calls: items.slice(head).filter((call) => call !== undefined).length };
}

/** A server whose `hold` answers once `release` is resolved, and an HTTP client of one connection, which `hold` takes. */
async function heldConnection() {
  const release = deferred<string>();
  const entered = deferred();
  server = await serve({
    port: 0,
    methods: {
      hold: () => (entered.resolve(), release.promise),
      echo: (params: unknown) => params,
    },
  });
  const peer = (client = connect(server.httpUrl, { maxConnections: 1, timeout: 60_000 }));
  const hold = peer.request('hold', []);
  await entered.promise;
  return { peer, hold, release };
}

/** `count` calls that wait in line behind what holds the connection, each cancelled there (never sent). */
async function cancelWhileWaiting(peer: Client, count: number): Promise<void> {
  const controllers = Array.from({ length: count }, () => new AbortController());
  const waiting = controllers.map((controller) => settle(peer.request('echo', ['x'.repeat(1_000)], { signal: controller.signal })));
  for (const controller of controllers) controller.abort();
  const outcomes = await Promise.all(waiting);
  expect(outcomes.every(({ error }) => (error as Error | undefined)?.name === 'AbortError')).toBe(true);
  // Their writes end in microtasks: let them.
  await new Promise((resolve) => setImmediate(resolve));
}

describe('leaks: HTTP client', () => {
  it('keeps nothing of calls that end while waiting for a connection that long calls hold', async () => {
    const { peer, hold, release } = await heldConnection();
    await cancelWhileWaiting(peer, 200);

    // Nothing of them is kept until the connection is free (it was: every frame, and every call, for as long as `hold` ran).
    expect(heldByHttpClient(peer)).toEqual({ posts: 0, frames: 0, calls: 0 });

    // The line still works in order: the long call is answered, and the next call goes out.
    release.resolve('done');
    expect(await hold).toBe('done');
    expect(await peer.request('echo', ['after'])).toEqual(['after']);
  });

  it('keeps neither the frames nor the calls of those that end behind a call still waiting to be sent', async () => {
    const { peer, hold, release } = await heldConnection();
    const first = peer.request('echo', ['first']);
    await cancelWhileWaiting(peer, 200);

    // Only the call still waiting keeps its frame and its place among the writes (each cancelled one was kept whole).
    const held = heldByHttpClient(peer);
    expect({ frames: held.frames, calls: held.calls }).toEqual({ frames: 1, calls: 1 });

    // It is sent once the connection is free, and answered; the writes after it end in order.
    release.resolve('done');
    expect(await hold).toBe('done');
    expect(await first).toEqual(['first']);
    expect(await peer.request('echo', ['after'])).toEqual(['after']);
    expect(heldByHttpClient(peer)).toEqual({ posts: 0, frames: 0, calls: 0 });
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

describe("leaks: the send queue's writes", () => {
  it('lets go of an item by the position push gave it, before and after the array is compacted', () => {
    const fifo = new Fifo<string>();
    const positions = Array.from({ length: 3_000 }, (_, i) => fifo.push(`item ${i}`));
    fifo.clear(positions[1]!);
    expect([fifo.shift(), fifo.shift(), fifo.size]).toEqual(['item 0', undefined, 2_998]);
    // Past 1,024 shifted (most of the array), the consumed prefix is dropped: positions still name the same items.
    for (let i = 2; i < 2_000; i++) fifo.shift();
    fifo.clear(positions[2_500]!);
    fifo.clear(positions[5]!); // shifted already: nothing
    fifo.clear(positions[2_999]! + 1); // never pushed: nothing
    const rest = [];
    while (fifo.size > 0) rest.push(fifo.shift());
    expect(rest.length).toBe(1_000);
    expect(rest.filter((item) => item === undefined).length).toBe(1);
    expect(rest[500]).toBeUndefined();
    expect([rest[0], rest[499], rest[501], rest[999]]).toEqual(['item 2000', 'item 2499', 'item 2501', 'item 2999']);
  });
});
