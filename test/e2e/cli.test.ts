import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../../bin/callstate.js', import.meta.url));
const run = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('the callstate command (built package)', () => {
  it('runs the demo and exits 0 when every check passes', () => {
    const { status, stdout } = run('demo', '--calls', '8', '--max-delay', '40');
    expect(stdout).toMatch(/^callstate demo: echo server listening on ws:\/\/127\.0\.0\.1:\d+$/m);
    expect(stdout).toMatch(/echo calls +8, each answered with what it sent: 8\/8/);
    expect(stdout).toMatch(/unmatched reported +unknown 1, late 1, duplicate 1, malformed 1/);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('demo passed');
    expect(status).toBe(0);
  });

  it('exits 2 with the usage on an unknown command, and 1 on a bad option', () => {
    const unknown = run('frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^callstate: unknown command "frobnicate"\nusage: callstate <command>/);
    const bad = run('demo', '--calls', 'many');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('callstate: --calls takes a positive integer, got "many"\n');
  });

  it('prints its version', () => {
    const { status, stdout } = run('--version');
    expect(status).toBe(0);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
