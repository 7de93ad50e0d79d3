/**
 * birpc 4 over a plain `ws` socket: `post` sends a text frame, `on` listens
 * for one, JSON (de)serialization. birpc's timeout is set per instance (per
 * connection), not per call; its pending calls are private to a closure, so
 * entries left cannot be counted (reported as n/a). Its timers are unref'd.
 */
import { createBirpc } from 'birpc';
import type { System } from './types.js';
import { closeWs, closeWss, listenWs, openWs } from './ws-util.js';

interface ServerFunctions {
  echo(params: object): object;
  hold(params: object): Promise<object>;
}

const serialize = (value: unknown) => JSON.stringify(value);
const deserialize = (data: unknown) => JSON.parse(String(data)) as unknown;

export const system: System = {
  clientModules: ['birpc', 'ws'],
  timeoutScope: 'per connection (createBirpc timeout option)',

  async serve(held) {
    const { wss, url } = await listenWs();
    const functions: ServerFunctions = {
      echo: (params) => params,
      hold: (params) => new Promise((resolve) => held.add(() => resolve(params))),
    };
    wss.on('connection', (ws) => {
      createBirpc<Record<string, never>, ServerFunctions>(functions, {
        post: (data) => ws.send(data),
        on: (listener) => ws.on('message', listener),
        serialize,
        deserialize,
      });
    });
    return { url, close: () => closeWss(wss) };
  },

  async connect(url, { timeout }) {
    const ws = await openWs(url);
    const rpc = createBirpc<ServerFunctions>(
      {},
      { post: (data) => ws.send(data), on: (listener) => ws.on('message', listener), serialize, deserialize, timeout },
    );
    return {
      call: (method, params) => rpc.$call(method, params),
      pending: () => null,
      close: async () => {
        rpc.$close();
        await closeWs(ws);
      },
    };
  },
};
