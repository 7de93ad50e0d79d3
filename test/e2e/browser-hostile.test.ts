/**
 * Adversarial cases of the browser build in headless Chromium (the harness of browser.test.ts: Debian's
 * /usr/bin/chromium through playwright-core, the browser build bundled with esbuild and served from node:http,
 * a real callstate server in Node): what a real browser's WebSocket does that a fake one may not.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bundleBrowserClient, servePage } from '../../examples/browser/serve.js';
import { serve, type Server } from '../../src/index.js';
import { deferred } from '../helpers.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-sync',
];
/** Bound on each wait for the page (a failure, not a measured time). */
const WAIT = { timeout: 30_000 };
/** Chromium and a bundle share two cores with the rest of the suite (see browser.test.ts). */
const SLOW = { timeout: 90_000 };

/** The page's script: loads the bundle, keeps it on window, and a helper that turns a settled promise into plain data. */
const SCRIPT = `<script type="module">
import * as callstate from './callstate.js';
window.callstate = callstate;
window.settle = async (promise) => {
  try { return { value: await promise }; }
  catch (e) { return { error: { name: e.name, code: e.code, message: e.message } }; }
};
window.loaded = true;
</script>`;
const PAGE = `<!doctype html>${SCRIPT}`;
/** The same page under a Content-Security-Policy that lets it connect to its own origin only (not to the server's port). */
const CSP_PAGE = `<!doctype html><meta http-equiv="Content-Security-Policy" content="connect-src 'self'">${SCRIPT}`;

let pageServer: { url: string; http: HttpServer };
let context: BrowserContext;
let userDataDir: string;
let server: Server | undefined;
let pageErrors: string[] = [];

beforeAll(async () => {
  const { code } = await bundleBrowserClient();
  pageServer = await servePage({
    '/': ['text/html', PAGE],
    '/csp': ['text/html', CSP_PAGE],
    '/callstate.js': ['text/javascript', code],
  });
  userDataDir = await mkdtemp(join(tmpdir(), 'callstate-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
}, SLOW.timeout);

afterAll(async () => {
  await context?.close();
  await new Promise((resolve) => pageServer?.http.close(resolve));
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
}, SLOW.timeout);

afterEach(async () => {
  await server?.close();
  server = undefined;
  expect(pageErrors).toEqual([]);
  pageErrors = [];
});

async function openPage(path = ''): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(pageServer.url + path);
  await page.waitForFunction(() => (globalThis as { loaded?: boolean }).loaded === true, undefined, WAIT);
  return page;
}

describe('the browser build in headless Chromium, under hostile conditions', SLOW, () => {
  it('closes with a standard code other than 1000 (1001 going away), which a browser WebSocket refuses to send', async () => {
    const serverSawClose = deferred<{ code: number | undefined; reason: string }>();
    server = await serve({ port: 0, host: '127.0.0.1', methods: { echo: (params: unknown) => params } });
    server.on('connection', (peer) => peer.on('close', ({ code, reason }) => serverSawClose.resolve({ code, reason })));
    const page = await openPage();
    const result = await page.evaluate(async (url) => {
      const w = globalThis as any;
      const client = w.callstate.connect(url);
      await client.ready;
      // Inside a then: a close() that throws synchronously is caught as a rejection.
      const closed = await w.settle(Promise.resolve().then(() => client.close(1001, 'going away')));
      return { closed, state: client.state };
    }, server.url);
    expect(result).toEqual({ closed: { value: undefined }, state: 'closed' });
    // The close handshake reached the server, with the reason (a browser can send 1000 or 3000-4999 only).
    expect(await serverSawClose.promise).toEqual({ code: 1000, reason: 'going away' });
  });
  it('gives up on a connection the page’s Content-Security-Policy blocks: Chromium fires error and no close', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { echo: (params: unknown) => params } });
    const page = await openPage('csp');
    await page.evaluate((url) => {
      const w = globalThis as any;
      const client = w.callstate.connect(url, { handshakeTimeout: 60_000, timeout: 60_000 });
      w.closes = [];
      client.on('close', ({ code }: { code: number }) => w.closes.push(code));
      w.result = (async () => ({ ready: await w.settle(client.ready), closed: await client.closed, state: client.state }))();
      w.result.then(() => (w.done = true));
    }, server.url);
    await page.waitForFunction(() => (globalThis as any).done === true, undefined, WAIT);
    const result = await page.evaluate(async () => ({ ...(await (globalThis as any).result), closes: (globalThis as any).closes }));
    expect(result).toEqual({
      ready: { error: { name: 'ConnectionClosedError', code: 'ERR_CONNECTION_CLOSED', message: expect.stringContaining('1006') } },
      closed: undefined,
      state: 'closed',
      closes: [1006],
    });
  });
});
