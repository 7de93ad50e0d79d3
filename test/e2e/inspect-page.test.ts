/**
 * The live inspection page in headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core). The test drives every call itself through
 * methods that wait on its own gates, so what the page must show follows from
 * what the test did, not from timing. Leaves a screenshot in test-artifacts/.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { RpcError, type HandlerContext } from '../../src/index.js';
import { startInspectPage, type InspectPage } from '../../src/tools/inspect/server.js';
import { deferred, settle, type Deferred } from '../helpers.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** Bound on each wait for the page to show something (a failure, not a measured time). */
const WAIT = { timeout: 30_000 };
/** Chromium shares two cores with the rest of the suite: a test may take longer than the 20 s default. */
const SLOW = { timeout: 90_000 };

let inspectPage: InspectPage | undefined;
let context: BrowserContext | undefined;
let userDataDir: string | undefined;
/** Errors thrown by the page's own script: there must be none. */
let pageErrors: string[] = [];

afterEach(async () => {
  await context?.close();
  await inspectPage?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  context = inspectPage = userDataDir = undefined;
  expect(pageErrors).toEqual([]);
  pageErrors = [];
});

/** Handlers that wait until the test opens their gate (or their call is cancelled). */
function gates() {
  const open = new Map<string, Deferred<unknown>>();
  const gate = (key: string) => {
    if (!open.has(key)) open.set(key, deferred<unknown>());
    return open.get(key)!;
  };
  const handler = ({ key }: { key: string }, ctx: HandlerContext) => {
    ctx.signal.addEventListener('abort', () => gate(key).reject(new Error('cancelled')));
    return gate(key).promise;
  };
  return { handler, gate };
}

async function openBrowser(url: string): Promise<Page> {
  userDataDir = await mkdtemp(join(tmpdir(), 'callstate-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(url);
  return page;
}

const laneCount = (page: Page, lane: string) => page.locator(`[data-lane="${lane}"] .call`).count();
const text = async (page: Page, selector: string) => (await page.locator(selector).textContent())?.trim();
/** Waits until the element at `selector` shows exactly `expected`. */
const shows = (page: Page, selector: string, expected: string) => page.waitForSelector(`${selector}:text-is("${expected}")`, WAIT);
/** Waits until a lane's count shows `n`, then checks that it holds `n` cards. */
const lanesHold = async (page: Page, lane: string, n: number) => {
  await shows(page, `[data-lane="${lane}"] .n`, String(n));
  expect(await laneCount(page, lane)).toBe(n);
};

describe('the inspection page (headless Chromium)', SLOW, () => {
  it('shows calls appear in a lane, move through their states and finish in the counts, with both connection states', async () => {
    const { handler, gate } = gates();
    inspectPage = await startInspectPage({ traffic: false, methods: { gate: handler } });
    const page = await openBrowser(inspectPage.url);
    const client = inspectPage.client;

    await shows(page, '#conn-client', 'open');
    await shows(page, '#conn-server', 'open');
    expect(await text(page, '#link')).toBe('live');

    // Three calls held by the server: all three wait in `awaiting`, and the server shows them handling.
    const cancel = new AbortController();
    const answered = client.request('gate', { key: 'a' });
    const refused = settle(client.request('gate', { key: 'b' }));
    const cancelled = settle(client.request('gate', { key: 'c' }, { signal: cancel.signal }));
    await lanesHold(page, 'awaiting', 3);
    await lanesHold(page, 'handling', 3);
    expect(await laneCount(page, 'queued')).toBe(0);

    // Each one finishes in its own way, and leaves the lane for its count.
    gate('a').resolve({ ok: true });
    expect(await answered).toEqual({ ok: true });
    await shows(page, '#count-client-resolved', '1');
    gate('b').reject(new RpcError(-32000, 'no'));
    expect((await refused).error).toMatchObject({ name: 'RemoteError', code: -32000 });
    await shows(page, '#count-client-failed', '1');
    cancel.abort('enough');
    expect(await cancelled).toEqual({ error: 'enough' });
    await shows(page, '#count-client-cancelled', '1');
    expect((await settle(client.request('gate', { key: 'd' }, { timeout: 100 }))).error).toMatchObject({ name: 'TimeoutError' });
    await shows(page, '#count-client-timedOut', '1');
    await lanesHold(page, 'awaiting', 0);
    await shows(page, '#count-server-replied', '1');
    await shows(page, '#count-server-failed', '1');

    // A call made while a new connection is opening waits in queued first: the timeline shows its whole path.
    const next = await inspectPage.reconnect();
    const early = next.request('gate', { key: 'e' });
    await shows(page, '#conn-client', 'open');
    await lanesHold(page, 'awaiting', 1);
    gate('e').resolve('late but fine');
    expect(await early).toBe('late but fine');
    await shows(page, '#count-client-resolved', '2');

    const rows = await page
      .locator('#timeline tr')
      .evaluateAll((trs) =>
        trs
          .filter((tr) => tr.children[6]!.textContent === 'client')
          .map((tr) => [tr.children[1]!.textContent, tr.querySelector('.path')!.textContent, tr.querySelector('.outcome')!.textContent]),
      );
    expect(rows).toEqual([
      ['gate', 'queued → sent → awaiting → resolved', 'resolved'],
      ['gate', 'sent → awaiting → timedOut', 'timedOut'],
      ['gate', 'sent → awaiting → cancelled', 'cancelled'],
      ['gate', 'sent → awaiting → failed', 'failed'],
      ['gate', 'sent → awaiting → resolved', 'resolved'],
    ]);

    // The diagram counts the calls that ended in each final state, and holds what is in flight now.
    await shows(page, '[data-machine="call"] [data-count="client:resolved"]', '2');
    await shows(page, '[data-machine="call"] [data-count="client:timedOut"]', '1');
    await shows(page, '[data-machine="incomingCall"] [data-count="server:replied"]', '2');
    // Clicking a row shows that call's states, each with the event that caused it.
    await page.locator('#timeline tr', { hasText: 'queued' }).first().click();
    await page.waitForSelector('#detail:has-text("client call gate")', WAIT);
    const detail = (await text(page, '#detail'))!;
    expect(detail.split('\n').map((line) => line.replace(/^\+ *\d+ ms {2}/, '').trim())).toEqual([
      expect.stringMatching(/^client call gate id \S+ \(\d+ ms\)$/),
      'queued     on xstate.init',
      'sent       on call.release',
      'awaiting   on request.written',
      'resolved   on response.result',
    ]);

    // Some calls in flight for the screenshot, then the client closes: both sides show it, and the calls fail.
    const held = ['f', 'g', 'h'].map((key) => settle(next.request('gate', { key })));
    await lanesHold(page, 'awaiting', 3);
    await shows(page, '[data-machine="call"] [data-state="awaiting"] > .st-head > .dn', '3');
    await shows(page, '[data-machine="call"] [data-state="inFlight"] > .st-head > .dn', '3');
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/inspect-page.png', fullPage: true });
    await next.close();
    await shows(page, '#conn-client', 'closed');
    await shows(page, '#conn-server', 'closed');
    for (const outcome of await Promise.all(held)) expect(outcome.error).toMatchObject({ name: 'ConnectionClosedError' });
    await shows(page, '#count-client-failed', '4');
    await lanesHold(page, 'awaiting', 0);
  });

  it('greets a page opened late with the current state, serves nothing else, and reconnects no more once closed', async () => {
    const { handler, gate } = gates();
    inspectPage = await startInspectPage({ traffic: false, methods: { gate: handler } });
    const call = inspectPage.client.request('gate', { key: 'x' });
    await inspectPage.client.ready;
    const page = await openBrowser(inspectPage.url);
    await lanesHold(page, 'awaiting', 1);
    gate('x').resolve(1);
    await call;
    await shows(page, '#count-client-resolved', '1');
    const missing = await fetch(new URL('/nothing', inspectPage.url));
    expect(missing.status).toBe(404);
    const model = (await (await fetch(new URL('/model.json', inspectPage.url))).json()) as { counts: { client: { resolved: number } } };
    expect(model.counts.client.resolved).toBe(1);

    // Once the page server is closed, reconnecting starts nothing new.
    await inspectPage.close();
    const after = await inspectPage.reconnect();
    expect(after).toBe(inspectPage.client);
    expect(after.state).toBe('closed');
  });
});
