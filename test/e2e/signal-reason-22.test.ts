/**
 * `ctx.signal.reason` says why a handler was aborted: an AbortError whose message names the caller's cancel, the
 * connection's close or the server's, on every transport (it was a bare "This operation was aborted" for all three).
 */
import { describe, expect, it } from 'vitest';
import { connect, serve, type Client, type HandlerContext, type NatsServer, type Server } from '../../src/index.js';
import { closeAfterEach, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
let client: Client | undefined;
let server: Server | undefined;
let responder: NatsServer | undefined;
let subjects = 0;

closeAfterEach(() => {
  const items = [client, server, responder];
  client = server = responder = undefined;
  return items;
});

const CANCELLED = 'cancelled by the caller ($/cancelRequest)';
const CONNECTION_CLOSED = 'the connection closed';
const SERVER_CLOSING = 'the server is closing';

/** A method that runs until its `ctx.signal` aborts, recording the reason; `running` counts the handlers started. */
function untilAborted() {
  const reasons: unknown[] = [];
  const state = { running: 0 };
  const hang = (_params: unknown, ctx: HandlerContext) =>
    new Promise((_resolve, reject) => {
      state.running++;
      ctx.signal.addEventListener('abort', () => (reasons.push(ctx.signal.reason), reject(ctx.signal.reason)));
    });
  return { hang, reasons, state };
}

/** The reason as compared: an AbortError DOMException with `message`. */
function abortError(message: string) {
  return expect.objectContaining({ name: 'AbortError', message });
}

type Side = 'ws' | 'http' | 'nats';

/** A server on `side` with the `hang` method, and a client of it. */
async function start(side: Side, hang: (params: unknown, ctx: HandlerContext) => Promise<unknown>) {
  if (side === 'nats') {
    const subject = `reason22.svc${++subjects}`;
    responder = await serve({ nats: nats.url, subject, methods: { hang } });
    client = connect(nats.url, { subject, timeout: 60_000 });
    return { close: () => responder!.close({ drain: 0 }) };
  }
  server = await serve({ port: 0, host: '127.0.0.1', closeTimeout: 10, methods: { hang } });
  client = connect(side === 'ws' ? server.url : server.httpUrl, { timeout: 60_000 });
  return { close: () => server!.close() };
}

describe('ctx.signal.reason says why the handler was aborted', () => {
  for (const side of ['ws', 'http', 'nats'] as const) {
    it(`over ${side}: the caller's cancel`, async () => {
      const { hang, reasons, state } = untilAborted();
      await start(side, hang);
      const controller = new AbortController();
      const call = client!.request('hang', [], { signal: controller.signal }).catch((error: unknown) => error);
      await until(() => state.running === 1, 'the handler running');
      controller.abort();
      expect(await call).toMatchObject({ name: 'AbortError' });
      await until(() => reasons.length === 1, 'the handler aborted');
      // Over HTTP a cancel is the POST's fetch aborted: the server sees its connection close.
      expect(reasons[0]).toEqual(abortError(side === 'http' ? CONNECTION_CLOSED : CANCELLED));
      expect(reasons[0]).toBeInstanceOf(DOMException);
    });

    it(`over ${side}: the server's close`, async () => {
      const { hang, reasons, state } = untilAborted();
      const { close } = await start(side, hang);
      void client!.request('hang', []).catch(() => {});
      await until(() => state.running === 1, 'the handler running');
      await close();
      await until(() => reasons.length === 1, 'the handler aborted');
      expect(reasons[0]).toEqual(abortError(SERVER_CLOSING));
    });
  }

  it("over ws: the connection's close (the client gone)", async () => {
    const { hang, reasons, state } = untilAborted();
    await start('ws', hang);
    void client!.request('hang', []).catch(() => {});
    await until(() => state.running === 1, 'the handler running');
    await client!.terminate();
    await until(() => reasons.length === 1, 'the handler aborted');
    expect(reasons[0]).toEqual(abortError(CONNECTION_CLOSED));
  });

  it('over ws: a notification running when the server closes', async () => {
    const { hang, reasons, state } = untilAborted();
    await start('ws', hang);
    await client!.ready;
    client!.notify('hang', []);
    await until(() => state.running === 1, 'the handler running');
    await server!.close();
    await until(() => reasons.length === 1, 'the handler aborted');
    expect(reasons[0]).toEqual(abortError(SERVER_CLOSING));
  });

  it("over ws, on the xstate engine: the caller's cancel", async () => {
    const { hang, reasons, state } = untilAborted();
    server = await serve({ port: 0, host: '127.0.0.1', engine: 'xstate', methods: { hang } });
    client = connect(server.url, { timeout: 60_000 });
    const controller = new AbortController();
    void client.request('hang', [], { signal: controller.signal }).catch(() => {});
    await until(() => state.running === 1, 'the handler running');
    controller.abort();
    await until(() => reasons.length === 1, 'the handler aborted');
    expect(reasons[0]).toEqual(abortError(CANCELLED));
  });

  it('keeps the reason for a handler that reads ctx.signal only after it aborted, with a handlerTimeout too', async () => {
    const late: unknown[] = [];
    let running = 0;
    let resume: (() => void) | undefined;
    const later = (_params: unknown, ctx: HandlerContext) =>
      new Promise<void>((resolve) => {
        running++;
        resume = () => (late.push(ctx.signal.reason), resolve());
      });
    server = await serve({ port: 0, host: '127.0.0.1', handlerTimeout: 60_000, methods: { later } });
    client = connect(server.url, { timeout: 60_000 });
    const controller = new AbortController();
    void client.request('later', [], { signal: controller.signal }).catch(() => {});
    await until(() => running === 1, 'the handler running');
    controller.abort();
    await until(() => server!.connections.size === 1 && [...server!.connections][0]!.handlingCalls === 0, 'the call cancelled');
    resume!();
    expect(late).toEqual([abortError(CANCELLED)]);
  });
});
