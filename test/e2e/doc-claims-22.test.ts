/**
 * Claims of the README and docs/ checked where no other test checks them: options given where they have no effect
 * are refused (as `connect()` refuses `maxPayload` over NATS), on both kinds of `serve()`; `retry: n` from 0 to 100 on
 * every client transport; `maxBufferedAmount`'s default is at least `highWaterMark`.
 */
import { describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import { SimulatedClock } from 'xstate';
import {
  connect,
  serve,
  ConnectionClosedError,
  ErrorCodes,
  RemoteError,
  QueueFullError,
  type Client,
  type NatsServer,
  type Peer,
  type Server,
} from '../../src/index.js';
import { fixture, startCommand } from '../cli-helpers.js';
import { closeAfterEach, deferred, settle, until } from '../helpers.js';
import { rawUpgrade } from '../raw-websocket.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
let server: Server | undefined;
let responder: NatsServer | undefined;
let client: Client | undefined;
let socket: Socket | undefined;

closeAfterEach(() => {
  const items = [client, server, responder, { close: async () => void socket?.destroy() }];
  client = server = responder = undefined;
  return items;
});

const methods = { echo: (params: unknown) => params };

describe('serve() refuses an option of the other kind of server (docs/options.md lists each kind apart)', () => {
  // A NATS responder has no socket of its own: nats-server sets max_payload and buffers, nats.js pings.
  const listenerOnly = {
    port: 0,
    host: '127.0.0.1',
    path: '/rpc',
    timeout: 1_000,
    callSiteStacks: true,
    heartbeat: 1_000,
    maxPayload: 1_024,
    upgradeTimeout: 1_000,
    maxConnections: 5,
    highWaterMark: 1_024,
    maxBufferedAmount: 2_048,
    drainTimeout: 1_000,
    noServer: true,
  };

  it.each(Object.entries(listenerOnly))('a NATS responder given %s throws TypeError, instead of limiting nothing', async (name, value) => {
    const refused = serve({ nats: nats.url, subject: 'doc.claims', methods, [name]: value } as never);
    await expect(refused).rejects.toThrow(TypeError);
    await expect(refused).rejects.toThrow(`options.${name} applies to serve()'s WebSocket and HTTP listener only`);
  });

  it.each([
    ['subject', 'doc.claims'],
    ['queue', 'q'],
    ['authenticateTimeout', 1_000],
  ])('a WebSocket server given %s (a NATS responder option) throws TypeError', async (name, value) => {
    const refused = serve({ port: 0, methods, [name]: value } as never);
    await expect(refused).rejects.toThrow(TypeError);
    await expect(refused).rejects.toThrow(`options.${name} applies to a NATS responder (options.nats) only`);
  });

  it.each([
    ['maxInFlight', 10],
    ['maxQueued', 10],
    ['settledMemory', 10],
    ['reconnect', true],
    ['headers', { a: 'b' }],
    ['tls', {}],
    ['handshakeTimeout', 1_000],
    ['inboxPrefix', 'p'],
  ])('either kind of server given %s (an option of connect(): "not an option of serve()") throws TypeError', async (name, value) => {
    for (const base of [{ port: 0 }, { nats: nats.url, subject: 'doc.claims' }]) {
      const refused = serve({ ...base, methods, [name]: value } as never);
      await expect(refused).rejects.toThrow(TypeError);
      await expect(refused).rejects.toThrow(`options.${name} is an option of connect(), not of serve()`);
    }
  });

  it('a NATS responder with the options it takes still answers', async () => {
    responder = await serve({
      nats: nats.url,
      subject: 'doc.claims.ok',
      queue: 'q',
      authenticateTimeout: 1_000,
      closeTimeout: 500,
      methods,
    });
    client = connect(`${nats.url}`, { subject: 'doc.claims.ok' });
    expect(await client.request('echo', ['nats'])).toEqual(['nats']);
  });
});

describe('retry: n is taken from 0 to 100 (docs/options.md), on every client transport', () => {
  const clientOf = async (kind: 'ws' | 'http' | 'nats'): Promise<Client> => {
    if (kind === 'nats') {
      responder = await serve({ nats: nats.url, subject: 'doc.claims.retry', methods });
      return connect(nats.url, { subject: 'doc.claims.retry' });
    }
    server = await serve({ methods });
    return connect(kind === 'ws' ? server.url : server.httpUrl);
  };

  it.each(['ws', 'http', 'nats'] as const)('over %s: 0 and 100 are taken, 101 throws RangeError', async (kind) => {
    client = await clientOf(kind);
    expect(await client.request('echo', [0], { retry: 0 })).toEqual([0]);
    expect(await client.request('echo', [100], { retry: 100 })).toEqual([100]);
    expect(() => client!.request('echo', [101], { retry: 101 })).toThrow(RangeError);
  });
});

describe('maxBufferedAmount defaults to 64 MiB, at least highWaterMark (docs/limits-and-access.md)', () => {
  it('a highWaterMark past 64 MiB with no maxBufferedAmount is taken, on a client and a server; a maxBufferedAmount under it throws RangeError', async () => {
    const large = 80 * 1024 * 1024;
    server = await serve({ methods, highWaterMark: large });
    client = connect(server.url, { highWaterMark: large });
    expect(await client.request('echo', ['ok'])).toEqual(['ok']);
    expect(() => connect(server!.url, { highWaterMark: large, maxBufferedAmount: large - 1 })).toThrow(RangeError);
    await expect(serve({ methods, highWaterMark: large, maxBufferedAmount: large - 1 })).rejects.toThrow(RangeError);
  });
});

describe('tls applies to wss:// only (docs/options.md)', () => {
  it('connect() throws TypeError for tls with an http://, https:// or nats:// URL, before any call', () => {
    expect(() => connect('https://127.0.0.1:8443/', { tls: { rejectUnauthorized: false } })).toThrow(
      'options.tls applies to wss:// URLs only (fetch takes no certificate options: use NODE_EXTRA_CA_CERTS for https://)',
    );
    expect(() => connect('http://127.0.0.1:8080/', { tls: { rejectUnauthorized: false } })).toThrow(TypeError);
    expect(() => connect(nats.url, { subject: 'doc.claims', tls: { rejectUnauthorized: false } })).toThrow(
      'options.tls applies to wss:// URLs only',
    );
  });
});

describe('callstate serve drains on SIGTERM (docs/cli.md)', () => {
  it('a call running when SIGTERM comes is answered, and the command exits 0', async () => {
    const served = startCommand(
      ['serve', fixture('doc-claims-22-methods.mjs'), '--port', '0'],
      /^callstate serve: (ws:\/\/127\.0\.0\.1:\d+) /m,
    );
    try {
      const [, url] = await served.match;
      client = connect(url!);
      const call = client.request('holdUntilStopped');
      await expect.poll(() => served.output().stdout).toMatch(/^holding$/m);
      served.child.kill('SIGTERM');
      expect(await call).toBe('answered during the drain');
      expect(await served.exited).toBe(0);
      expect(served.output().stderr).toBe('');
    } finally {
      if (served.child.exitCode === null) served.child.kill('SIGKILL');
    }
  });
});

describe("a server's peer that reads nothing (README: in a loop over server.connections, catch both)", () => {
  it('past maxBufferedAmount bytes waiting, notify() throws QueueFullError and request() rejects with it; the peer stays connected', async () => {
    const connected = deferred<Peer>();
    const KiB = 1024;
    server = await serve({ clock: new SimulatedClock(), heartbeat: 0, highWaterMark: 64 * KiB, maxBufferedAmount: 256 * KiB, methods });
    server.on('connection', (peer) => connected.resolve(peer));
    socket = await rawUpgrade(server.url);
    socket.pause(); // reads nothing from now on
    const peer = await connected.promise;
    const payload = ['x'.repeat(16 * KiB)];
    // Fill the kernel's buffers and the socket's to the mark: from then on notifications wait in line.
    for (let count = 0; peer.bufferedAmount < 64 * KiB; count++) {
      expect(count).toBeLessThan(10_000);
      peer.notify('tick', payload);
      await new Promise((resolve) => setImmediate(resolve)); // the kernel takes what it can
    }
    let refused: unknown;
    for (let count = 0; refused === undefined; count++) {
      expect(count).toBeLessThan(64); // 256 KiB of 16 KiB frames: about 16 wait before one is refused
      try {
        peer.notify('tick', payload);
      } catch (error) {
        refused = error;
      }
    }
    expect(refused).toBeInstanceOf(QueueFullError);
    const { error } = await settle(peer.request('echo', payload));
    expect(error).toBeInstanceOf(QueueFullError);
    expect(server.connections.has(peer)).toBe(true);
  });
});

describe("a server's peer whose close handshake has begun (README)", () => {
  it('notify() throws ConnectionClosedError and request() rejects with it, while the client has not answered the close frame', async () => {
    const connected = deferred<Peer>();
    server = await serve({ heartbeat: 0, closeTimeout: 50, methods });
    server.on('connection', (peer) => connected.resolve(peer));
    socket = await rawUpgrade(server.url);
    socket.pause(); // never reads the close frame, so never answers it
    const peer = await connected.promise;
    const closing = server.close();
    await until(() => peer.state === 'closing', 'the close handshake to begin');
    expect(() => peer.notify('tick')).toThrow(ConnectionClosedError);
    const { error } = await settle(peer.request('echo', []));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    await closing;
  });
});

describe('maxInFlight holds over HTTP as over WebSocket (docs/options.md: own calls written and unanswered)', () => {
  it('a call past it waits in queued, unsent, and goes out once the one in flight is answered', async () => {
    const releases: Array<() => void> = [];
    const started: unknown[] = [];
    server = await serve({
      methods: {
        hold: (params: unknown) => {
          started.push(params);
          return new Promise<unknown>((resolve) => releases.push(() => resolve(params)));
        },
      },
    });
    client = connect(server.httpUrl, { maxInFlight: 1 });
    const first = client.request('hold', ['first']);
    const second = client.request('hold', ['second']);
    await until(() => started.length === 1, 'the first call to run');
    expect(client.queuedCalls).toBe(1);
    expect(client.pendingCalls).toBe(2);
    releases[0]!();
    expect(await first).toEqual(['first']);
    await until(() => started.length === 2, 'the second call to run');
    expect(started).toEqual([['first'], ['second']]);
    releases[1]!();
    expect(await second).toEqual(['second']);
  });
});

describe("reconnect's bounds (docs/options.md)", () => {
  it.each([
    { factor: 0.5 },
    { factor: 101 },
    { jitter: -0.1 },
    { maxAttempts: 0 },
    { initialDelay: 9 },
    { initialDelay: 600, maxDelay: 500 },
  ])('%o throws RangeError', (policy) => {
    expect(() => connect('ws://127.0.0.1:9', { reconnect: policy })).toThrow(RangeError);
  });

  it('factor 1 and 100, jitter 0 and 1, maxAttempts 1 and initialDelay 10 are taken', async () => {
    server = await serve({ methods });
    for (const policy of [
      { factor: 1, jitter: 0, maxAttempts: 1, initialDelay: 10 },
      { factor: 100, jitter: 1 },
    ]) {
      const taken = connect(server.url, { reconnect: policy });
      expect(await taken.request('echo', ['ok'])).toEqual(['ok']);
      await taken.close();
    }
  });
});

describe('maxBufferedAmount bounds the bytes of calls waiting, over HTTP too (README: maxQueued row)', () => {
  it('a call whose frame would take the bytes waiting past it rejects at once with QueueFullError; the admitted ones are answered', async () => {
    const releases: Array<() => void> = [];
    server = await serve({ methods: { hold: (params: unknown) => new Promise((resolve) => releases.push(() => resolve(params))) } });
    client = connect(server.httpUrl, { maxConnections: 1, highWaterMark: 1, maxBufferedAmount: 1_000, timeout: 60_000 });
    // Frames of about 450 characters: one posted, one waiting for the connection, two waiting in line (900 bytes), then refused.
    const outcomes = Array.from({ length: 6 }, (_, i) => {
      const outcome: { error?: unknown; value?: unknown } = {};
      client!.request('hold', [i, 'x'.repeat(400)]).then(
        (value) => (outcome.value = value),
        (error: unknown) => (outcome.error = error),
      );
      return outcome;
    });
    await new Promise((resolve) => setImmediate(resolve));
    const refused = outcomes.filter((outcome) => outcome.error !== undefined);
    expect(refused.length).toBeGreaterThan(0);
    for (const { error } of refused) {
      expect(error).toBeInstanceOf(QueueFullError);
      expect((error as Error).message).toMatch(/more would pass maxBufferedAmount 1000\)/);
    }
    const admitted = outcomes.length - refused.length;
    expect(outcomes.slice(0, admitted).every((outcome) => outcome.error === undefined)).toBe(true);
    for (let answered = 0; answered < admitted; answered++) {
      await until(() => releases.length > answered, `POST ${answered}`);
      releases[answered]!();
      await until(() => outcomes[answered]!.value !== undefined, `call ${answered} answered`);
      expect(outcomes[answered]!.value).toEqual([answered, 'x'.repeat(400)]);
    }
  });
});

describe('the logger hears the same on every responder (docs/hooks.md: handler timeouts at warn, nothing per call at info)', () => {
  it.each(['ws', 'http', 'nats'] as const)('over %s: a call answered logs nothing; one past handlerTimeout logs at warn', async (kind) => {
    const lines: string[] = [];
    const at = (level: string) => (_fields: object, message: string) => void lines.push(`${level}: ${message}`);
    const logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
    const clock = new SimulatedClock();
    const started: string[] = [];
    const options = {
      clock,
      handlerTimeout: 1_000,
      logger,
      methods: {
        quick: () => 'done',
        slow: (_params: unknown, ctx: { signal: AbortSignal }) =>
          new Promise((_resolve, reject) => {
            started.push('slow');
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          }),
      },
    };
    if (kind === 'nats') {
      responder = await serve({ nats: nats.url, subject: 'doc.claims.log', ...options });
      client = connect(nats.url, { subject: 'doc.claims.log' });
    } else {
      server = await serve(options);
      client = connect(kind === 'ws' ? server.url : server.httpUrl);
    }
    expect(await client.request('quick')).toBe('done');
    const slow = settle(client.request('slow'));
    await until(() => started.length === 1, 'the slow handler to start');
    clock.increment(1_000);
    const { error } = await slow;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe(ErrorCodes.HandlerTimeout);
    expect(lines).toEqual(['warn: "slow" answered -32001: method "slow" did not finish within 1000 ms (handlerTimeout)']);
  });
});
