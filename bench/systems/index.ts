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

/** Over HTTP POST (issue 13), measured in their own section against their own baseline (`http`). */
const httpLoaders: Record<string, () => Promise<{ system: System }>> = {
  http: () => import('./http.js'),
  'callstate-http': () => import('./callstate-http.js'),
  'json-rpc-2.0-http': () => import('./json-rpc-2.0-http.js'),
};

/** Every system of the WebSocket and NATS sections, baseline first. */
export const SYSTEM_NAMES = Object.keys(loaders);
/** Systems whose clients connect to nats-server, not to the server process: the connections section skips them. */
export const NATS_SYSTEM_NAMES = ['callstate-nats', 'nats.js'];
/** Every system of the HTTP section, baseline first. */
export const HTTP_SYSTEM_NAMES = Object.keys(httpLoaders);

export async function loadSystem(name: string): Promise<System> {
  const load = loaders[name] ?? httpLoaders[name];
  if (load === undefined) throw new Error(`unknown system "${name}" (known: ${[...SYSTEM_NAMES, ...HTTP_SYSTEM_NAMES].join(', ')})`);
  return (await load()).system;
}
