/**
 * Cold start, in a fresh client process before anything of the system is loaded: the time to
 * import the modules its client side imports (`clientModules`), and the time from before that
 * import to the first answered call (import, connect, one `echo` call answered by the already
 * listening server).
 *
 * The import is timed in a plain `node` process of its own, as an application loads the package.
 * This worker runs under tsx, which transforms, as it loads it, every JavaScript file outside
 * node_modules: callstate's build, not the peers' installed packages. That cost about 90 ms of
 * callstate's import here (143 ms against 52 in plain Node), which no user pays.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ServerProcess } from '../server-process.js';
import { loadSystem } from '../systems/index.js';
import { PAYLOAD } from './closed-loop.js';

export interface ColdResult {
  importMs: number;
  /** Import + connect + the first call answered. */
  firstCallMs: number;
}

export async function coldStart(name: string, server: ServerProcess, timeoutMs: number): Promise<ColdResult> {
  const system = await loadSystem(name);
  const importMs = await importTimeInPlainNode(system.clientModules);
  for (const specifier of system.clientModules) await import(specifier);
  const t0 = performance.now();
  const client = await system.connect(server.url, { timeout: timeoutMs });
  await client.call('echo', PAYLOAD);
  const firstCallMs = importMs + (performance.now() - t0);
  await client.close();
  return { importMs, firstCallMs };
}

/** Milliseconds a fresh `node` process (no loader hooks) takes to import `modules`, in order. */
async function importTimeInPlainNode(modules: readonly string[]): Promise<number> {
  const script = [
    'const t0 = performance.now();',
    `for (const specifier of ${JSON.stringify(modules)}) await import(specifier);`,
    'process.stdout.write(String(performance.now() - t0));',
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '--eval', script], {
    cwd: new URL('../..', import.meta.url),
  });
  const ms = Number(stdout);
  if (!Number.isFinite(ms)) throw new Error(`the import timing process printed ${JSON.stringify(stdout)}`);
  return ms;
}
