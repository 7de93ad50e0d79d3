/**
 * The `callstate` command run in this process (`main()`, not the built bin), where a test needs fake
 * timers or the exact lines it writes: the default call timeout, and modules `serve` cannot use.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { serve, type Server } from '../../src/index.js';
import { main } from '../../src/tools/cli.js';
import { DEFAULT_CALL_TIMEOUT } from '../../src/tools/commands/call.js';
import { fixture } from '../cli-helpers.js';
import { until } from '../helpers.js';

let server: Server | undefined;
let stderr: string[];
let stdout: string[];

beforeEach(() => {
  stderr = [];
  stdout = [];
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (stdout.push(String(chunk)), true));
});

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
});

describe('callstate call: the default timeout', () => {
  it('without --timeout, gives up after DEFAULT_CALL_TIMEOUT (30 s, as --help says) with exit 3', async () => {
    expect(DEFAULT_CALL_TIMEOUT).toBe(30_000);
    let started = 0;
    server = await serve({ closeTimeout: 1, methods: { hang: () => (started++, new Promise(() => {})) } });
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let code: number | undefined;
    void main(['call', server.httpUrl, 'hang']).then((exit) => (code = exit));
    await until(() => started === 1, 'the call to reach the handler');
    vi.advanceTimersByTime(DEFAULT_CALL_TIMEOUT - 1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(code).toBeUndefined();
    vi.advanceTimersByTime(1);
    await until(() => code !== undefined, 'the call to time out');
    expect(code).toBe(3);
    expect(stderr.join('')).toMatch(/^callstate call: call "hang" \(id \S+\) got no response within 30000 ms\n$/);
  });

  it('--help names the default', async () => {
    expect(await main(['call', '--help'])).toBe(0);
    expect(stdout.join('')).toContain('--timeout MS          give up on the answer after MS ms (default 30,000)');
  });
});

describe('callstate serve: modules it cannot use, each in one line with a non-zero exit', () => {
  it('a module that throws a value that is not an Error', async () => {
    expect(await main(['serve', fixture('cli-throws-value.mjs'), '--port', '0'])).toBe(4);
    expect(stderr.join('')).toBe(`callstate serve: cannot load ${fixture('cli-throws-value.mjs')}: the database is not configured\n`);
    stderr.length = 0;
    expect(await main(['serve', fixture('cli-throws-null.mjs'), '--port', '0'])).toBe(4);
    expect(stderr.join('')).toBe(`callstate serve: cannot load ${fixture('cli-throws-null.mjs')}: it threw null\n`);
  });

  it('a module whose export is an array, not a methods object', async () => {
    expect(await main(['serve', fixture('cli-array-methods.mjs'), '--port', '0'])).toBe(2);
    expect(stderr.join('')).toBe(
      `callstate serve: ${fixture('cli-array-methods.mjs')} exports an array, not a methods object ({ name: handler }) (see callstate serve --help)\n`,
    );
  });
});

describe('callstate serve: what a module throws after it loaded', () => {
  it('a getter of its methods object that throws a message with a line break and a terminal escape: one line, escaped, exit 4', async () => {
    expect(await main(['serve', fixture('cli-getter-throws.mjs'), '--port', '0'])).toBe(4);
    expect(stderr.join('')).toBe('callstate serve: the handler table is broken \\u001b[31mred\n');
  });
});
