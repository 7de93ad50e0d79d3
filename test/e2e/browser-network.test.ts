/**
 * The browser build of the client in headless Chromium under network failures, against a real callstate server in
 * Node: the page's back/forward cache, a network that goes away (playwright's offline mode), a silent path (a TCP proxy
 * that stops forwarding without closing, as a NAT entry that expired), a page whose timers stopped, and a server that
 * restarts during a `retry` call. Orders and outcomes are asserted, never durations: heartbeats run on small intervals
 * or a clock the test moves.
 */
import { describe, expect, it } from 'vitest';
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

/** A server whose `wait` never answers; `calls` lists the keys it was called with, in order. */
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
    await called(3);
    const log = await page.evaluate(() => (globalThis as any).log);
    expect(log).toEqual([
      'open',
      'pagehide persisted=true',
      'reconnecting 1001',
      {
        plain: `the connection to ${server.url} was lost after the call was written (code 1001): the page entered the back/forward cache (pagehide): the browser keeps no connection of a cached page; it is reconnecting, and a call is re-sent only with { retry: true }`,
      },
      'pageshow persisted=true',
      'open',
    ]);
    expect(calls).toEqual(['plain', 'retried', 'retried']);
  });
});
