/**
 * The baseline: raw `ws`, JSON-RPC-shaped frames, and on the client a Map of
 * id → { resolve, reject, timer } with one setTimeout per call and string ids
 * from a counter (the DESIGN.md baseline).
 */
import type { BenchClient, System } from './types.js';
import { closeWs, closeWss, listenWs, openWs } from './ws-util.js';

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

export const system: System = {
  clientModules: ['ws'],
  timeoutScope: 'per call (setTimeout)',

  async serve(held) {
    const { wss, url } = await listenWs();
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const request = JSON.parse(String(data)) as { id: string; method: string; params: unknown };
        const answer = () => ws.send(JSON.stringify({ jsonrpc: '2.0', id: request.id, result: request.params }));
        if (request.method === 'hold') held.add(answer);
        else answer();
      });
    });
    return { url, close: () => closeWss(wss) };
  },

  async connect(url, { timeout }) {
    const ws = await openWs(url);
    const pending = new Map<string, Pending>();
    let nextId = 0;

    ws.on('message', (data) => {
      const response = JSON.parse(String(data)) as { id: string; result?: unknown; error?: { message: string } };
      const call = pending.get(response.id);
      if (call === undefined) return; // late (timed out) or unknown
      pending.delete(response.id);
      clearTimeout(call.timer);
      if (response.error) call.reject(new Error(response.error.message));
      else call.resolve(response.result);
    });
    ws.on('close', () => {
      for (const call of pending.values()) {
        clearTimeout(call.timer);
        call.reject(new Error('connection closed'));
      }
      pending.clear();
    });

    const client: BenchClient = {
      call(method, params) {
        const id = String(++nextId);
        return new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            pending.delete(id);
            reject(new Error(`${method} timed out after ${timeout} ms`));
          }, timeout);
          pending.set(id, { resolve, reject, timer });
          ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
        });
      },
      pending: () => pending.size,
      close: () => closeWs(ws),
    };
    return client;
  },
};
