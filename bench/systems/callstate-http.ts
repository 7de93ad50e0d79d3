/**
 * callstate over HTTP POST (issue 13): `serve()` answering JSON-RPC over HTTP on
 * its port, `connect(server.httpUrl)` (fetch, one POST per call), from the BUILT package.
 */
import type { System } from './types.js';
import { loadCallstate } from './callstate.js';

export const system: System = {
  timeoutScope: 'per call (request option; connection default)',

  async serve(held) {
    const { serve } = await loadCallstate();
    const server = await serve({
      port: 0,
      methods: {
        echo: (params: unknown) => params,
        hold: (params: unknown) => new Promise((resolve) => held.add(() => resolve(params))),
      },
    });
    return { url: server.httpUrl, close: () => server.close() };
  },

  async connect(url, { timeout }) {
    const { connect } = await loadCallstate();
    const client = connect(url, { timeout, maxQueued: Infinity });
    await client.ready;
    return {
      call: (method, params) => client.request(method, params),
      pending: () => client.pendingCalls,
      close: () => client.close(),
    };
  },
};
