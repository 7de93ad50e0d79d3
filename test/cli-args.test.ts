/**
 * The command line's integer flags (`--port`, `--timeout`, `--max-payload`, `--drain`, `--calls`, `--max-delay`) take
 * decimal digits only: `Number()` would read "0x1F90" as 8080 and "1e3" as 1000.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { integerFlag, UsageError } from '../src/tools/commands/args.js';
import { bin } from './cli-helpers.js';

describe('integerFlag', () => {
  it('takes decimal digits within the bounds', () => {
    expect(integerFlag('8080', 'port', 0, 65_535)).toBe(8080);
    expect(integerFlag('0', 'port', 0, 65_535)).toBe(0);
    expect(integerFlag('007', 'port', 0, 65_535)).toBe(7);
    expect(integerFlag(undefined, 'port', 0, 65_535)).toBeUndefined();
  });

  it.each(['0x1F90', '1e3', '0b1', '0o17', ' 7', '7 ', '+7', '-0', '7.0', '1_000', 'Infinity', '', '٣'])('refuses %j', (text) => {
    expect(() => integerFlag(text, 'port', 0, 65_535)).toThrow(UsageError);
    expect(() => integerFlag(text, 'port', 0, 65_535)).toThrow(`--port takes an integer from 0 to 65535, got ${JSON.stringify(text)}`);
  });

  it('refuses digits past the bounds, and past what a double holds exactly', () => {
    expect(() => integerFlag('65536', 'port', 0, 65_535)).toThrow('got "65536"');
    expect(() => integerFlag('9007199254740993', 'timeout', 1, Number.MAX_VALUE)).toThrow(UsageError);
  });

  it('quotes a long value cut to 200 characters', () => {
    const digits = '9'.repeat(100_000);
    expect(() => integerFlag(digits, 'port', 0, 65_535)).toThrow(`--port takes an integer from 0 to 65535, got "${'9'.repeat(200)}…"`);
  });
});

describe('callstate call', () => {
  it('stops with a usage error (exit 2) on --timeout 1e3, before connecting', () => {
    const run = spawnSync(process.execPath, [bin, 'call', 'ws://127.0.0.1:1', 'm', '--timeout', '1e3'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('--timeout takes an integer from 1 to 2147483647, got "1e3"');
  });
});
