/** rpc-websockets 10: its `Server` and `Client`, timeout passed to each `call`. */
import type { AddressInfo } from 'node:net';
import { Client, Server } from 'rpc-websockets';
import type { System } from './types.js';

/** rpc-websockets emitters are eventemitter3, which `events.once` does not accept. */
function once(emitter: { once(event: string, listener: () => void): unknown }, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

export const system: System = {
  clientModules: ['rpc-websockets'],
  timeoutScope: 'per call (call(method, params, timeout))',

  async serve(held) {
    const server = new Server({ port: 0, host: '127.0.0.1' });
    await once(server, 'listening');
    server.register('echo', (params) => params);
    server.register('hold', (params) => new Promise((resolve) => held.add(() => resolve(params))));
    const { port } = server.wss.address() as AddressInfo;
    return { url: `ws://127.0.0.1:${port}`, close: () => server.close() };
  },

  async connect(url, { timeout }) {
    const client = new Client(url, { autoconnect: true, reconnect: false });
    await once(client, 'open');
    // Pending calls live in the client's internal `queue` record.
    const queue = (client as unknown as { queue?: Record<string, unknown> }).queue;
    return {
      call: (method, params) => client.call(method, params, timeout),
      pending: () => (queue === undefined ? null : Object.keys(queue).length),
      close: async () => {
        const closed = once(client, 'close');
        client.close();
        await closed;
      },
    };
  },
};
