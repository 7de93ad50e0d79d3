/**
 * Review of session 22's changes: what the review found and fixed.
 *
 * The browser build keeps a connection to a loopback host while the page is offline (it needs no network). Which host
 * is loopback is read as the browser reads the URL: `ws://127.1:port` is 127.0.0.1 written short (WHATWG URL's IPv4
 * parsing), and Chromium connects there. Playwright's offline mode fires the page's `offline` and `online` events;
 * outcomes and orders are asserted, never durations.
 */
import { describe, expect, it } from 'vitest';
import { serve, type Server } from '../../src/index.js';
import { browserPages, SLOW } from '../browser-page.js';
import { closeTrackedAfterEach, until } from '../helpers.js';

const browser = browserPages();
const track = closeTrackedAfterEach();

/** A server whose `wait` answers only once `release` is called; `calls` lists the keys it was called with. */
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

describe('the browser build offline, with a loopback host written otherwise', SLOW, () => {
  for (const host of ['127.1', '0x7f.0.0.1']) {
    it(`keeps a connection to ws://${host} (127.0.0.1) while the page is offline`, async () => {
      const { server, calls, release } = await waitingServer();
      const page = await browser.openPage();
      track({ close: () => page.context().setOffline(false) }); // the next test's page shares the context
      const url = server.url.replace('127.0.0.1', host);
      expect(url).toContain(`ws://${host}:`);
      await page.evaluate((url) => {
        const w = globalThis as any;
        w.client = w.callstate.connect(url, { timeout: 600_000, reconnect: { initialDelay: 600_000, maxDelay: 600_000, jitter: 0 } });
        w.call = w.settle(w.client.request('wait', { key: 'a' }));
        w.offline = new Promise((resolve) => w.addEventListener('offline', resolve, { once: true }));
        w.online = new Promise((resolve) => w.addEventListener('online', resolve, { once: true }));
      }, url);
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
      expect(calls).toEqual(['a']);
    });
  }
});
