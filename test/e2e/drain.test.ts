/**
 * `server.close({ drain })` on WebSocket and NATS: new connections are refused (503) and new requests
 * answered -32000 "server closing", in the same words on both; running handlers answer if they finish
 * within the window, and are aborted with their connections (1001) if they do not. Handlers are
 * released by the test: nothing here depends on how long anything takes.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, ConnectionClosedError, ErrorCodes } from '../../src/index.js';
import { abortWatcher, closeTrackedAfterEach, deferred, settle, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const track = closeTrackedAfterEach();

const nats = useNatsServer();

const closingAnswer = (method: string) => [
  ErrorCodes.ServerBusy,
  `server closing: no new calls are accepted; "${method}" was not run`,
  { closing: true },
];

/** A handler that answers `value` once the test releases it; `entered` resolves when it starts. */
function held() {
  const entered = deferred();
  const release = deferred<string>();
  const handler = async () => {
    entered.resolve();
    return release.promise;
  };
  return { handler, entered: entered.promise, release: release.resolve };
}

describe('close({ drain }) over WebSocket', () => {
  it('refuses new connections (503) and new requests (-32000), lets a running handler answer, then closes (1001)', async () => {
    const slow = held();
    let runs = 0;
    const server = track(await serve({ methods: { slow: slow.handler, echo: (p: unknown) => (runs++, p) } }));
    const client = track(connect(server.url));
    const closed = deferred<number | undefined>();
    client.on('close', ({ code }) => closed.resolve(code));
    const answer = client.request('slow');
    await slow.entered;

    const closing = server.close({ drain: 60_000 });
    const refused = await settle(client.request('echo', [1]));
    expect(refused.error).toBeInstanceOf(Error);
    expect([refused.error.code, refused.error.message, refused.error.data]).toEqual(closingAnswer('echo'));
    expect(runs).toBe(0);

    const late = track(connect(server.url));
    expect((await settle(late.ready)).error.message).toMatch(/refused the connection with HTTP 503 Service Unavailable/);

    slow.release('done');
    expect(await answer).toBe('done');
    await closing;
    expect(await closed.promise).toBe(1001);
  });

  it('aborts a handler still running when the window ends, failing its call with the connection', async () => {
    const stuck = abortWatcher();
    const clock = new SimulatedClock();
    const server = track(await serve({ clock, methods: { stuck: stuck.handler } }));
    const client = track(connect(server.url));
    const call = settle(client.request('stuck'));
    await stuck.entered;
    const closing = server.close({ drain: 60_000 });
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.connections.size).toBe(1); // still draining: the window is on the server's clock
    clock.increment(60_000);
    await closing;
    expect(await stuck.aborted).toBe(true);
    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect([error.code, error.closeCode, error.closeReason]).toEqual(['ERR_CONNECTION_CLOSED', 1001, 'server closing']);
  });

  it('refuses (503) an upgrade whose authenticate is still deciding when the drain begins', async () => {
    const decide = deferred<boolean>();
    const checking = deferred();
    const server = track(await serve({ authenticate: () => (checking.resolve(), decide.promise), methods: {} }));
    const client = track(connect(server.url));
    await checking.promise;
    const closing = server.close({ drain: 60_000 });
    expect((await settle(client.ready)).error.message).toMatch(/HTTP 503 Service Unavailable/);
    decide.resolve(true);
    await closing;
    expect(server.connections.size).toBe(0);
  });

  it('validates the drain', async () => {
    const server = track(await serve({ methods: {} }));
    expect(() => server.close({ drain: -1 })).toThrow(new RangeError('options.drain must be between 0 and 2147483647, got -1'));
    expect(() => server.close('soon' as never)).toThrow(new TypeError('close options must be an object, got string'));
  });
});

describe('close({ drain }) on a NATS responder', () => {
  it('lets a running handler answer within the window, then disconnects', async () => {
    const slow = held();
    const responder = track(await serve({ nats: nats.url, subject: 'drain.svc', methods: { slow: slow.handler } }));
    const client = track(connect(nats.url, { subject: 'drain.svc', timeout: 60_000 }));
    const answer = client.request('slow');
    await slow.entered;
    const closing = responder.close({ drain: 60_000 });
    slow.release('done');
    expect(await answer).toBe('done');
    await closing;
    expect(responder.handlingCalls).toBe(0);
  });

  it('aborts a handler still running when the window ends', async () => {
    const stuck = abortWatcher();
    const clock = new SimulatedClock();
    const responder = track(
      await serve({ nats: nats.url, subject: 'drain.stuck', clock, closeTimeout: 60_000, methods: { stuck: stuck.handler } }),
    );
    const client = track(connect(nats.url, { subject: 'drain.stuck', timeout: 60_000 }));
    void settle(client.request('stuck'));
    await stuck.entered;
    const closing = responder.close({ drain: 60_000 });
    // The window opens once the responder has stopped receiving (a round trip to nats-server): move the clock until it ends.
    let closed = false;
    void closing.then(() => (closed = true));
    expect(responder.handlingCalls).toBe(1);
    await until(() => (clock.increment(60_000), closed), 'the drain window to end on the clock');
    expect(await stuck.aborted).toBe(true);
    expect(responder.handlingCalls).toBe(0);
  });
});
