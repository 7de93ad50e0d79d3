/**
 * socket.io 4 with the websocket transport only (no polling upgrade): events
 * with acknowledgements, `socket.timeout(ms).emitWithAck(event, params)`.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import type { System } from './types.js';

export const system: System = {
  clientModules: ['socket.io-client'],
  timeoutScope: 'per call (socket.timeout(ms))',

  async serve(held) {
    const http = createServer();
    const server = new Server(http, { transports: ['websocket'], serveClient: false });
    server.on('connection', (socket) => {
      socket.on('echo', (params: unknown, ack: (value: unknown) => void) => ack(params));
      socket.on('hold', (params: unknown, ack: (value: unknown) => void) => held.add(() => ack(params)));
    });
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    const { port } = http.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },

  async connect(url, { timeout }) {
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    // Pending acknowledgements live in the socket's internal `acks` record.
    const acks = (socket as unknown as { acks?: Record<string, unknown> }).acks;
    return {
      call: (method, params) => socket.timeout(timeout).emitWithAck(method, params),
      pending: () => (acks === undefined ? null : Object.keys(acks).length),
      close: async () => {
        socket.disconnect();
      },
    };
  },
};
