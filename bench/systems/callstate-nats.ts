/**
 * callstate over NATS (from the BUILT package, public API only): `serve({ nats, subject })`
 * as the responder, `connect('nats://…', { subject })` as the client, on a nats-server of its own.
 */
import { entry, loadCallstate as load } from './callstate.js';
import { startNatsServer } from './nats-util.js';
import type { System } from './types.js';

const SUBJECT = 'bench.echo';

export const system: System = {
  clientModules: [entry.href, '@nats-io/transport-node'],
  timeoutScope: 'per call (request option; connection default)',

  async serve(held) {
    const { serve } = await load();
    const nats = await startNatsServer();
    const responder = await serve({
      nats: nats.url,
      subject: SUBJECT,
      // The memory and scale sections hold up to 100,000 calls from one client: above the default limit, whose
      // busy answers (-32000) would fail the section.
      maxInFlightPerConnection: 1_000_000,
      methods: {
        echo: (params: unknown) => params,
        hold: (params: unknown) => new Promise((resolve) => held.add(() => resolve(params))),
      },
    });
    return { url: nats.url, close: async () => (await responder.close(), await nats.stop()) };
  },

  async connect(url, { timeout }) {
    const { connect } = await load();
    // As for callstate over WebSocket: the memory and scale sections issue up to 100,000 calls at once, past the
    // client's backpressure (4 MiB unconfirmed by nats-server, then at most 10,000 waiting), which nats.js lacks.
    const client = connect(url, { subject: SUBJECT, timeout, maxQueued: Infinity, highWaterMark: Infinity });
    await client.ready;
    return {
      call: (method, params) => client.request(method, params),
      pending: () => client.pendingCalls,
      close: () => client.close(),
    };
  },
};
