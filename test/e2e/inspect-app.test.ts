/**
 * Watching a real application on a running `callstate inspect` page, all in
 * separate processes through the built package: `callstate inspect`, a server
 * (`callstate serve --inspect`) and a client app that streams with inspectTo,
 * and the page in headless Chromium. Thousands of calls: the page keeps up
 * (events batched, the table bounded) and still answers clicks.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterEach, describe, expect, it, onTestFailed } from 'vitest';
import { bin, fixture, startProcess as startChild } from '../cli-helpers.js';

// Three processes and Chromium share two cores with the rest of the suite: generous waits, and a test
// timeout above them (the 20 s default ran out once in a clean-clone CI run).
const WAIT = { timeout: 60_000 };
const CALLS = 3_000;

const children: ChildProcess[] = [];
/** Starts a process (killed after the test) and resolves with the first group of `pattern` on its stdout. */
function startProcess(args: string[], pattern: RegExp, env: Record<string, string> = {}) {
  const started = startChild(args, pattern, env);
  children.push(started.child);
  return { ...started, match: started.match.then((found) => found[1]!), stderr: () => started.output().stderr };
}
let context: BrowserContext | undefined;
let userDataDir: string | undefined;
afterEach(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  context = userDataDir = undefined;
});

describe('callstate inspect watching applications in other processes (headless Chromium)', () => {
  it("shows a served module's and a client app's calls live, with their counts, the diagram, the bounded table and each call's events", async () => {
    // On a failure, say how far it got and what each process printed.
    const started = Date.now();
    const steps: string[] = [];
    const step = (name: string) => steps.push(`+${Date.now() - started} ms ${name}`);
    const outputs: Record<string, () => string> = {};
    onTestFailed(() => {
      console.error(`inspect-app reached:\n${steps.join('\n')}`);
      for (const [name, output] of Object.entries(outputs)) console.error(`${name} stderr: ${output()}`);
    });
    const inspect = startProcess([bin, 'inspect', '--port', '0'], /^callstate inspect: (\S+) /m);
    outputs.inspect = inspect.stderr;
    const pageUrl = await inspect.match;
    step('inspect page up');
    const server = startProcess(
      [bin, 'serve', fixture('cli-methods.mjs'), '--port', '0', '--inspect', pageUrl],
      /^callstate serve: (\S+) /m,
    );
    outputs.server = server.stderr;
    const serverUrl = await server.match;
    step('server up');

    userDataDir = await mkdtemp(join(tmpdir(), 'callstate-chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(pageUrl);
    await page.waitForSelector('#link:text-is("live")', WAIT);
    step('page live');
    // A figure, not an assertion: the main thread's long tasks (over 50 ms) while the calls stream in.
    await page.evaluate(() => {
      const tasks: number[] = ((globalThis as unknown as { longTasks: number[] }).longTasks = []);
      new PerformanceObserver((list) => list.getEntries().forEach((entry) => tasks.push(entry.duration))).observe({
        entryTypes: ['longtask'] as never,
      });
    });

    const app = startProcess([fixture('inspected-app.mjs')], /^(\{.*\})$/m, {
      PAGE: pageUrl,
      SERVER: serverUrl,
      CALLS: String(CALLS),
      CONCURRENCY: '200',
    });
    outputs.app = app.stderr;
    const report = JSON.parse(await app.match) as { answered: number; ms: number; dropped: number };
    expect(await app.exited).toBe(0);
    expect(report).toMatchObject({ answered: CALLS, dropped: 0 });
    step(`app done: ${JSON.stringify(report)}`);

    // Every call of both processes reaches the page: the counts, and the diagram's final states.
    await page.waitForSelector(`#count-client-resolved:text-is("${CALLS}")`, WAIT);
    await page.waitForSelector(`#count-server-replied:text-is("${CALLS}")`, WAIT);
    await page.waitForSelector(`[data-count="client:resolved"]:text-is("${CALLS}")`, WAIT);
    await page.waitForSelector(`[data-count="server:replied"]:text-is("${CALLS}")`, WAIT);
    await page.waitForSelector('[data-machine="call"] [data-state="pending"] > .st-head > .dn:text-is("0")', WAIT);
    step('page counts complete');
    // The table is bounded: the 500 most recent calls of both sides.
    expect(await page.locator('#timeline tr').count()).toBe(500);
    expect(await page.locator('#dropped').getAttribute('data-n')).toBe('0');

    // The newest rows may all be the server's (its stream can reach the page after the client's ends): a few
    // more calls, after which the 500 newest rows hold these last client calls whatever the order.
    const last = startProcess([fixture('inspected-app.mjs')], /^(\{.*\})$/m, {
      PAGE: pageUrl,
      SERVER: serverUrl,
      CALLS: '5',
      CONCURRENCY: '1',
    });
    outputs.last = last.stderr;
    expect(JSON.parse(await last.match)).toMatchObject({ answered: 5, dropped: 0 });
    await page.waitForSelector(`#count-client-resolved:text-is("${CALLS + 5}")`, WAIT);
    await page.waitForSelector(`#count-server-replied:text-is("${CALLS + 5}")`, WAIT);
    step('last calls shown');

    // A client row shows its path and duration; clicking it shows its events.
    const row = page.locator('#timeline tr', { has: page.locator('td:text-is("client")') }).first();
    expect(await row.locator('.path').textContent()).toMatch(/^(queued → )?sent → awaiting → resolved$/);
    expect(Number(await row.locator('td').nth(4).textContent())).toBeGreaterThanOrEqual(0);
    await row.click();
    step('row clicked');
    await page.waitForSelector('#detail:has-text("client call add")', WAIT);
    expect(await page.locator('#detail').textContent()).toMatch(/awaiting +on request\.written\n.*resolved +on response\.result$/);
    await mkdir('test-artifacts', { recursive: true });
    await page.screenshot({ path: 'test-artifacts/inspect-app.png', fullPage: false });
    expect(pageErrors).toEqual([]);

    // Both close cleanly on SIGINT.
    step('closing');
    server.child.kill('SIGINT');
    inspect.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
    expect(await inspect.exited).toBe(0);
    expect(server.stderr() + inspect.stderr()).toBe('');
    const longTasks = await page.evaluate(() => (globalThis as unknown as { longTasks: number[] }).longTasks);
    console.log(
      `${CALLS} calls in ${report.ms} ms while streaming to the page (${Math.round((CALLS / report.ms) * 1000)} calls/s); ` +
        `page long tasks: ${longTasks.length}, longest ${Math.round(Math.max(0, ...longTasks))} ms`,
    );
  }, 120_000);
});
