/**
 * The browser build of the client when the page's network goes and comes back (playwright's offline mode, which fires
 * the page's `offline` and `online` events and passes nothing on its sockets, loopback ones included), against a real
 * callstate server in Node. A host name that Chromium maps to 127.0.0.1 stands for a server across a network; a
 * loopback host needs none, and is kept. Orders and outcomes are asserted, never durations: the client has no
 * heartbeat, and a backoff longer than any test, so that only the page's events can drop the socket or end the wait.
 * Also: a connection still opening when the page goes offline, the page's `online` during an attempt that then fails,
 * and the page listeners taken off once the client closes.
 */
import { describe, expect, it } from 'vitest';
import { serve, type Server } from '../../src/index.js';
import { browserPages, SLOW, WAIT } from '../browser-page.js';
import { closeTrackedAfterEach, until } from '../helpers.js';

/** Resolved by Chromium to 127.0.0.1: not a loopback name, as a server across a network is not. */
const REMOTE_HOST = 'callstate-remote.test';
const browser = browserPages({ args: [`--host-resolver-rules=MAP ${REMOTE_HOST} 127.0.0.1`] });
const track = closeTrackedAfterEach();

/** A new page, put back online after its test: the next test's page shares the browser context, and its network. */
async function openPage() {
  const page = await browser.openPage();
  track({ close: () => page.context().setOffline(false) });
  return page;
}

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
    const page = await openPage();
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
      const page = await openPage();
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

describe('the browser build offline during the opening handshake', SLOW, () => {
  it('fails the attempt at once, saying the browser went offline, and ends the wait when the page is back online', async () => {
    let upgrades = 0;
    let admit: (() => void) | undefined;
    // The first upgrade waits in authenticate until the test lets it go: the socket is CONNECTING meanwhile.
    const server = track(
      await serve({
        port: 0,
        host: '127.0.0.1',
        upgradeTimeout: 600_000,
        authenticate: () => (++upgrades === 1 ? new Promise<boolean>((resolve) => (admit = () => resolve(true))) : true),
        methods: { echo: (params: unknown) => params },
      }),
    );
    const page = await openPage();
    await page.evaluate(
      (url) => {
        const w = globalThis as any;
        const log: unknown[] = (w.log = []);
        w.client = w.callstate.connect(url, {
          handshakeTimeout: 600_000,
          reconnect: { initialDelay: 600_000, maxDelay: 600_000, jitter: 0 },
        });
        w.client.on('open', () => log.push(`open ${w.client.epoch}`));
        w.client.on('reconnecting', ({ attempt, error }: { attempt: number; error?: Error }) =>
          log.push(`reconnecting ${attempt}: ${error?.message}`),
        );
      },
      server.url.replace('127.0.0.1', REMOTE_HOST),
    );
    await until(() => admit !== undefined, 'the upgrade held in authenticate');
    await page.context().setOffline(true);
    await page.waitForFunction(() => (globalThis as any).log.length === 1, undefined, { timeout: 30_000 });
    await page.context().setOffline(false);
    await page.waitForFunction(() => (globalThis as any).log.length === 2, undefined, { timeout: 30_000 });
    admit!();
    const log: unknown[] = await page.evaluate(async () => {
      const w = globalThis as any;
      return [...w.log, await w.client.request('echo', ['back'])];
    });
    expect(log).toEqual([
      "reconnecting 1: the browser went offline (the page's offline event): nothing passes on the socket until the network is back",
      'open 1', // the first transport to open: the attempt that went offline never did
      ['back'],
    ]);
    expect(upgrades).toBe(2);
  });
});

describe('the browser build when the network comes back during a reconnect attempt', SLOW, () => {
  it('starts the next attempt at once if that attempt fails, not after the backoff', async () => {
    let upgrades = 0;
    let refuse: (() => void) | undefined;
    // The first upgrade waits in authenticate (the socket is CONNECTING) until the test refuses it; the next is let in.
    const server = track(
      await serve({
        port: 0,
        host: '127.0.0.1',
        upgradeTimeout: 600_000,
        authenticate: () => (++upgrades === 1 ? new Promise<boolean>((resolve) => (refuse = () => resolve(false))) : true),
        methods: { echo: (params: unknown) => params },
      }),
    );
    const page = await openPage();
    await page.evaluate((url) => {
      const w = globalThis as any;
      const log: unknown[] = (w.log = []);
      w.client = w.callstate.connect(url, {
        handshakeTimeout: 600_000,
        reconnect: { initialDelay: 600_000, maxDelay: 600_000, jitter: 0 },
      });
      w.client.on('open', () => log.push('open'));
      w.client.on('reconnecting', ({ attempt, delay }: { attempt: number; delay: number }) =>
        log.push(`reconnecting ${attempt} in ${delay}`),
      );
    }, server.url);
    await until(() => refuse !== undefined, 'the upgrade held in authenticate');
    // The page's online event (the network came back) while the attempt is still opening: no wait to end yet.
    await page.evaluate(() => (globalThis as any).dispatchEvent(new Event('online')));
    refuse!();
    await until(() => upgrades === 2, 'the next attempt, without the 600 s backoff');
    const log: unknown[] = await page.evaluate(async () => {
      const w = globalThis as any;
      await w.client.ready;
      return [...w.log, await w.client.request('echo', ['back'])];
    });
    expect(log).toEqual(['reconnecting 1 in 0', 'open', ['back']]); // the event says the attempt comes at once
  });
});

describe("the browser build's page listeners", SLOW, () => {
  it('are all taken off once the client has closed: close(), terminate(), or reconnect giving up', async () => {
    const server = track(await serve({ port: 0, host: '127.0.0.1', methods: {} }));
    const page = await openPage();
    const left = await page.evaluate(
      async (url) => {
        const w = globalThis as any;
        // Counts the page's listeners of the events the client watches, as they are added and taken off.
        const counts: Record<string, number> = { online: 0, offline: 0, pagehide: 0 };
        const add = w.addEventListener.bind(w);
        const remove = w.removeEventListener.bind(w);
        w.addEventListener = (type: string, listener: unknown, options?: unknown) => {
          if (type in counts) counts[type]!++;
          add(type, listener, options);
        };
        w.removeEventListener = (type: string, listener: unknown, options?: unknown) => {
          if (type in counts) counts[type]!--;
          remove(type, listener, options);
        };
        const reconnect = { initialDelay: 10, maxDelay: 10, jitter: 0, maxAttempts: 1 };
        const whileOpen: unknown[] = [];
        const closed = w.callstate.connect(url, { reconnect });
        await closed.ready;
        whileOpen.push({ ...counts });
        await closed.close();
        const afterClose = { ...counts };
        const terminated = w.callstate.connect(url, { reconnect });
        await terminated.ready;
        await terminated.terminate();
        const afterTerminate = { ...counts };
        // Port 1 (refused by Chromium as unsafe; nothing listens there): the attempt fails, its one reconnect too, and it gives up.
        const givesUp = w.callstate.connect('ws://127.0.0.1:1/', { reconnect });
        await new Promise((resolve) => givesUp.once('close', resolve));
        return { whileOpen, afterClose, afterTerminate, afterGivingUp: { ...counts } };
      },
      server.url.replace('127.0.0.1', REMOTE_HOST),
    );
    const none = { online: 0, offline: 0, pagehide: 0 };
    expect(left).toEqual({
      whileOpen: [{ online: 1, offline: 1, pagehide: 1 }],
      afterClose: none,
      afterTerminate: none,
      afterGivingUp: none,
    });
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
