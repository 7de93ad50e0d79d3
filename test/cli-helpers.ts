/**
 * Running the built `callstate` bin (npm run build first) in child processes,
 * for the end-to-end tests of the command line and the inspection page.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const bin = fileURLToPath(new URL('../bin/callstate.js', import.meta.url));
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

export interface Started {
  child: ChildProcess;
  /** The first match of `ready` on stdout; rejects if the process exits before. */
  match: Promise<RegExpExecArray>;
  /** The exit code, once it has exited. */
  exited: Promise<number | null>;
  output(): { stdout: string; stderr: string };
}

/** Starts `node <args>` (the bin, or a fixture script) and watches its stdout for `ready`. */
export function startProcess(args: string[], ready: RegExp, env: Record<string, string> = {}): Started {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const match = new Promise<RegExpExecArray>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk;
      const found = ready.exec(stdout);
      if (found) resolve(found);
    });
    void exited.then((code) => reject(new Error(`${args.join(' ')} exited with ${code}: ${stderr}`)));
  });
  // A test that never waits for the match (the process was meant to fail) must not leave it unhandled.
  match.catch(() => {});
  return { child, match, exited, output: () => ({ stdout, stderr }) };
}

/** Starts `callstate <args>`. */
export const startCommand = (args: string[], ready: RegExp) => startProcess([bin, ...args], ready);
