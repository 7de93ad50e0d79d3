/**
 * The `callstate` command.
 *
 *   callstate demo [--calls N] [--max-delay MS]   run the demo on an embedded server
 *   callstate inspect [--port N] [--host H]       serve the live inspection page
 *   callstate --help | --version
 */
import { readFileSync } from 'node:fs';
import { runDemo } from './demo.js';
import { startInspectPage } from './inspect/server.js';

/** Port of `callstate inspect` when --port is not given. */
export const DEFAULT_INSPECT_PORT = 7070;

const USAGE = `usage: callstate <command>

commands:
  demo [--calls N] [--max-delay MS]   start an embedded echo server and replay the
                                      concurrent-calls scenario, printing each call's
                                      lifecycle; exits 0 when every check passes
  inspect [--port N] [--host H]       serve a live page (default http://127.0.0.1:${DEFAULT_INSPECT_PORT}/)
                                      showing an in-process client and server with
                                      demo traffic: each call moving through its
                                      states, counts per outcome, recent calls;
                                      --port 0 picks a free port; Ctrl-C stops it

options:
  -h, --help      show this help
  -v, --version   print the version`;

function readPort(args: string[]): number | undefined {
  const i = args.indexOf('--port');
  if (i === -1) return undefined;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 0 || value > 65_535 || args[i + 1]?.trim() === '') {
    throw new RangeError(`--port takes an integer from 0 to 65535, got ${JSON.stringify(args[i + 1])}`);
  }
  return value;
}

function readString(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  if (i === -1) return undefined;
  const value = args[i + 1];
  if (value === undefined || value === '' || value.startsWith('-')) throw new TypeError(`${flag} takes a value`);
  return value;
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

function readNumber(args: string[], flag: string): number | undefined {
  const i = args.indexOf(flag);
  if (i === -1) return undefined;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${flag} takes a positive integer, got ${JSON.stringify(args[i + 1])}`);
  }
  return value;
}

export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'demo': {
      const summary = await runDemo({ calls: readNumber(rest, '--calls'), maxDelay: readNumber(rest, '--max-delay') });
      return summary.ok ? 0 : 1;
    }
    case 'inspect': {
      const page = await startInspectPage({ port: readPort(rest) ?? DEFAULT_INSPECT_PORT, host: readString(rest, '--host') });
      process.stdout.write(`callstate inspect: ${page.url} (Ctrl-C to stop)\n`);
      await untilStopped();
      await page.close();
      return 0;
    }
    case '-v':
    case '--version': {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`callstate: unknown command "${command}"\n${USAGE}\n`);
      return 2;
  }
}
