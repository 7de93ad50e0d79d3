/**
 * Cold start, in a fresh client process before anything of the system is loaded: the time to
 * import the client's modules (the bench adapter, a few lines, and the modules its client side
 * imports, `clientModules`), and the time from there to the first answered call (import,
 * connect, one `echo` call answered by the already listening server).
 */
import type { ServerProcess } from '../server-process.js';
import { loadSystem } from '../systems/index.js';
import { PAYLOAD } from './closed-loop.js';

export interface ColdResult {
  importMs: number;
  /** Import + connect + the first call answered. */
  firstCallMs: number;
}

export async function coldStart(name: string, server: ServerProcess, timeoutMs: number): Promise<ColdResult> {
  const t0 = performance.now();
  const system = await loadSystem(name);
  for (const specifier of system.clientModules) await import(specifier);
  const importMs = performance.now() - t0;
  const client = await system.connect(server.url, { timeout: timeoutMs });
  await client.call('echo', PAYLOAD);
  const firstCallMs = performance.now() - t0;
  await client.close();
  return { importMs, firstCallMs };
}
