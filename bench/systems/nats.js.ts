/**
 * nats.js (`@nats-io/transport-node`) `request()`: the NATS peer. The responder
 * subscribes to the subject in a queue group and answers `{ method, params }`
 * with the params (JSON), `hold` only on release; the client awaits `nc.request()`.
 */
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from './nats-util.js';
import type { System } from './types.js';

const SUBJECT = 'bench.echo';

export const system: System = {
  clientModules: ['@nats-io/transport-node'],
  timeoutScope: 'per call (request({ timeout }))',

  async serve(held) {
    const nats = await startNatsServer();
    const nc = await connect({ servers: nats.url, reconnect: false });
    nc.subscribe(SUBJECT, {
      queue: 'bench',
      callback: (error, msg) => {
        if (error) return;
        const { method, params } = msg.json<{ method: string; params: unknown }>();
        const answer = () => msg.respond(JSON.stringify(params));
        if (method === 'hold') held.add(answer);
        else answer();
      },
    });
    await nc.flush();
    return { url: nats.url, close: async () => (await nc.close(), await nats.stop()) };
  },

  async connect(url, { timeout }) {
    const nc = await connect({ servers: url, reconnect: false });
    return {
      call: async (method, params) => (await nc.request(SUBJECT, JSON.stringify({ method, params }), { timeout })).json(),
      pending: () => null,
      close: () => nc.close(),
    };
  },
};
