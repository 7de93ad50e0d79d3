/** The systems under test, loaded on demand so each process imports only its own. */
import type { System } from './types.js';

const loaders: Record<string, () => Promise<{ system: System }>> = {
  raw: () => import('./raw.js'),
  callstate: () => import('./callstate.js'),
  'socket.io': () => import('./socket.io.js'),
  'rpc-websockets': () => import('./rpc-websockets.js'),
  birpc: () => import('./birpc.js'),
  'json-rpc-2.0': () => import('./json-rpc-2.0.js'),
  // Over NATS (issue 6): each server process runs its own nats-server (Debian's `nats-server`).
  'callstate-nats': () => import('./callstate-nats.js'),
  'nats.js': () => import('./nats.js.js'),
};

/** Every system, baseline first. */
export const SYSTEM_NAMES = Object.keys(loaders);

export async function loadSystem(name: string): Promise<System> {
  const load = loaders[name];
  if (load === undefined) throw new Error(`unknown system "${name}" (known: ${SYSTEM_NAMES.join(', ')})`);
  return (await load()).system;
}
