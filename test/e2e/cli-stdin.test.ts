/**
 * `callstate call <url> <method> -` reads its params from stdin: at most DEFAULT_CLIENT_MAX_PAYLOAD
 * bytes of them, so that an endless stdin (`yes | callstate call … -`) is a usage error, not a process
 * that grows until it dies of an out-of-memory stack.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLIENT_MAX_PAYLOAD } from '../../src/limits.js';
import { bin } from '../cli-helpers.js';

describe('callstate call: params from stdin', () => {
  it('refuses params past DEFAULT_CLIENT_MAX_PAYLOAD bytes with exit 2, however long stdin goes on', async () => {
    // A small heap, so that reading without a bound fails here at once instead of after gigabytes.
    const env = { ...process.env, NODE_OPTIONS: '--max-old-space-size=64' };
    const child = spawn(process.execPath, [bin, 'call', 'ws://127.0.0.1:1', 'm', '-'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.resume();
    child.stdin.on('error', () => {}); // EPIPE once the command has stopped reading
    const chunk = Buffer.from('1,'.repeat(512 * 1024));
    const feed = () => {
      while (child.exitCode === null && !child.stdin.destroyed && child.stdin.write(chunk));
    };
    child.stdin.on('drain', feed);
    feed();
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    expect({ status, stderr }).toEqual({
      status: 2,
      stderr: `callstate call: params on stdin are longer than ${DEFAULT_CLIENT_MAX_PAYLOAD} bytes: raise --max-payload (see callstate call --help)\n`,
    });
  });
});
