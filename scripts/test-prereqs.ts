/**
 * Run first by `npm test`: the end-to-end tests start real `nats-server`
 * processes and drive Debian's `chromium`. When either is missing from PATH,
 * this installs both with apt-get if it can (root on a Debian-like system), or
 * stops at once with the exact command to run, instead of letting the tests
 * fail one by one with `spawn nats-server ENOENT`.
 *
 *   all found ───────────────────────────────► go on
 *   missing ─┬─ root and apt-get ──► install ─► found: go on │ still missing: stop
 *            ├─ apt-get (not root) ───────────► stop: `sudo apt-get …`
 *            └─ no apt-get ───────────────────► stop: what to install, where from
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The programs the tests run, with the Debian package of each and where the
 * tests look besides PATH: Debian puts nats-server in /usr/sbin, which a
 * user's PATH often lacks (test/nats-helpers.ts adds it), and the inspection
 * page's test launches /usr/bin/chromium.
 */
export const PROGRAMS = [
  {
    name: 'nats-server',
    aptPackage: 'nats-server',
    also: ['/usr/local/sbin/nats-server', '/usr/sbin/nats-server'],
    url: 'https://docs.nats.io/running-a-nats-service/introduction/installation',
  },
  {
    name: 'chromium',
    aptPackage: 'chromium',
    also: ['/usr/bin/chromium'],
    url: 'https://www.chromium.org/getting-involved/download-chromium/',
  },
] as const;

export type ProgramName = (typeof PROGRAMS)[number]['name'];

/** What the machine offers, as far as the decision goes. */
export interface Machine {
  missing: readonly ProgramName[];
  isRoot: boolean;
  hasAptGet: boolean;
}

export type Decision =
  | { kind: 'ready' }
  /** Run these commands (as root), then look again. */
  | { kind: 'install'; commands: string[][] }
  /** Stop with this message, which holds the command to run. */
  | { kind: 'stop'; message: string };

function packagesOf(missing: readonly ProgramName[]): string[] {
  return PROGRAMS.filter((p) => missing.includes(p.name)).map((p) => p.aptPackage);
}

function stopMessage(missing: readonly ProgramName[], command: string): string {
  return [
    `npm test needs ${missing.join(' and ')}, not found on PATH (the NATS and browser tests run them).`,
    'Install, then run npm test again:',
    '',
    `  ${command}`,
    '',
  ].join('\n');
}

/** Decides what to do about missing programs. Pure: the caller looks at the machine and acts. */
export function decide(machine: Machine): Decision {
  const { missing } = machine;
  if (missing.length === 0) return { kind: 'ready' };
  const packages = packagesOf(missing);
  if (machine.hasAptGet && machine.isRoot) {
    return {
      kind: 'install',
      commands: [
        ['apt-get', 'update', '-qq'],
        ['apt-get', 'install', '-y', '-qq', ...packages],
      ],
    };
  }
  if (machine.hasAptGet)
    return { kind: 'stop', message: stopMessage(missing, `sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}`) };
  const where = PROGRAMS.filter((p) => missing.includes(p.name)).map((p) => `${p.name}: ${p.url}`);
  return {
    kind: 'stop',
    message: stopMessage(missing, `# no apt-get here; install ${missing.join(' and ')} so they are on PATH:\n  ${where.join('\n  ')}`),
  };
}

/** The first executable among `name` in each directory of `path` (PATH's format), then `also`; or undefined. */
export function find(name: string, path: string | undefined, also: readonly string[] = []): string | undefined {
  const candidates = (path ?? '')
    .split(delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => join(dir, name));
  for (const candidate of [...candidates, ...also]) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not there
    }
  }
  return undefined;
}

/** `useFallbacks: false` looks on PATH only (to try the "missing" branch on a machine that has them). */
function look(path: string | undefined, useFallbacks: boolean): Machine {
  return {
    missing: PROGRAMS.filter((p) => find(p.name, path, useFallbacks ? p.also : []) === undefined).map((p) => p.name),
    isRoot: process.getuid?.() === 0,
    hasAptGet: find('apt-get', path) !== undefined,
  };
}

/** Looks, installs when it can, looks again; returns the exit code. */
export function main(path = process.env.PATH, useFallbacks = true): number {
  let decision = decide(look(path, useFallbacks));
  if (decision.kind === 'install') {
    process.stderr.write(`test-prereqs: installing what the tests need: ${decision.commands.map((c) => c.join(' ')).join(' && ')}\n`);
    for (const [command, ...args] of decision.commands) {
      const result = spawnSync(command!, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
      if (result.status !== 0) {
        process.stderr.write(
          `test-prereqs: \`${[command, ...args].join(' ')}\` failed (${result.error?.message ?? `exit ${result.status}`})\n`,
        );
        return 1;
      }
    }
    const after = look(path, useFallbacks);
    decision =
      after.missing.length === 0
        ? { kind: 'ready' }
        : {
            kind: 'stop',
            message: stopMessage(after.missing, 'apt-get installed them, but they are still not on PATH: add their directory to PATH'),
          };
  }
  if (decision.kind === 'stop') {
    process.stderr.write(`test-prereqs: ${decision.message}`);
    return 1;
  }
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main();
