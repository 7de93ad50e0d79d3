/**
 * The browser build of the client when the page's network goes and comes back (playwright's offline mode, which fires
 * the page's `offline` and `online` events and passes nothing on its sockets, loopback ones included), against a real
 * callstate server in Node. A host name that Chromium maps to 127.0.0.1 stands for a server across a network; a
 * loopback host needs none, and is kept. Orders and outcomes are asserted, never durations: the client has no
 * heartbeat, and a backoff longer than any test, so that only the page's events can drop the socket or end the wait.
 */
import { describe, expect, it } from 'vitest';
import { serve, type Server } from '../../src/index.js';
import { browserPages, SLOW, WAIT } from '../browser-page.js';
import { closeTrackedAfterEach, until } from '../helpers.js';

/** Resolved by Chromium to 127.0.0.1: not a loopback name, as a server across a network is not. */
const REMOTE_HOST = 'callstate-remote.test';
const browser = browserPages({ args: [`--host-resolver-rules=MAP ${REMOTE_HOST} 127.0.0.1`] });
const track = closeTrackedAfterEach();

/** A server whose `wait` answers only once `release` is called (with its key); `calls` lists the keys, in order. */
async function waitingServer(): Promise<{ server: Server; calls: string[]; release(): void }> {
  const calls: string[] = [];
  const held: Array<() => void> = [];
  const server = track(
    await serve({
      port: 0,
      host: '127.0.0.1',
      methods: {
        wait: ({ key }: { key: string }) => {
          calls.push(key);
          return new Promise((resolve) => held.push(() => resolve(key)));
        },
      },
    }),
  );
  return { server, calls, release: () => held.splice(0).forEach((answer) => answer()) };
}

describe('the browser build and the page going offline', SLOW, () => {
  it('drops the connection as the page goes offline, failing its calls then and saying why; reconnects as soon as it is back online, sending again only the retry call', async () => {
    const { server, calls, release } = await waitingServer();
    const page = await browser.openPage();
    track({ close: () => page.context().setOffline(false) }); // the next test's page shares the context
    await page.evaluate(
      (url) => {
        const w = globalThis as any;
        const log: unknown[] = (w.log = []);
        // A backoff no test waits out: only the page's `online` event can end it.
        w.client = w.callstate.connect(url, { timeout: 600_000, reconnect: { initialDelay: 600_000, maxDelay: 600_000, jitter: 0 } });
        w.client.on('open', () => log.push(`open ${w.client.epoch}`));
        w.client.on('reconnecting', ({ error }: { error?: Error }) => log.push(`reconnecting: ${error?.message}`));
        w.settle(w.client.request('wait', { key: 'plain' })).then((settled: any) => log.push({ plain: settled.error?.message }));
        w.retried = w.settle(w.client.request('wait', { key: 'retried' }, { retry: true }));
        w.retried.then((settled: any) => log.push({ retried: settled.value }));
      },
      server.url.replace('127.0.0.1', REMOTE_HOST),
    );
    await until(() => calls.length === 2, 'both calls running');
    await page.context().setOffline(true);
    await page.waitForFunction(() => (globalThis as any).log.some((entry: unknown) => typeof entry === 'object'), undefined, WAIT);
    await page.context().setOffline(false);
    await page.waitForFunction(() => (globalThis as any).log.at(-1) === 'open 2', undefined, WAIT);
    await until(() => calls.length === 3, 'the retry call sent again');
    release();
    await page.evaluate(() => (globalThis as any).retried);
    const log: unknown[] = await page.evaluate(() => (globalThis as any).log);
    const offline = "the browser went offline (the page's offline event): nothing passes on the socket until the network is back";
    expect(log).toEqual([
      'open 1',
      `reconnecting: ${offline}`,
      {
        plain: expect.stringMatching(
          new RegExp(
            `was lost after the call was written \\(code 1006\\): ${escape(offline)}; it is reconnecting, and a call is re-sent only with`,
          ),
        ),
      },
      'open 2',
      { retried: 'retried' },
    ]);
    expect(calls).toEqual(['plain', 'retried', 'retried']);
  });

  // 127.1 and 0x7f.0.0.1 are 127.0.0.1 written otherwise (WHATWG URL's IPv4 parsing): loopback as the browser reads them.
  for (const host of ['127.0.0.1', '127.1', '0x7f.0.0.1']) {
    it(`keeps a connection to a loopback host (it needs no network) while the page is offline: ws://${host}`, async () => {
      const { server, calls, release } = await waitingServer();
      const page = await browser.openPage();
      track({ close: () => page.context().setOffline(false) }); // the next test's page shares the context
      await page.evaluate(
        (url) => {
          const w = globalThis as any;
          w.client = w.callstate.connect(url, { timeout: 600_000, reconnect: { initialDelay: 600_000, maxDelay: 600_000, jitter: 0 } });
          w.call = w.settle(w.client.request('wait', { key: 'a' }));
          w.offline = new Promise((resolve) => w.addEventListener('offline', resolve, { once: true }));
          w.online = new Promise((resolve) => w.addEventListener('online', resolve, { once: true }));
        },
        server.url.replace('127.0.0.1', host),
      );
      await until(() => calls.length === 1, 'the call running');
      await page.context().setOffline(true);
      await page.evaluate(() => (globalThis as any).offline);
      const whileOffline = await page.evaluate(() => ({
        state: (globalThis as any).client.state,
        epoch: (globalThis as any).client.epoch,
      }));
      await page.context().setOffline(false);
      await page.evaluate(() => (globalThis as any).online);
      release();
      const after = await page.evaluate(async () => {
        const w = globalThis as any;
        return { call: await w.call, state: w.client.state, epoch: w.client.epoch };
      });
      expect(whileOffline).toEqual({ state: 'open', epoch: 1 });
      expect(after).toEqual({ call: { value: 'a' }, state: 'open', epoch: 1 });
    });
  }
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
