import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import {
  connect,
  serve,
  ConnectionClosedError,
  NoRespondersError,
  NotSupportedError,
  RemoteError,
  TimeoutError,
  type Client,
  type NatsServer,
} from '../../src/index.js';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { abortWatcher, closeAfterEach, deferred, orHang, recorder, settle, until } from '../helpers.js';
import { startNatsServer, type NatsServerProcess } from '../nats-helpers.js';

let nats: NatsServerProcess;
let client: Client | undefined;
let responders: NatsServer[] = [];
let subjectCount = 0;
/** A fresh subject per test, so that one test's responders never answer another's calls. */
const nextSubject = () => `test.svc${++subjectCount}`;

beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});
closeAfterEach(() => {
  const items = [client, ...responders];
  client = undefined;
  responders = [];
  return items;
});

describe('calls over NATS', () => {
  it('answers requests with results and errors, as over WebSocket', async () => {
    const subject = nextSubject();
    responders.push(await serve({ nats: nats.url, subject, methods: { add: ([a, b]: [number, number]) => a + b } }));
    client = connect(nats.url, { subject });
    await client.ready;
    expect(client.state).toBe('open');
    expect(await client.request('add', [2, 3])).toBe(5);
    const { error } = await settle(client.request('subtract', [2, 3]));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message]).toEqual([-32601, 'method not found: subtract']);
    expect(client.pendingCalls).toBe(0);
  });

  it('matches 200 concurrent out-of-order responses to their calls by id', async () => {
    const subject = nextSubject();
    responders.push(
      await serve({
        nats: nats.url,
        subject,
        methods: { echo: async ({ n }: { n: number }) => (await new Promise((r) => setImmediate(r, n % 7)), n) },
      }),
    );
    client = connect(nats.url, { subject });
    const results = await Promise.all(Array.from({ length: 200 }, (_, n) => client!.request('echo', { n })));
    expect(results).toEqual(Array.from({ length: 200 }, (_, n) => n));
  });

  it('rejects with NoRespondersError at once when nothing subscribes to the subject', async () => {
    const clock = new SimulatedClock(); // the call's timeout never runs: the 503 alone fails it
    const subject = nextSubject();
    client = connect(nats.url, { subject, clock });
    const unmatched: unknown[] = [];
    client.on('unmatched', (event) => unmatched.push(event));
    const { error } = await settle(client.request('echo', { n: 1 }));
    expect(error).toBeInstanceOf(NoRespondersError);
    expect([error.name, error.code, error.message]).toEqual([
      'NoRespondersError',
      'ERR_NO_RESPONDERS',
      `call "echo": no responders on NATS subject "${subject}"`,
    ]);
    expect([error.method, error.subject]).toEqual(['echo', subject]);
    expect(unmatched).toEqual([]);
    expect(client.pendingCalls).toBe(0);
  });

  it('shares the calls of one queue group across its 3 responders', async () => {
    const subject = nextSubject();
    const counts = [0, 0, 0];
    for (const i of [0, 1, 2]) {
      responders.push(await serve({ nats: nats.url, subject, queue: 'workers', methods: { who: () => (counts[i]!++, i) } }));
    }
    client = connect(nats.url, { subject });
    const answers = await Promise.all(Array.from({ length: 300 }, () => client!.request('who')));
    expect(counts.reduce((a, b) => a + b)).toBe(300);
    for (const i of [0, 1, 2]) {
      expect(counts[i]).toBeGreaterThan(0);
      expect(answers.filter((a) => a === i).length).toBe(counts[i]);
    }
  });

  it("times out on the client's clock and cancels the handler on the responder", async () => {
    const subject = nextSubject();
    const { handler, entered, aborted } = abortWatcher();
    responders.push(await serve({ nats: nats.url, subject, methods: { wait: handler } }));
    const clock = new SimulatedClock();
    client = connect(nats.url, { subject, clock });
    const call = settle(client.request('wait', {}, { timeout: 500 }));
    await entered;
    clock.increment(500);
    const { error } = await call;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.message).toMatch(/^call "wait" \(id [\w-]{21}\) got no response within 500 ms$/);
    expect(await aborted).toBe(true);
    await until(() => responders[0]!.handlingCalls === 0, 'the responder to drop the call');
  });

  it("aborting the caller's signal aborts ctx.signal on the responder that runs the call", async () => {
    const subject = nextSubject();
    const watchers = [abortWatcher(), abortWatcher()];
    const ran = deferred<number>();
    for (const i of [0, 1]) {
      const watcher = watchers[i]!;
      responders.push(
        await serve({ nats: nats.url, subject, methods: { wait: (p: unknown, ctx) => (ran.resolve(i), watcher.handler(p, ctx)) } }),
      );
    }
    client = connect(nats.url, { subject });
    const controller = new AbortController();
    const call = settle(client.request('wait', {}, { signal: controller.signal }));
    const which = await ran.promise;
    await watchers[which]!.entered;
    controller.abort(new Error('changed my mind'));
    expect((await call).error).toEqual(new Error('changed my mind'));
    expect(await watchers[which]!.aborted).toBe(true);
    await until(() => responders.every((r) => r.handlingCalls === 0), 'both responders to be idle');
  });

  it('delivers a notification to one responder of the group', async () => {
    const subject = nextSubject();
    const got = deferred<unknown>();
    const responder = await serve({ nats: nats.url, subject, methods: {} });
    responders.push(responder);
    responder.on('notification', ({ method, params }) => got.resolve({ method, params }));
    client = connect(nats.url, { subject });
    client.notify('log', { line: 'x' }); // made while connecting: sent once open
    expect(await got.promise).toEqual({ method: 'log', params: { line: 'x' } });
  });

  it("responder.once('notification') sees the first notification only", async () => {
    const subject = nextSubject();
    const responder = await serve({ nats: nats.url, subject, methods: {} });
    responders.push(responder);
    const first: unknown[] = [];
    const all: unknown[] = [];
    responder.once('notification', ({ params }) => first.push(params));
    responder.on('notification', ({ params }) => all.push(params));
    client = connect(nats.url, { subject });
    client.notify('log', [1]);
    client.notify('log', [2]);
    await until(() => all.length === 2, 'both notifications');
    expect(first).toEqual([[1]]);
  });

  it('rejects calls back to the caller from a handler with NotSupportedError', async () => {
    const subject = nextSubject();
    responders.push(
      await serve({
        nats: nats.url,
        subject,
        methods: {
          callBack: async (_: unknown, ctx) => {
            const { error } = await settle(ctx.peer.request('whoami'));
            return [error instanceof NotSupportedError, error.code, error.message];
          },
        },
      }),
    );
    client = connect(nats.url, { subject });
    expect(await client.request('callBack')).toEqual([
      true,
      'ERR_NOT_SUPPORTED',
      'cannot call "whoami" on the caller: responders cannot call back over NATS',
    ]);
  });

  it('close() lets running handlers answer, and new calls go to the remaining responders', async () => {
    const subject = nextSubject();
    const release = deferred();
    const started = deferred();
    const leaving = await serve({
      nats: nats.url,
      subject,
      methods: { job: async () => (started.resolve(), await release.promise, 'leaving'), who: () => 'leaving' },
    });
    client = connect(nats.url, { subject });
    const job = client.request('job');
    await started.promise;
    const staying = await serve({ nats: nats.url, subject, methods: { who: () => 'staying' } });
    responders.push(staying);
    const closed = leaving.close();
    release.resolve();
    expect(await job).toBe('leaving');
    await closed;
    const answers = await Promise.all(Array.from({ length: 20 }, () => client!.request('who')));
    expect(new Set(answers)).toEqual(new Set(['staying']));
  });

  it('rejects bad options with TypeError', async () => {
    expect(() => connect(nats.url)).toThrow(new TypeError('options.subject must be a NATS subject string, got undefined'));
    expect(() => connect(nats.url, { subject: 'a.*' })).toThrow(
      new TypeError('options.subject must be a NATS subject without wildcards, empty tokens or whitespace, got "a.*"'),
    );
    expect(() => connect('nats://', { subject: 'a' })).toThrow(new TypeError('url must be a nats://host:port URL, got "nats://"'));
    expect(() => connect('nats://127.0.0.1:4222/#', { subject: 'a' })).toThrow(
      new TypeError('url must be a nats://host:port URL, got "nats://127.0.0.1:4222/#"'),
    );
    // headers go with every NATS message (a responder's authenticate reads them): only their shape is checked.
    expect(() => connect(nats.url, { subject: 'a', headers: [] as never })).toThrow(
      new TypeError('options.headers must be an object of strings, got object'),
    );
    expect(() => connect('ws://127.0.0.1:1', { subject: 'a' })).toThrow(new TypeError('options.subject applies to nats:// URLs only'));
    // nats.js runs with its own reconnection off: the message must not promise one.
    expect(() => connect(nats.url, { subject: 'a', reconnect: true })).toThrow(
      new TypeError(
        'options.reconnect applies to WebSocket URLs only (a nats:// client does not reconnect: when nats-server goes away, its calls fail with ConnectionClosedError)',
      ),
    );
    await expect(serve({ nats: nats.url, subject: 'a b', methods: {} })).rejects.toThrow(TypeError);
    await expect(serve({ nats: nats.url, subject: 'a', queue: '', methods: {} })).rejects.toThrow(
      new TypeError('options.queue must be a non-empty string without whitespace, got ""'),
    );
  });
});

describe('inspection over NATS', () => {
  it('reports the connection actor and every call actor with the same lifecycle as over WebSocket', async () => {
    const subject = nextSubject();
    const atClient = recorder();
    const atResponder = recorder();
    responders.push(await serve({ nats: nats.url, subject, methods: { echo: (p: unknown) => p }, inspect: atResponder.inspect }));
    client = connect(nats.url, { subject, inspect: atClient.inspect });
    const early = client.request('echo', { n: 1 });
    await client.ready;
    await early;
    await client.request('echo', { n: 2 });
    const lonely = connect(nats.url, { subject: `${subject}.nobody`, inspect: atClient.inspect });
    expect((await settle(lonely.request('echo', {}))).error).toBeInstanceOf(NoRespondersError);
    await lonely.close();
    await client.close();

    expect(atClient.actorsOf('connection')).toEqual([client.actor, lonely.actor]);
    expect(atClient.states.get(client.actor)).toEqual([{ connecting: 'opening' }, 'open', 'closing', 'closed']);
    const calls = atClient.actorsOf('call');
    expect(calls).toHaveLength(3);
    expect(atClient.states.get(calls[0]!)).toEqual([
      { pending: 'queued' },
      { pending: { inFlight: 'sent' } },
      { pending: { inFlight: 'awaiting' } },
      'resolved',
    ]);
    expect(atClient.states.get(calls[1]!)).toEqual([{ pending: { inFlight: 'sent' } }, { pending: { inFlight: 'awaiting' } }, 'resolved']);
    // No responders: the call ends failed (with NoRespondersError), queued first as it was made while connecting.
    expect(atClient.states.get(calls[2]!)).toEqual([
      { pending: 'queued' },
      { pending: { inFlight: 'sent' } },
      { pending: { inFlight: 'awaiting' } },
      'failed',
    ]);
    const incoming = atResponder.actorsOf('incomingCall');
    expect(incoming).toHaveLength(2);
    expect(atResponder.states.get(incoming[0]!)).toEqual(['handling', 'replied']);
  });
});

describe('NATS connection loss', () => {
  it('fails pending calls with ConnectionClosedError when nats-server goes away, and the connection actor ends closed', async () => {
    const own = await startNatsServer();
    try {
      const subject = nextSubject();
      const { handler, entered } = abortWatcher();
      const responder = await serve({ nats: own.url, subject, methods: { wait: handler } });
      client = connect(own.url, { subject });
      const call = settle(client.request('wait'));
      await entered;
      await own.stop();
      const { error } = await call;
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.closeCode).toBe(1006);
      expect(error.message).toMatch(/^the connection to nats:\/\/127\.0\.0\.1:\d+ closed before the call settled \(code 1006\)/);
      expect(client.state).toBe('closed');
      await responder.closed;
      expect(responder.handlingCalls).toBe(0);
    } finally {
      await own.stop();
    }
  });

  it("tells a responder's 'close' listeners that nats-server went away (with an error), and its close() after that resolves", async () => {
    const own = await startNatsServer();
    try {
      const responder = await serve({ nats: own.url, subject: nextSubject(), methods: {} });
      const events: Array<{ error?: unknown }> = [];
      responder.on('close', (event) => events.push(event));
      await own.stop();
      await responder.closed;
      // nats.js ends a connection whose server closed it without an error: the event looked like a close() of its own.
      expect(events).toHaveLength(1);
      expect(events[0]!.error).toBeInstanceOf(ConnectionClosedError);
      expect((events[0]!.error as ConnectionClosedError).message).toMatch(
        /^the connection to nats:\/\/127\.0\.0\.1:\d+ was lost \(nats-server closed it\)$/,
      );
      await responder.close();
      expect(events).toHaveLength(1);
    } finally {
      await own.stop();
    }
  });

  it('fails queued calls with ConnectionClosedError when nats-server cannot be reached', async () => {
    const gone = await startNatsServer();
    await gone.stop();
    client = connect(gone.url, { subject: 'x' });
    const { error } = await settle(client.request('echo', {}));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/^could not connect to nats:\/\/127\.0\.0\.1:\d+ \(code 1006\)/);
    expect(client.state).toBe('closed');
  });

  it("rejects serve() with ConnectionClosedError naming the URL (credentials hidden) when nats-server cannot be reached, not nats.js's bare words", async () => {
    const gone = await startNatsServer();
    await gone.stop();
    const withCredentials = gone.url.replace('nats://', 'nats://user:secret@');
    const { error } = await settle(serve({ nats: withCredentials, subject: 'x', methods: {} }));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toBe(`could not connect to ${gone.url.replace('nats://', 'nats://***@')} (code 1006): connection refused`);
    expect(error.closeCode).toBe(1006);
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('close() while nats-server accepts the connection but never answers ends within closeTimeout, not handshakeTimeout', async () => {
    // A frozen nats-server (SIGSTOP) is such a black hole: the kernel completes the TCP handshake, INFO never comes.
    const sockets: Socket[] = [];
    const hole = createServer((socket) => sockets.push(socket)).listen(0, '127.0.0.1');
    await once(hole, 'listening');
    try {
      const url = `nats://127.0.0.1:${(hole.address() as AddressInfo).port}`;
      client = connect(url, { subject: 'x', handshakeTimeout: 600_000, closeTimeout: 50 });
      const call = settle(client.request('echo'));
      await until(() => sockets.length > 0, 'the connection to the black hole');
      // nats.js cannot be stopped while it connects: close() waited for its timeout (here 10 minutes).
      await orHang(client.close(), 'close()');
      expect(client.state).toBe('closed');
      expect((await call).error).toBeInstanceOf(ConnectionClosedError);
    } finally {
      for (const socket of sockets) socket.destroy();
      hole.close();
    }
  });

  it('close() cancels the calls it had in flight: the responder aborts their handlers and frees their slots, as a WebSocket server does when its client closes', async () => {
    const subject = nextSubject();
    const { handler, entered, aborted } = abortWatcher();
    const served = await serve({ nats: nats.url, subject, methods: { wait: handler } });
    responders.push(served);
    client = connect(nats.url, { subject });
    const unmatched: unknown[] = [];
    client.on('unmatched', (event) => unmatched.push(event));
    const call = settle(client.request('wait'));
    await entered;
    await client.close();
    expect((await call).error).toBeInstanceOf(ConnectionClosedError);
    // Before, the handler ran on for nobody: one that never settles held a slot of the responder's maxInFlight for good.
    expect(await orHang(aborted, "the handler's ctx.signal")).toBe(true);
    await until(() => served.handlingCalls === 0, "the responder's slot freed");
    expect(unmatched).toEqual([]);
  });

  it('close() fails pending calls at once and ends closed', async () => {
    const subject = nextSubject();
    const { handler, entered } = abortWatcher();
    responders.push(await serve({ nats: nats.url, subject, methods: { wait: handler } }));
    client = connect(nats.url, { subject });
    const call = settle(client.request('wait'));
    await entered;
    await client.close();
    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/was closed locally$/);
    expect(client.state).toBe('closed');
    expect((await settle(client.request('wait'))).error).toBeInstanceOf(ConnectionClosedError);
  });
});
