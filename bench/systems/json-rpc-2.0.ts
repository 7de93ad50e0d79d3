/**
 * json-rpc-2.0 over a plain `ws` socket: `JSONRPCServer.receive` on the
 * server, `JSONRPCClient` with `client.timeout(ms).request(...)` on the client.
 */
import { JSONRPCClient, JSONRPCServer, type JSONRPCRequest, type JSONRPCResponse } from 'json-rpc-2.0';
import type { System } from './types.js';
import { closeWs, closeWss, listenWs, openWs } from './ws-util.js';

export const system: System = {
  clientModules: ['json-rpc-2.0', 'ws'],
  timeoutScope: 'per call (client.timeout(ms))',

  async serve(held) {
    const { wss, url } = await listenWs();
    const server = new JSONRPCServer();
    server.addMethod('echo', (params: unknown) => params);
    server.addMethod('hold', (params: unknown) => new Promise((resolve) => held.add(() => resolve(params))));
    wss.on('connection', (ws) => {
      ws.on('message', async (data) => {
        const response = await server.receive(JSON.parse(String(data)) as JSONRPCRequest);
        if (response) ws.send(JSON.stringify(response));
      });
    });
    return { url, close: () => closeWss(wss) };
  },

  async connect(url, { timeout }) {
    const ws = await openWs(url);
    const client = new JSONRPCClient((request) => ws.send(JSON.stringify(request)));
    ws.on('message', (data) => client.receive(JSON.parse(String(data)) as JSONRPCResponse));
    ws.on('close', () => client.rejectAllPendingRequests('connection closed'));
    const timed = client.timeout(timeout);
    // Pending calls live in the client's internal `idToResolveMap`.
    const map = (client as unknown as { idToResolveMap?: Map<unknown, unknown> }).idToResolveMap;
    return {
      call: (method, params) => timed.request(method, params) as Promise<unknown>,
      pending: () => (map === undefined ? null : map.size),
      close: () => closeWs(ws),
    };
  },
};
