/**
 * Hostile and odd input against what session 22 added: JSON-RPC 1.0 string errors, `"params": null`, the NATS
 * caller's time left in its reply subject (`<inbox>.<call id>~<ms>`), `serve()`'s refusal of other kinds' options,
 * `reconnectNow()` from the connection's own listeners, and `ctx.signal.reason` read late. Each gets a clear answer
 * or a clear close: no crash, no hang, nothing held.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, ErrorCodes, RemoteError, type Client, type NatsServer, type Server } from '../../src/index.js';
import { closeAfterEach, deferred, orHang, rawClient, settle, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
let client: Client | undefined;
let server: Server | undefined;
let responder: NatsServer | undefined;
let subjects = 0;
const nextSubject = () => `adv22.svc${++subjects}`;

closeAfterEach(() => {
  const items = [client, server, responder];
  client = server = responder = undefined;
  return items;
});

/** A NATS client whose calls never time out on their own: its clock never moves. */
const stillClient = (subject: string) => connect(nats.url, { subject, clock: new SimulatedClock(), heartbeat: 0 });

/** A plain nats.js responder on `subject` answering every request with `answer(request)`, subscribed before it returns. */
async function rawResponder(subject: string, answer: (request: { id: unknown }) => string) {
  const sub = nats.raw.subscribe(subject, {
    callback: (_error, msg) => void msg.respond(new TextEncoder().encode(answer(JSON.parse(msg.string())))),
  });
  await nats.raw.flush();
  return sub;
}

describe('an error with id null on a NATS call’s own reply subject', () => {
  it('a JSON-RPC 1.0 string error with id null fails that call at once with RemoteError -32603, not at its timeout', async () => {
    const subject = nextSubject();
    const sub = await rawResponder(subject, () => '{"id":null,"result":null,"error":"rpc: cannot decode request"}');
    try {
      client = stillClient(subject);
      const unmatched: unknown[] = [];
      client.on('unmatched', ({ reason, id }) => void unmatched.push({ reason, id }));
      const failed = await orHang(settle(client.request('x')), 'the call');
      expect(failed.error).toBeInstanceOf(RemoteError);
      expect(failed.error).toMatchObject({
        name: 'RemoteError',
        code: ErrorCodes.InternalError,
        message: 'rpc: cannot decode request',
        data: 'rpc: cannot decode request',
      });
      // Reported as well, as over HTTP: by its id it matched no call.
      expect(unmatched).toEqual([{ reason: 'unknown', id: null }]);
      expect(client.pendingCalls).toBe(0);
    } finally {
      sub.unsubscribe();
    }
  });

  it("callstate's own responder refusing a request past its maxDepth (-32600, id null) fails the call at once", async () => {
    const subject = nextSubject();
    responder = await serve({ nats: nats.url, subject, maxDepth: 4, methods: { echo: (params: unknown) => params } });
    client = stillClient(subject);
    const failed = await orHang(settle(client.request('echo', [[[[['deep']]]]])), 'the call');
    expect(failed.error).toBeInstanceOf(RemoteError);
    expect(failed.error).toMatchObject({ name: 'RemoteError', code: ErrorCodes.InvalidRequest });
    expect(failed.error.message).toMatch(/nest/);
    // A request it can read is answered as ever.
    expect(await orHang(client.request('echo', [1]), 'the next call')).toEqual([1]);
  });

  it("an answer with another call's id on a call's subject fails that call at once (as over HTTP), and no other", async () => {
    const subject = nextSubject();
    let n = 0;
    const sub = await rawResponder(subject, ({ id }) =>
      ++n === 1
        ? '{"jsonrpc":"2.0","id":"someone-else","error":{"code":1,"message":"not yours"}}'
        : JSON.stringify({ jsonrpc: '2.0', id, result: n }),
    );
    try {
      client = connect(nats.url, { subject, timeout: 60_000, clock: new SimulatedClock(), heartbeat: 0 });
      const unmatched: string[] = [];
      client.on('unmatched', ({ reason }) => void unmatched.push(reason));
      const first = client.request('x');
      // Not the stray error (no error of this call's), but no answer either: none other comes on its subject
      // (nats-bad-reply-23).
      expect((await settle(first)).error).toMatchObject({
        name: 'ProtocolError',
        message: expect.stringContaining('was answered on its reply subject with a payload that holds no JSON-RPC answer to this call'),
      });
      expect(unmatched).toEqual(['unknown']);
      expect(await orHang(client.request('y'), 'the second call')).toBe(2);
    } finally {
      sub.unsubscribe();
    }
  });
});

describe('hostile time-left marks in a NATS reply subject', () => {
  it('only a whole number from 1 to 2^31-1 after the last "~" of the last token bounds the handler; anything else is ignored', async () => {
    const subject = nextSubject();
    const release = deferred();
    const aborted: Record<string, boolean> = {};
    let started = 0;
    responder = await serve({
      nats: nats.url,
      subject,
      methods: {
        hold: async ({ mark }: { mark: string }, ctx) => {
          started++;
          await release.promise;
          aborted[mark] = ctx.signal.aborted;
          return mark;
        },
      },
    });
    const ignored = [
      '~0',
      '~-5',
      '~1e9',
      '~99999999999999999999',
      '~NaN',
      '~',
      '~2147483648',
      '~4294967296',
      '~ 5',
      '~5.5',
      '~0x10',
      '~5~',
    ];
    const answers: Record<string, string> = {};
    const inbox = `_INBOX.adv22marks`;
    const sub = nats.raw.subscribe(`${inbox}.>`, {
      callback: (_error, msg) => void (answers[msg.subject.slice(inbox.length + 1)] = msg.string()),
    });
    await nats.raw.flush();
    for (const [i, mark] of ignored.entries()) {
      const frame = JSON.stringify({ jsonrpc: '2.0', id: i, method: 'hold', params: { mark } });
      nats.raw.publish(subject, new TextEncoder().encode(frame), { reply: `${inbox}.c${i}${mark.replace(' ', '_')}` });
    }
    await nats.raw.flush();
    await until(() => started === ignored.length, 'every request to run');
    release.resolve();
    await until(() => Object.keys(answers).length === ignored.length, 'every answer');
    // Each ran to its end unaborted and was answered with its result: no mark cut it short (no timer overflow to 1 ms).
    expect(Object.values(answers).map((text) => JSON.parse(text).result)).toEqual(expect.arrayContaining(ignored));
    expect(Object.values(aborted)).toEqual(ignored.map(() => false));
    sub.unsubscribe();
  });

  it('the largest mark (2^31-1 ms) and a mark on a subject with no inbox are taken, neither aborting at once', async () => {
    const subject = nextSubject();
    const release = deferred();
    const seen: boolean[] = [];
    let started = 0;
    responder = await serve({
      nats: nats.url,
      subject,
      methods: {
        hold: async (_params: unknown, ctx) => {
          started++;
          await release.promise;
          seen.push(ctx.signal.aborted);
          return 'done';
        },
      },
    });
    const answers: string[] = [];
    for (const reply of ['adv22.bare~2147483647', '~2147483647']) {
      nats.raw.subscribe(reply, { max: 1, callback: (_error, msg) => void answers.push(msg.string()) });
      await nats.raw.flush();
      nats.raw.publish(subject, new TextEncoder().encode('{"jsonrpc":"2.0","id":1,"method":"hold","params":[]}'), { reply });
      await nats.raw.flush();
    }
    await until(() => started === 2, 'both to run');
    release.resolve();
    await until(() => answers.length === 2, 'both answers');
    expect(answers.map((text) => JSON.parse(text).result)).toEqual(['done', 'done']);
    expect(seen).toEqual([false, false]);
  });
});

describe('"params": null, with middleware and in batches', () => {
  it('middleware and handler see undefined for each call and notification of a batch, over WebSocket and HTTP', async () => {
    const seen: string[] = [];
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      use: [
        async (ctx, next) => {
          seen.push(`use ${typeof ctx.params}`);
          return next();
        },
      ],
      methods: {
        none: (params: unknown) => {
          seen.push(`handler ${typeof params}`);
          return params === undefined ? 'none' : 'some';
        },
      },
    });
    const batch =
      '[{"jsonrpc":"2.0","id":1,"method":"none","params":null},{"jsonrpc":"2.0","method":"none","params":null},{"jsonrpc":"2.0","id":2,"method":"none","params":null}]';
    const raw = await rawClient(server.url);
    try {
      raw.send(batch);
      expect(await raw.next()).toEqual([
        { jsonrpc: '2.0', id: 1, result: 'none' },
        { jsonrpc: '2.0', id: 2, result: 'none' },
      ]);
    } finally {
      await raw.close();
    }
    const response = await fetch(server.httpUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: batch });
    expect(await response.json()).toEqual([
      { jsonrpc: '2.0', id: 1, result: 'none' },
      { jsonrpc: '2.0', id: 2, result: 'none' },
    ]);
    await until(() => seen.length === 12, 'the notifications to run');
    expect(new Set(seen)).toEqual(new Set(['use undefined', 'handler undefined']));
  });
});

describe('serve() given odd options objects', () => {
  it('a getter or Proxy trap that throws rejects serve() with its error; inherited options count; undefined ones are allowed', async () => {
    const getter = { port: 0, host: '127.0.0.1', methods: {} };
    Object.defineProperty(getter, 'maxInFlight', {
      get: () => {
        throw new Error('getter says no');
      },
      enumerable: true,
    });
    expect((await settle(serve(getter))).error).toMatchObject({ message: 'getter says no' });
    const trap = new Proxy(
      { port: 0, host: '127.0.0.1', methods: {} },
      {
        has: () => {
          throw new Error('has says no');
        },
      },
    );
    expect((await settle(serve(trap))).error).toMatchObject({ message: 'has says no' });
    const inherited = Object.assign(Object.create({ port: 1 }), { nats: nats.url, subject: nextSubject(), methods: {} });
    const refused = await settle(serve(inherited));
    expect(refused.error).toBeInstanceOf(TypeError);
    expect(refused.error.message).toBe(
      "options.port applies to serve()'s WebSocket and HTTP listener only, not to a NATS responder (options.nats)",
    );
    responder = (await serve({
      nats: nats.url,
      subject: nextSubject(),
      methods: {},
      port: undefined,
      maxInFlight: undefined,
    } as never)) as NatsServer;
    server = (await serve({
      port: 0,
      host: '127.0.0.1',
      methods: {},
      subject: undefined,
      reconnect: undefined,
    } as never)) as unknown as Server;
    expect([responder.subject.startsWith('adv22.'), server.port > 0]).toEqual([true, true]);
  });
});

describe('reconnectNow() from the connection’s own listeners', () => {
  it('called 100 times from each reconnecting listener and from open and close listeners: one attempt at a time, never throws', async () => {
    server = await serve({ methods: { echo: (params: unknown) => params } });
    let most = 0;
    server.on('connection', () => void (most = Math.max(most, server!.connections.size)));
    client = connect(server.url, {
      reconnect: { initialDelay: 60_000, maxDelay: 600_000, minUptime: 0, jitter: 0 },
      clock: new SimulatedClock(),
      heartbeat: 0,
    });
    const answers: string[] = [];
    client.on('reconnecting', () => {
      for (let i = 0; i < 100; i++) answers.push(`reconnecting ${client!.reconnectNow()}`);
    });
    client.on('open', () => void answers.push(`open ${client!.reconnectNow()}`));
    client.on('close', () => void answers.push(`close ${client!.reconnectNow()}`));
    await client.ready;
    for (let epoch = 2; epoch <= 4; epoch++) {
      for (const peer of server.connections) void peer.terminate();
      await until(() => client!.epoch === epoch && client!.state === 'open', `epoch ${epoch}`);
    }
    expect(await client.request('echo', [1])).toEqual([1]);
    await client.close();
    // Only the first of each hundred ended a wait; the backoff of 60 s never had to pass.
    expect(answers.filter((answer) => answer === 'reconnecting true')).toHaveLength(3);
    expect(answers.filter((answer) => answer === 'reconnecting false')).toHaveLength(297);
    expect(answers.filter((answer) => !answer.startsWith('reconnecting'))).toEqual([
      'open false',
      'open false',
      'open false',
      'open false',
      'close false',
    ]);
    expect(most).toBe(1);
  });
});

describe('ctx.signal.reason read only after the abort', () => {
  for (const engine of ['light', 'xstate'] as const) {
    it(`on the ${engine} engine: a cancelled call of a batch, a notification and a request whose connection closed`, async () => {
      const release = deferred();
      const started: string[] = [];
      const reasons: Record<string, string> = {};
      server = await serve({
        engine,
        methods: {
          hold: async ({ tag }: { tag: string }, ctx) => {
            started.push(tag);
            await release.promise;
            reasons[tag] = ctx.signal.aborted ? String((ctx.signal.reason as DOMException).message) : 'not aborted';
          },
        },
      });
      const a = await rawClient(server.url);
      a.send(
        '[{"jsonrpc":"2.0","id":"b1","method":"hold","params":{"tag":"cancelled in a batch"}},{"jsonrpc":"2.0","id":"b2","method":"hold","params":{"tag":"its neighbour"}}]',
      );
      await until(() => started.length === 2, 'the batch to run');
      a.send('{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"b1"}}');
      const b = await rawClient(server.url);
      b.send('{"jsonrpc":"2.0","method":"hold","params":{"tag":"notification"}}');
      b.send('{"jsonrpc":"2.0","id":1,"method":"hold","params":{"tag":"request"}}');
      await until(() => started.length === 4, 'all to run');
      await b.close();
      await until(() => server!.connections.size === 1, 'the close to be seen');
      release.resolve();
      expect(await a.next()).toEqual([
        { jsonrpc: '2.0', id: 'b1', error: { code: -32800, message: 'request cancelled: "hold" was cancelled by its caller' } },
        { jsonrpc: '2.0', id: 'b2', result: null },
      ]);
      await until(() => Object.keys(reasons).length === 4, 'every handler to read its signal');
      expect(reasons).toEqual({
        'cancelled in a batch': 'cancelled by the caller ($/cancelRequest)',
        'its neighbour': 'not aborted',
        notification: 'the connection closed',
        request: 'the connection closed',
      });
      await a.close();
    });
  }
});
