/**
 * json-rpc-2.0 over HTTP, as its README shows: `JSONRPCServer.receiveJSON` behind
 * `node:http`, `JSONRPCClient` whose send is a `fetch` POST, with `client.timeout(ms)`.
 */
import { JSONRPCClient, JSONRPCServer, type JSONRPCResponse } from 'json-rpc-2.0';
import type { System } from './types.js';
import { closeHttp, listenHttp, postJson } from './http-util.js';

export const system: System = {
  clientModules: ['json-rpc-2.0'],
  timeoutScope: 'per call (client.timeout(ms))',

  async serve(held) {
    const rpc = new JSONRPCServer();
    rpc.addMethod('echo', (params: unknown) => params);
    rpc.addMethod('hold', (params: unknown) => new Promise((resolve) => held.add(() => resolve(params))));
    const { server, url } = await listenHttp((body, respond) => {
      void rpc.receiveJSON(body).then((answer) => (answer === null ? respond(204, '') : respond(200, JSON.stringify(answer))));
    });
    return { url, close: () => closeHttp(server) };
  },

  async connect(url, { timeout }) {
    const client: JSONRPCClient = new JSONRPCClient(async (request) => {
      const text = await postJson(url, JSON.stringify(request), timeout);
      client.receive(JSON.parse(text) as JSONRPCResponse);
    });
    const timed = client.timeout(timeout);
    return {
      call: (method, params) => timed.request(method, params) as Promise<unknown>,
      pending: () => null,
      close: () => Promise.resolve(),
    };
  },
};
