/**
 * What a newcomer meets first, run as they would run it: the built `callstate` bin in a child process.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bin } from '../cli-helpers.js';

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
