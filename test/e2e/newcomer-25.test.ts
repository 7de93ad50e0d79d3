/**
 * What a newcomer meets first, run as they would run it: the built `callstate` bin in a child process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, TimeoutError } from '../../src/index.js';
import { bin } from '../cli-helpers.js';
import { echoServer } from '../echo-server.js';
import { abortWatcher, closeTrackedAfterEach, settle, until } from '../helpers.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}

const dir = mkdtempSync(join(tmpdir(), 'callstate-newcomer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A Node that strips types (22.18, 23.6 and later) loads a .ts module itself: nothing to tell then. */
const stripsTypes = typeof (process.features as { typescript?: unknown }).typescript === 'string';

describe('callstate serve <module.ts>', () => {
  it.skipIf(stripsTypes)('on a Node that runs no TypeScript, says to compile the module or run the command under tsx', async () => {
    const path = join(dir, 'methods.ts');
    writeFileSync(path, 'export default { add: ([a, b]: [number, number]) => a + b };\n');
    const served = await run(['serve', path, '--port', '0']);
    expect(served.status).toBe(4);
    expect(served.stdout).toBe('');
    expect(served.stderr).toBe(
      `callstate serve: cannot load ${path}: Unknown file extension ".ts" for ${path}: this Node runs no TypeScript; ` +
        `serve the module compiled to JavaScript (tsc), or run the command under tsx: npx tsx node_modules/.bin/callstate serve ${path}\n`,
    );
  });

  it('adds nothing to the error of a JavaScript module that fails to load', async () => {
    const path = join(dir, 'missing.mjs');
    const served = await run(['serve', path, '--port', '0']);
    expect(served.status).toBe(4);
    expect(served.stderr).toMatch(/^callstate serve: cannot load .*missing\.mjs: Cannot find module .*missing\.mjs'[^\n]*\n$/);
    expect(served.stderr).not.toMatch(/tsx/);
  });
});

/** A port on 127.0.0.1 that nothing listens on: taken from the system, then let go. */
async function deadPort(): Promise<number> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const { port } = listener.address() as { port: number };
  await new Promise<void>((resolve) => listener.close(() => resolve()));
  return port;
}

describe('a call that times out never sent says so, not that no response came', () => {
  const track = closeTrackedAfterEach();

  it('with reconnect, to a server that is not there: the connection had not opened yet', async () => {
    const clock = new SimulatedClock();
    const client = track(connect(`ws://127.0.0.1:${await deadPort()}`, { reconnect: true, timeout: 1_000, clock }));
    const reconnecting: number[] = [];
    client.on('reconnecting', ({ attempt }) => reconnecting.push(attempt));
    const call = settle(client.request('add', [1, 2]));
    await until(() => reconnecting.length > 0, 'the first attempt refused');
    clock.increment(1_000);
    const { error } = await call;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(
      /^call "add" \(id \S+\) got no response within 1000 ms: it was not sent, still waiting in queued \(the connection had not opened yet\)$/,
    );
  });

  it('with reconnect, after the connection was lost: not yet open again', async () => {
    const clock = new SimulatedClock();
    const server = await serve({ methods: { add: ([a, b]: [number, number]) => a + b } });
    const client = track(connect(server.url, { reconnect: true, timeout: 1_000, clock }));
    await client.ready;
    const reconnecting: number[] = [];
    client.on('reconnecting', ({ attempt }) => reconnecting.push(attempt));
    await server.close();
    await until(() => reconnecting.length > 0, 'the loss seen');
    const call = settle(client.request('add', [1, 2]));
    clock.increment(1_000);
    const { error } = await call;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(/: it was not sent, still waiting in queued \(the connection was lost and not yet open again\)$/);
  });

  it('behind maxInFlight: names the limit; the call written and unanswered keeps the plain words', async () => {
    const clock = new SimulatedClock();
    const { handler, entered } = abortWatcher();
    const server = track(await serve({ methods: { hang: handler } }));
    const client = track(connect(server.url, { maxInFlight: 1, timeout: 1_000, clock }));
    await client.ready;
    const first = settle(client.request('hang', undefined, { timeout: 2_000 }));
    await entered;
    const second = settle(client.request('hang', undefined));
    clock.increment(1_000);
    expect((await second).error.message).toMatch(
      /^call "hang" \(id \S+\) got no response within 1000 ms: it was not sent, still waiting in queued \(1 call was in flight \(maxInFlight\)\)$/,
    );
    clock.increment(1_000);
    expect((await first).error.message).toMatch(/^call "hang" \(id \S+\) got no response within 2000 ms$/);
  });

  it('behind highWaterMark, a server that reads nothing: names the limit as a floor (at least that much waited)', async () => {
    const clock = new SimulatedClock();
    const reader = await echoServer();
    const client = track(connect(reader.url, { highWaterMark: 64 * 1024, heartbeat: 0, timeout: 60_000, clock }));
    try {
      await client.ready;
      await until(reader.connected, 'the server to accept');
      reader.pause();
      const filling: Array<Promise<unknown>> = [];
      // Far more than the kernel's loopback buffers hold plus the high-water mark, until a call has to wait.
      for (let n = 0; n < 2_000 && client.queuedCalls === 0; n++) {
        filling.push(settle(client.request('echo', { n, pad: 'x'.repeat(32 * 1024) })));
        if (n % 16 === 15) await new Promise((resolve) => setImmediate(resolve));
      }
      expect(client.queuedCalls).toBeGreaterThan(0);
      const probe = settle(client.request('echo', { n: -1 }, { timeout: 1_000 }));
      clock.increment(1_000);
      expect((await probe).error.message).toMatch(
        /: it was not sent, still waiting in queued \(65536 bytes or more waited unsent \(highWaterMark\)\)$/,
      );
    } finally {
      await client.close();
      await reader.close();
    }
  });
});
