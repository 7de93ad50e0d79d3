/**
 * Headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) with pages that load the browser build of
 * the client: bundled here with esbuild (examples/browser/serve.ts) and served from node:http on port 0. The page
 * keeps the module on `window.callstate`, `window.settle(promise)` turns a settled call into plain data, and
 * `window.simulatedClock()` makes a clock the test moves.
 * `browserPages()` registers the hooks that start and stop all this around a test file's tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { bundleBrowserClient, servePage } from '../examples/browser/serve.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-sync',
];
/** Bound on each wait for the page (a failure, not a measured time). */
export const WAIT = { timeout: 30_000 };
/**
 * Chromium, a bundle and (for the example) a child process share two cores with the rest of the suite: each test
 * and hook may take longer than the 20 s default (the example's test ran out once with the suite loaded).
 */
export const SLOW = { timeout: 90_000 };

/** The page's script: loads the bundle, keeps it on window, with a helper that turns a settled call into plain data and a simulated clock. */
export const SCRIPT = `<script type="module">
import * as callstate from './callstate.js';
window.callstate = callstate;
window.settle = async (promise) => {
  try { return { value: await promise }; }
  catch (e) { return { error: { name: e.name, code: e.code, message: e.message, isCallstate: e instanceof callstate.CallstateError } }; }
};
// A clock the test moves (the client's \`clock\` option): advance(ms) moves the time at once, and the timers due by then
// fire in the order they were due, all late, as in a page whose timers stopped (frozen) and run again.
window.simulatedClock = () => {
  const timers = new Set();
  const clock = {
    time: 0,
    now: () => clock.time,
    setTimeout: (callback, ms) => {
      const timer = { at: clock.time + ms, callback };
      timers.add(timer);
      return timer;
    },
    clearTimeout: (timer) => timers.delete(timer),
    advance: (ms) => {
      clock.time += ms;
      for (const timer of [...timers].sort((a, b) => a.at - b.at))
        if (timer.at <= clock.time && timers.delete(timer)) timer.callback();
    },
  };
  return clock;
};
window.loaded = true;
</script>`;
export const PAGE = `<!doctype html>${SCRIPT}`;

export interface BrowserPages {
  /** The bundle the pages load, and the files it was made of. */
  readonly bundle: { code: string; inputs: string[] };
  /** The URL of the page server's root. */
  readonly url: string;
  /** Uncaught errors of the pages of the current test (each test fails if any is left after it). */
  readonly pageErrors: string[];
  /** A new tab, closed after the test, whose uncaught errors fail the test. */
  newPage(): Promise<Page>;
  /** A new tab at `path` of the page server, once its script has loaded the bundle. */
  openPage(path?: string): Promise<Page>;
  /** Closes the pages of the current test now (they are closed after it anyway). */
  closePages(): Promise<void>;
}

export interface BrowserPagesOptions {
  /** More files for the page server: path → [content type, body, Cache-Control ('no-store' unless given)]. */
  files?: Record<string, [string, string, string?]>;
  /** Playwright's default switches to leave out (it disables the back/forward cache, for one). */
  ignoreDefaultArgs?: string[];
  /** More Chromium switches. */
  args?: string[];
}

/**
 * Registers the hooks of a test file that drives pages: the bundle, a page server with `/` (PAGE), `/callstate.js`
 * and `files`, one Chromium for the file, and after each test its pages closed and their errors checked.
 */
export function browserPages({ files = {}, ignoreDefaultArgs, args = [] }: BrowserPagesOptions = {}): BrowserPages {
  let bundle: { code: string; inputs: string[] } | undefined;
  let pageServer: { url: string; http: HttpServer } | undefined;
  let context: BrowserContext | undefined;
  let userDataDir: string | undefined;
  const pageErrors: string[] = [];
  const pages: Page[] = [];

  beforeAll(async () => {
    bundle = await bundleBrowserClient();
    pageServer = await servePage({ '/': ['text/html', PAGE], ...files, '/callstate.js': ['text/javascript', bundle.code] });
    userDataDir = await mkdtemp(join(tmpdir(), 'callstate-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: [...CHROMIUM_ARGS, ...args],
      ignoreDefaultArgs,
    });
  }, SLOW.timeout);

  afterAll(async () => {
    await context?.close();
    await new Promise((resolve) => pageServer?.http.close(resolve));
    if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  }, SLOW.timeout);

  const closePages = async () => {
    // A page left open keeps its client running (reconnecting, for some) beside the next tests.
    await Promise.all(pages.splice(0).map((page) => page.close()));
  };

  afterEach(async () => {
    await closePages();
    const errors = pageErrors.splice(0);
    expect(errors).toEqual([]);
  });

  const newPage = async () => {
    const page = await context!.newPage();
    pages.push(page);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    return page;
  };

  return {
    get bundle() {
      return bundle!;
    },
    get url() {
      return pageServer!.url;
    },
    pageErrors,
    newPage,
    async openPage(path = '') {
      const page = await newPage();
      await page.goto(pageServer!.url + path, WAIT);
      await page.waitForFunction(() => (globalThis as { loaded?: boolean }).loaded === true, undefined, WAIT);
      return page;
    },
    closePages,
  };
}
