/**
 * callstate, loaded from the BUILT package as a user's `import 'callstate'` finds it (package.json `exports`: the
 * bundle in dist/bundle/), so Node runs XState's production build and the cold start is the users'. Only the public
 * API is used. Types come from src/ so the harness typechecks before anything is built.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as Callstate from '../../src/index.js';
import type { System } from './types.js';

/** What `import 'callstate'` loads in Node (the package refers to itself by name). */
export const entry = new URL(import.meta.resolve('callstate'));

/** The built package (dist/): run `npm run build` first. */
export async function loadCallstate(): Promise<typeof Callstate> {
  if (!existsSync(fileURLToPath(entry))) {
    throw new Error(`callstate is not built (${fileURLToPath(entry)} is missing): run npm run build`);
  }
  return (await import(entry.href)) as typeof Callstate;
}

/** callstate's server and client; the client connects to the server's `endpoint`: its WebSocket `url`, or its HTTP one (`httpUrl`). */
export const callstateSystem = (endpoint: 'url' | 'httpUrl'): System => ({
  clientModules: [entry.href],
  timeoutScope: 'per call (request option; connection default)',

  async serve(held) {
    const { serve } = await loadCallstate();
    const server = await serve({
      port: 0,
      // The memory and scale sections hold up to 100,000 calls on one connection: above the default limit.
      maxInFlightPerConnection: 1_000_000,
      methods: {
        echo: (params: unknown) => params,
        hold: (params: unknown) => new Promise((resolve) => held.add(() => resolve(params))),
      },
    });
    return { url: server[endpoint], close: () => server.close() };
  },

  async connect(url, { timeout }) {
    const { connect } = await loadCallstate();
    // The same sections issue up to 100,000 calls in bursts: the client's backpressure (which holds calls beyond
    // 4 MiB of socket buffer, and at most 10,000 of them) is lifted too, as none of the peers has any.
    const client = connect(url, { timeout, maxQueued: Infinity, highWaterMark: Infinity });
    await client.ready;
    return {
      call: (method, params) => client.request(method, params),
      pending: () => client.pendingCalls,
      close: () => client.close(),
    };
  },
});

export const system = callstateSystem('url');
