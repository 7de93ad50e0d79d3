/**
 * The `callstate` command.
 *
 *   callstate demo [--calls N] [--max-delay MS]   run the demo on an embedded server
 *   callstate --help | --version
 */
import { readFileSync } from 'node:fs';
import { runDemo } from './demo.js';

const USAGE = `usage: callstate <command>

commands:
  demo [--calls N] [--max-delay MS]   start an embedded echo server and replay the
                                      concurrent-calls scenario, printing each call's
                                      lifecycle; exits 0 when every check passes

options:
  -h, --help      show this help
  -v, --version   print the version`;

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
    case '-v':
    case '--version': {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
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
