/** The same hooks, schema checks and interop answers on a NATS responder as over WebSocket. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { connect, serve, type Client, type ErrorInfo, type NatsServer, type UnmatchedEvent } from '../../src/index.js';
import { closeAfterEach, deferred, settle } from '../helpers.js';
import { publishRaw, startNatsServer, type NatsServerProcess } from '../nats-helpers.js';

let nats: NatsServerProcess;
let client: Client | undefined;
let responder: NatsServer | undefined;
let subjectCount = 0;
const nextSubject = () => `test.hooks${++subjectCount}`;

beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});
closeAfterEach(() => [client, responder]);

describe('a NATS responder', () => {
  it('runs middleware, checks params by schema, and reports handler and protocol errors to onError', async () => {
    const subject = nextSubject();
    const seen: Array<[string | undefined, ErrorInfo['kind'], string]> = [];
    responder = await serve({
      nats: nats.url,
      subject,
      use: [async (ctx, next) => ({ wrapped: await next(), via: ctx.connection.transport })],
      onError: (error, info) => seen.push([info.method, info.kind, (error as Error).message]),
      methods: {
        add: { params: z.tuple([z.number(), z.number()]), handler: ([a, b]) => a + b },
        boom: () => {
          throw new Error('secret internals');
        },
      },
    });
    client = connect(nats.url, { subject });
    expect(await client.request('add', [1, 2])).toEqual({ wrapped: 3, via: 'nats' });
    expect((await settle(client.request('add', { a: 1 }))).error.code).toBe(-32602);
    expect((await settle(client.request('boom'))).error.message).toBe('secret internals');
    expect((await settle(client.request('missing'))).error.code).toBe(-32601);
    expect(seen.map(([method, kind]) => [method, kind])).toEqual([
      ['add', 'handler'],
      ['boom', 'handler'],
      ['missing', 'protocol'],
    ]);
  });

  it('reports to onError what it answers itself: busy while access checks wait, access denied, unreadable headers, an answer past max_payload', async () => {
    const subject = nextSubject();
    const seen: Array<[string | undefined, ErrorInfo['kind'], number | undefined, string | undefined]> = [];
    let checks = 0;
    const release = deferred<boolean>();
    responder = await serve({
      nats: nats.url,
      subject,
      maxInFlightPerConnection: 1,
      closeTimeout: 200,
      // The first check waits (then refuses), so that the next message finds the line of checks full; the others pass.
      authenticate: ({ headers }) => (checks++, headers['x-hold'] === undefined || release.promise),
      onError: (_error, info) =>
        seen.push([info.method, info.kind, info.response?.code, info.connection.headers['x-who'] as string | undefined]),
      methods: { echo: (p: unknown) => p, huge: () => 'x'.repeat(2 * 1024 * 1024) },
    });
    const held = connect(nats.url, { subject, timeout: 5_000, headers: { 'x-hold': '1' } });
    const holding = settle(held.request('echo', [1]));
    await expect.poll(() => checks).toBe(1);
    client = connect(nats.url, { subject, timeout: 5_000, headers: { 'x-who': 'second' } });
    expect((await settle(client.request('echo', [2]))).error.code).toBe(-32000);
    release.resolve(false);
    expect((await holding).error.code).toBe(-32003);
    await held.close();
    await publishRaw(nats.url, subject, 'NATS/1.0\r\nbad name: x\r\n\r\n', '{"jsonrpc":"2.0","id":7,"method":"echo"}', 'hooks.answers');
    expect((await settle(client.request('huge'))).error.code).toBe(-32603);
    expect(seen).toEqual([
      ['echo', 'protocol', -32000, 'second'],
      ['echo', 'protocol', -32003, undefined],
      ['echo', 'protocol', -32600, undefined],
      ['huge', 'protocol', -32603, 'second'],
    ]);
  });

  it('answers -32800 to a cancelled call, which the client expects (not late), and runs notifications', async () => {
    const subject = nextSubject();
    const started = deferred();
    const aborted = deferred();
    const logged = deferred<unknown>();
    responder = await serve({
      nats: nats.url,
      subject,
      methods: {
        slow: (_p: unknown, ctx) =>
          new Promise((_resolve, reject) => {
            started.resolve();
            ctx.signal.addEventListener('abort', () => (aborted.resolve(), reject(new Error('aborted'))));
          }),
        log: (params: unknown) => logged.resolve(params),
        echo: (p: unknown) => p,
      },
    });
    client = connect(nats.url, { subject });
    const unmatched: UnmatchedEvent[] = [];
    client.on('unmatched', (event) => unmatched.push(event));
    const controller = new AbortController();
    const call = client.request('slow', undefined, { signal: controller.signal });
    await started.promise;
    controller.abort(new Error('stop'));
    expect((await settle(call)).error.message).toBe('stop');
    await aborted.promise;
    client.notify('log', { line: 1 });
    expect(await logged.promise).toEqual({ line: 1 });
    expect(await client.request('echo', ['after'])).toEqual(['after']);
    expect(unmatched).toEqual([]);
  });
});

describe('a NATS responder closing', () => {
  it('ends once a running notification handler ends, not after the whole drain window', async () => {
    const subject = nextSubject();
    const started = deferred();
    const release = deferred();
    responder = await serve({
      nats: nats.url,
      subject,
      closeTimeout: 120_000,
      methods: {
        note: async () => {
          started.resolve();
          await release.promise;
        },
      },
    });
    client = connect(nats.url, { subject });
    client.notify('note', []);
    await started.promise;
    let closed = false;
    const closing = responder.close({ drain: 120_000 }).then(() => (closed = true));
    // Once the responder has left the subject (a request finds no responders), close() waits for the handler alone.
    await expect
      .poll(async () => ((await settle(client!.request('probe', [], { timeout: 5_000 }))).error as Error | undefined)?.name, {
        timeout: 10_000,
      })
      .toBe('NoRespondersError');
    expect(closed).toBe(false);
    release.resolve();
    // Without the idle signal from notifications, this waits the 120 s drain window and the test times out.
    await closing;
    expect(closed).toBe(true);
    responder = undefined;
  });
});
