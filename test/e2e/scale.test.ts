import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createActor } from 'xstate';
import { connect, serve, type Client, type Clock, type Server } from '../../src/index.js';
import { closeAfterEach, heapAfterGc, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

/** Real timers, counted: how many are armed right now. */
function countingClock(): Clock & { live: () => number; armed: () => number } {
  const timers = new Set<unknown>();
  let armed = 0;
  return {
    setTimeout(fn, ms) {
      armed++;
      const handle: ReturnType<typeof setTimeout> = setTimeout(() => {
        timers.delete(handle);
        fn();
      }, ms);
      timers.add(handle);
      return handle;
    },
    clearTimeout(handle) {
      timers.delete(handle);
      clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
    live: () => timers.size,
    armed: () => armed,
  };
}

describe('many concurrent calls on one connection', () => {
  it('settles 20,000 concurrent calls correctly and leaves no call, timer or listener behind', async () => {
    const N = 20_000;
    server = await serve({ methods: { double: ([n]: [number]) => n * 2 } });
    const clock = countingClock();
    // No heartbeat: the clock counts only the calls' timers.
    client = connect(server.url, { clock, timeout: 60_000, heartbeat: 0 });
    await client.ready;
    // One signal shared by every call is a supported pattern: the connection listens to it once, not once a call.
    const controller = new AbortController();

    const calls: Array<Promise<number>> = [];
    for (let i = 0; i < N; i++) calls.push(client.request('double', [i], { signal: controller.signal }) as Promise<number>);
    expect(client.pendingCalls).toBe(N);
    expect(clock.live()).toBe(N);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);

    const results = await Promise.all(calls);
    let correct = 0;
    for (let i = 0; i < N; i++) if (results[i] === i * 2) correct++;
    expect(correct).toBe(N);

    expect(clock.armed()).toBe(N);
    expect(client.pendingCalls).toBe(0);
    expect(clock.live()).toBe(0);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    expect([...server.connections][0]!.handlingCalls).toBe(0);
    // Calls are never children of the connection actor.
    expect(Object.keys(client.actor.getSnapshot().children)).toHaveLength(0);
  }, 120_000);
});

describe('many connections', () => {
  it('runs every connection actor on one machine, each with its own actions', async () => {
    server = await serve({ methods: { echo: (params: unknown) => params } });
    const first = connect(server.url);
    client = connect(server.url);
    try {
      await Promise.all([first.ready, client.ready]);
      // One machine for all, not one provided per connection: its state nodes and definitions were most of the
      // ~30 KB an idle connection held.
      expect((first.actor as unknown as { logic: unknown }).logic).toBe((client.actor as unknown as { logic: unknown }).logic);
      await first.close();
      expect(first.actor.getSnapshot().value).toBe('closed');
      expect(client.actor.getSnapshot().value).toBe('open');
      await expect(client.request('echo', [7])).resolves.toEqual([7]);
    } finally {
      await first.close();
    }
  });

  it('says what to do when the shared machine is run outside a connection', async () => {
    server = await serve({ methods: {} });
    client = connect(server.url);
    await client.ready;
    // Its actions run the connection's own: an actor of it that no connection made has none to run.
    const errors: unknown[] = [];
    const stray = createActor(client.actor.logic, { input: { url: 'ws://127.0.0.1:9' } });
    stray.subscribe({ error: (error) => errors.push(error) });
    stray.start();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(
      /the machine of client\.actor\.logic runs only in callstate's connections: to run the connection machine, take connectionMachine from 'callstate\/machines' and provide its actions/,
    );
    expect(client.actor.getSnapshot().value).toBe('open');
  });
});

/** Opens `n` plain `ws` clients to `url` in a process of their own (so that only the server's heap is in this one). */
function idleClients(url: string, n: number) {
  const script = `
    const WebSocket = require('ws');
    let open = 0;
    for (let i = 0; i < ${n}; i++) {
      const ws = new WebSocket(${JSON.stringify(url)});
      ws.on('open', () => { if (++open === ${n}) process.stdout.write('open'); });
      ws.on('error', (error) => { console.error(error.message); process.exit(1); });
    }`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const opened = new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the clients' process exited with ${code}`)));
  });
  return { opened, stop: () => child.kill() };
}

describe('what an idle connection holds', () => {
  it("costs the server less than 20 KB of heap (33 KB before: an XState actor and its own machine each; raw ws's about 3 KB)", async () => {
    const N = 200;
    server = await serve({ methods: { echo: (params: unknown) => params } });
    const before = heapAfterGc();
    const clients = idleClients(server.url, N);
    try {
      await clients.opened;
      await until(() => server!.connections.size === N, 'every connection accepted');
      const perConnection = (heapAfterGc() - before) / N;
      expect(perConnection).toBeLessThan(20_000);
    } finally {
      clients.stop();
    }
  });
});
