/**
 * The browser build of the client in headless Chromium under network failures, against a real callstate server in
 * Node: the page's back/forward cache, a network that goes away (playwright's offline mode), a silent path (a TCP proxy
 * that stops forwarding without closing, as a NAT entry that expired), a page whose timers stopped, and a server that
 * restarts during a `retry` call. Orders and outcomes are asserted, never durations: heartbeats run on small intervals
 * or a clock the test moves.
 */
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { serve, type Server } from '../../src/index.js';
import { browserPages, SCRIPT, SLOW, WAIT } from '../browser-page.js';
import { closeTrackedAfterEach } from '../helpers.js';

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

/** A server whose `wait` never answers (`calls` lists the keys it was called with, in order), and `echo`. */
async function waitingServer(port = 0): Promise<{ server: Server; calls: string[]; called(count: number): Promise<void> }> {
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
          return new Promise(() => {});
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
});
