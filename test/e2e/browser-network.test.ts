/**
 * The browser build of the client in headless Chromium under network failures, against a real callstate server in
 * Node: the page's back/forward cache, a network that goes away (playwright's offline mode), a silent path (a TCP proxy
 * that stops forwarding without closing, as a NAT entry that expired), a page whose timers stopped, and a server that
 * restarts during a `retry` call. Orders and outcomes are asserted, never durations: heartbeats run on small intervals
 * or a clock the test moves.
 */
import { connect as tcpConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { serve, type Server } from '../../src/index.js';
import { browserPages, SCRIPT, SLOW, WAIT } from '../browser-page.js';
import { closeTrackedAfterEach, deferred } from '../helpers.js';

/**
 * Playwright starts Chromium without its back/forward cache: these tests run with it, and serve the pages that go in it
 * without `no-store` (which keeps a page out of it).
 */
const browser = browserPages({
  files: {
    '/cached': ['text/html', `<!doctype html>${SCRIPT}`, 'max-age=0'],
    '/elsewhere': ['text/html', '<!doctype html><p>elsewhere</p>', 'max-age=0'],
  },
  ignoreDefaultArgs: ['--disable-back-forward-cache'],
});
const track = closeTrackedAfterEach();

/**
 * A server whose `wait` never answers, unless `answers` (then with its key); `calls` lists the keys it was called with, in
 * order. And `echo`.
 */
async function waitingServer(
  port = 0,
  answers = false,
): Promise<{ server: Server; calls: string[]; called(count: number): Promise<void> }> {
  const calls: string[] = [];
  const waiters: Array<() => void> = [];
  const server = track(
    await serve({
      port,
      host: '127.0.0.1',
      methods: {
        wait: ({ key }: { key: string }) => {
          calls.push(key);
          for (const wake of waiters.splice(0)) wake();
          return answers ? key : new Promise(() => {});
        },
        echo: (params: unknown) => params,
      },
    }),
  );
  const called = async (count: number) => {
    while (calls.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return { server, calls, called };
}

/**
 * A TCP proxy on 127.0.0.1 to `port` that forwards both ways until `blackhole()`, then drops what comes from either
 * side without closing anything, as a NAT entry that expired or a link gone dead: neither end is told.
 */
async function blackholeProxy(port: number): Promise<{ url: string; blackhole(): void }> {
  let holed = false;
  const sockets = new Set<Socket>();
  const proxy = createServer((page) => {
    const server = tcpConnect(port, '127.0.0.1');
    const pipe = (from: Socket, to: Socket) => {
      sockets.add(from);
      from.on('data', (data) => holed || to.write(data));
      from.on('error', () => {});
      from.on('close', () => holed || to.destroy());
    };
    pipe(page, server);
    pipe(server, page);
  });
  track({
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise<void>((resolve) => proxy.close(() => resolve()));
    },
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return { url: `ws://127.0.0.1:${(proxy.address() as AddressInfo).port}`, blackhole: () => (holed = true) };
}

describe('the browser build under network failures', SLOW, () => {
  it('drops its connection as the page enters the back/forward cache, failing its calls then and saying why; reconnects once the page is back', async () => {
    const { server, calls, called } = await waitingServer();
    const page = await browser.openPage('cached');
    await page.evaluate((url) => {
      const w = globalThis as any;
      const log: unknown[] = (w.log = []);
      for (const type of ['pagehide', 'pageshow'])
        w.addEventListener(type, (event: { persisted: boolean }) => log.push(`${type} persisted=${event.persisted}`));
      w.client = w.callstate.connect(url, { timeout: 60_000, reconnect: { initialDelay: 10, maxDelay: 10, jitter: 0 } });
      w.client.on('open', () => log.push('open'));
      w.client.on('reconnecting', ({ code }: { code: number }) => log.push(`reconnecting ${code}`));
      const track = (name: string, promise: Promise<unknown>) =>
        w.settle(promise).then((settled: any) => log.push({ [name]: settled.error?.message ?? settled.value }));
      track('plain', w.client.request('wait', { key: 'plain' }));
      track('retried', w.client.request('wait', { key: 'retried' }, { retry: true }));
    }, server.url);
    await called(2);

    await page.goto(browser.url + 'elsewhere', WAIT);
    await page.goBack({ ...WAIT, waitUntil: 'commit' }); // a page restored from the cache fires no load event
    // Back: the page shows again, and then the client opens a new connection.
    await page.waitForFunction(
      () => {
        const log: unknown[] = (globalThis as any).log;
        return log.slice(log.indexOf('pageshow persisted=true')).includes('open');
      },
      undefined,
      WAIT,
    );
    await called(3);
    const log: unknown[] = await page.evaluate(() => (globalThis as any).log);
    // All in the pagehide's task, before the page is frozen.
    expect(log.slice(0, 4)).toEqual([
      'open',
      'pagehide persisted=true',
      'reconnecting 1001',
      {
        plain: `the connection to ${server.url} was lost after the call was written (code 1001): the page entered the back/forward cache (pagehide): the browser keeps no connection of a cached page; it is reconnecting, and a call is re-sent only with { retry: true }`,
      },
    ]);
    // The reconnect's timer runs once the page is back (or, in the moment between its pagehide and its freeze, may
    // have made an attempt that the cache ended); the retry call is sent again, the plain one not.
    expect(log.slice(4)).toEqual(expect.arrayContaining(['pageshow persisted=true', 'open']));
    expect(log.filter((entry) => typeof entry === 'object')).toHaveLength(1);
    expect(calls.slice(0, 3)).toEqual(['plain', 'retried', 'retried']);
    expect(calls.filter((key) => key === 'plain')).toHaveLength(1);
  });

  it('after its timers stood still (a frozen page), times out the calls past their deadline and keeps a server whose heartbeat answer waits unread', async () => {
    // Headless Chromium does not freeze a page (Page.setWebLifecycleState is taken, and nothing stops): the page's
    // clock stands for its timers, moved at once past a tick and a deadline before the page reads anything more, as
    // timers may run first in a page (or a process) that is resumed.
    const { server, called } = await waitingServer();
    const page = await browser.openPage();
    await page.evaluate(async (url) => {
      const w = globalThis as any;
      w.clock = w.simulatedClock();
      w.client = w.callstate.connect(url, { clock: w.clock, heartbeat: 1_000, timeout: 60_000 });
      await w.client.ready;
      w.call = w.settle(w.client.request('wait', { key: 'a' }, { timeout: 1_500 }));
    }, server.url);
    await called(1);
    const frozen = await page.evaluate(async () => {
      const w = globalThis as any;
      w.clock.advance(500); // the first heartbeat: its answer comes in a later task
      w.clock.advance(10_000); // ten intervals frozen: the next tick and the call's deadline come late, before that answer is read
      return { state: w.client.state, call: await w.call };
    });
    expect(frozen).toEqual({
      state: 'open',
      call: { error: expect.objectContaining({ name: 'TimeoutError', message: expect.stringContaining('within 1500 ms') }) },
    });
    // The page runs again: a call's round trip reads the heartbeat's answer before it (a server answers in order).
    const after = await page.evaluate(async () => {
      const w = globalThis as any;
      const states: string[] = [];
      for (let tick = 0; tick < 4; tick++) {
        await w.client.request('echo', [tick]);
        w.clock.advance(500);
        states.push(w.client.state);
      }
      return states;
    });
    expect(after).toEqual(['open', 'open', 'open', 'open']);
  });

  it('still drops a silent server when its ticks keep coming late: a late tick judges nothing, the next judges, late or not', async () => {
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    track({
      close: () => new Promise<void>((resolve) => (silent.clients.forEach((socket) => socket.terminate()), silent.close(() => resolve()))),
    });
    await new Promise((resolve) => silent.once('listening', resolve));
    const page = await browser.openPage();
    const states = await page.evaluate(
      async (url) => {
        const w = globalThis as any;
        const clock = w.simulatedClock();
        const client = w.callstate.connect(url, { clock, heartbeat: 1_000, timeout: 60_000 });
        await client.ready;
        const states: string[] = [];
        for (const ms of [500, 10_000, 10_000]) {
          clock.advance(ms);
          await new Promise((resolve) => setTimeout(resolve, 0)); // the page's next task: a drop has been reported
          states.push(client.state);
        }
        return states;
      },
      `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`,
    );
    expect(states).toEqual(['open', 'open', 'closed']);
  });

  it('with the network gone (offline), drops the connection at its heartbeat, fails its calls once, and reconnects once back, sending again only the retry call', async () => {
    const { server, calls, called } = await waitingServer();
    const page = await browser.openPage();
    await page.evaluate((url) => {
      const w = globalThis as any;
      const log: unknown[] = (w.log = []);
      w.client = w.callstate.connect(url, { heartbeat: 2_000, timeout: 60_000, reconnect: { initialDelay: 10, maxDelay: 50, jitter: 0 } });
      w.client.on('open', () => log.push('open'));
      w.client.on('reconnecting', ({ error }: { error?: Error }) =>
        log.push(/answered no heartbeat/.test(error?.message ?? '') ? 'dropped: no heartbeat' : 'attempt failed'),
      );
      w.settle(w.client.request('wait', { key: 'plain' })).then((settled: any) => log.push({ plain: settled.error?.message }));
      w.settle(w.client.request('wait', { key: 'retried' }, { retry: true })).then((settled: any) => log.push({ retried: settled }));
    }, server.url);
    await called(2);
    await page.context().setOffline(true);
    // Offline: the open socket passes nothing (Chromium does not close it), and new ones cannot open.
    await page.waitForFunction(() => (globalThis as any).log.includes('attempt failed'), undefined, WAIT);
    await page.context().setOffline(false);
    await page.waitForFunction(() => (globalThis as any).log.at(-1) === 'open', undefined, WAIT);
    await called(3);
    const log: unknown[] = await page.evaluate(() => (globalThis as any).log);
    expect(log.slice(0, 3)).toEqual([
      'open',
      'dropped: no heartbeat',
      { plain: expect.stringMatching(/was dropped: the peer answered no heartbeat for 2000 ms/) },
    ]);
    expect([...new Set(log.slice(3, -1))]).toEqual(['attempt failed']);
    expect(calls).toEqual(['plain', 'retried', 'retried']);
  });

  it('drops a server behind a path gone silent (a proxy that stops forwarding, closing nothing) at its heartbeat, failing its calls', async () => {
    const { server, called } = await waitingServer();
    const proxy = await blackholeProxy(server.port);
    const page = await browser.openPage();
    await page.evaluate((url) => {
      const w = globalThis as any;
      w.client = w.callstate.connect(url, { heartbeat: 200, timeout: 60_000 });
      w.call = w.settle(w.client.request('wait', { key: 'a' }));
    }, proxy.url);
    await called(1);
    proxy.blackhole();
    const result = await page.evaluate(async () => {
      const w = globalThis as any;
      const call = await w.call;
      await w.client.closed;
      return { call: call.error?.message, state: w.client.state };
    });
    expect(result).toEqual({ call: expect.stringContaining('was dropped: the peer answered no heartbeat for 200 ms'), state: 'closed' });
  });

  it("without its own heartbeat, a page learns nothing of a silent path from the server's pings (a browser answers them unseen): its calls time out, the connection stays open", async () => {
    const started = deferred<void>();
    const aborted = deferred<void>();
    const server = track(
      await serve({
        port: 0,
        host: '127.0.0.1',
        heartbeat: 200,
        methods: {
          wait: (_: unknown, ctx) =>
            new Promise(() => {
              ctx.signal.addEventListener('abort', () => aborted.resolve());
              started.resolve();
            }),
        },
      }),
    );
    const proxy = await blackholeProxy(server.port);
    const page = await browser.openPage();
    await page.evaluate(async (url) => {
      const w = globalThis as any;
      w.client = w.callstate.connect(url, { heartbeat: 0, timeout: 60_000 });
      await w.client.ready;
      w.call = w.settle(w.client.request('wait', { key: 'a' }, { timeout: 1_000 }));
    }, proxy.url);
    // Silenced only once the call is in the handler: silenced before its frame passed, nothing would ever abort.
    await started.promise;
    proxy.blackhole();
    await aborted.promise; // the server's heartbeat dropped its end: its handler's signal aborted
    const result = await page.evaluate(async () => {
      const w = globalThis as any;
      return { state: w.client.state, call: (await w.call).error?.name, after: w.client.state };
    });
    expect(result).toEqual({ state: 'open', call: 'TimeoutError', after: 'open' });
  });

  it('sends a retry call again after each restart of the server on its port, at most `retry` times, then fails it saying so', async () => {
    const first = await waitingServer();
    const port = first.server.port;
    const page = await browser.openPage();
    await page.evaluate((url) => {
      const w = globalThis as any;
      w.client = w.callstate.connect(url, { timeout: 60_000, reconnect: { initialDelay: 10, maxDelay: 50, jitter: 0 } });
      const outcome = (promise: Promise<unknown>) => w.settle(promise).then((settled: any) => settled.error?.message ?? settled.value);
      w.calls = Promise.all([
        outcome(w.client.request('wait', { key: 'plain' })),
        outcome(w.client.request('wait', { key: 'once' }, { retry: 1 })),
        outcome(w.client.request('wait', { key: 'twice' }, { retry: true })),
      ]);
    }, first.server.url);
    await first.called(3);
    await first.server.close();
    const second = await waitingServer(port);
    await second.called(2);
    await second.server.close();
    const third = await waitingServer(port, true);
    const [plain, once, twice] = await page.evaluate(() => (globalThis as any).calls);
    expect([first.calls, second.calls, third.calls]).toEqual([['plain', 'once', 'twice'], ['once', 'twice'], ['twice']]);
    expect(plain).toMatch(/lost after the call was written .*a call is re-sent only with \{ retry: true \}$/);
    expect(once).toMatch(
      /; this retry call was written 2 times, each time on a connection then lost, and is not sent again \(retry: at most 1 re-send\)$/,
    );
    expect(twice).toBe('twice');
  });
});
