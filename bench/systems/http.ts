/**
 * The HTTP baseline: `node:http` and `JSON.parse` on the server, `fetch` and
 * `JSON.parse` on the client (one POST per call, a timeout per call through
 * `AbortSignal.timeout`). What any JSON-RPC over HTTP costs before a library adds to it.
 */
import type { Held, System } from './types.js';
import { closeHttp, listenHttp, postJson } from './http-util.js';

export const system: System = {
  clientModules: [],
  timeoutScope: 'per call (AbortSignal.timeout)',

  async serve(held: Held) {
    const { server, url } = await listenHttp((body, respond) => {
      const request = JSON.parse(body) as { id: string; method: string; params: unknown };
      const answer = () => respond(200, JSON.stringify({ jsonrpc: '2.0', id: request.id, result: request.params }));
      if (request.method === 'hold') held.add(answer);
      else answer();
    });
    return { url, close: () => closeHttp(server) };
  },

  async connect(url, { timeout }) {
    let nextId = 0;
    return {
      async call(method, params) {
        const text = await postJson(url, JSON.stringify({ jsonrpc: '2.0', id: String(++nextId), method, params }), timeout);
        const response = JSON.parse(text) as { result?: unknown; error?: { message: string } };
        if (response.error) throw new Error(response.error.message);
        return response.result;
      },
      pending: () => null,
      close: () => Promise.resolve(),
    };
  },
};
