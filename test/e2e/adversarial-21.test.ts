/**
 * Adversarial tests of session 21's features and leniencies, as a hostile peer or an unlucky user would hit them:
 * the caller's timeout in a NATS reply subject, `inboxPrefix`, JSON-RPC 1.0 responses and byte order marks,
 * methods objects that are no plain object, params schemas whose issues fight back, and `next()` racing an answer.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, ErrorCodes, type Client, type HandlerContext, type NatsServer, type Server } from '../../src/index.js';
import { closeAfterEach, collectUncaught, deferred, rawClient, until } from '../helpers.js';
import { WebSocketServer, type WebSocket } from 'ws';
import { useNatsServer } from '../nats-helpers.js';

const nats = useNatsServer();
const uncaught = collectUncaught();
let client: Client | undefined;
let responder: NatsServer | undefined;
let server: Server | undefined;
let subjects = 0;
const nextSubject = () => `adv21.svc${++subjects}`;

closeAfterEach(() => {
  const items = [client, responder, server];
  client = responder = server = undefined;
  return items;
});

let inboxes = 0;
/** Publishes `frame` with the reply subject `<a fresh inbox>.<token>`; resolves with every answer that comes there until `count`. */
function rawRequest(subject: string, frame: object, token: (inbox: string) => string, count = 1): Promise<any[]> {
  const inbox = `_INBOX.adv21x${++inboxes}`;
  return new Promise((resolve) => {
    const answers: any[] = [];
    nats.raw.subscribe(`${inbox}.>`, {
      max: count,
      callback: (_error, msg) => {
        answers.push(JSON.parse(msg.string()));
        if (answers.length === count) resolve(answers);
      },
    });
    void nats.raw.flush().then(() => nats.raw.publish(subject, JSON.stringify(frame), { reply: token(inbox) }));
  });
}

const hangRequest = (id: number | string) => ({ jsonrpc: '2.0', id, method: 'hang', params: [] });

describe('NATS: hostile timeouts in reply subjects', () => {
  it('reads the timeout after the last ~ of the last token only: a ~ in the inbox part or many ~ set nothing else', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const release = deferred<string>();
    const seen: unknown[] = [];
    responder = await serve({
      nats: nats.url,
      subject,
      clock,
      methods: { hang: () => release.promise },
      onError: (error) => seen.push(error),
    });
    // ~ in the inbox's tokens, not in the last: no timeout.
    const noMark = rawRequest(subject, hangRequest(1), (inbox) => `${inbox}.a~5.x~7.id1`);
    // Many ~ in the last token: the digits after the last one.
    const many = rawRequest(subject, hangRequest(2), (inbox) => `${inbox}.id~~5~7`);
    // A token that looks like a wildcard but is none, and a long reply subject (3,000 characters).
    const star = rawRequest(subject, hangRequest(3), (inbox) => `${inbox}.*~9`);
    const long = rawRequest(subject, hangRequest(4), (inbox) => `${inbox}.${'a'.repeat(3_000)}~11`);
    await until(() => responder!.handlingCalls === 4, `every call running (${responder!.handlingCalls})`);
    clock.increment(11);
    const timedOut = await Promise.all([many, star, long]);
    expect(timedOut.map(([answer]) => [answer.id, answer.error.code, answer.error.data])).toEqual([
      [2, ErrorCodes.HandlerTimeout, { method: 'hang', timeout: 7 }],
      [3, ErrorCodes.HandlerTimeout, { method: 'hang', timeout: 9 }],
      [4, ErrorCodes.HandlerTimeout, { method: 'hang', timeout: 11 }],
    ]);
    expect(responder.handlingCalls).toBe(1);
    release.resolve('done');
    expect((await noMark)[0]).toEqual({ jsonrpc: '2.0', id: 1, result: 'done' });
    expect(seen).toHaveLength(3);
    expect(uncaught).toEqual([]);
  });

  it('survives a deadline storm: 500 callers with timeouts of 1 to 500 ms, gone before their answers, leave nothing running', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    let aborted = 0;
    const hang = (_params: unknown, ctx: HandlerContext) =>
      new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => (aborted++, reject(ctx.signal.reason))));
    responder = await serve({ nats: nats.url, subject, clock, methods: { hang } });
    for (let i = 0; i < 500; i++) nats.raw.publish(subject, JSON.stringify(hangRequest(i)), { reply: `_INBOX.gone${i}.c${i}~${1 + i}` });
    await nats.raw.flush();
    await until(() => responder!.handlingCalls === 500, 'every call running');
    // Each its own timeout, one chain of the deadline scheduler each.
    clock.increment(500);
    await until(() => responder!.handlingCalls === 0, 'every call ended');
    expect(aborted).toBe(500);
    // Still answers.
    const answer = rawRequest(subject, { jsonrpc: '2.0', id: 'after', method: 'hang' }, (inbox) => `${inbox}.after~1`);
    await until(() => responder!.handlingCalls === 1, 'the call running');
    clock.increment(1);
    expect((await answer)[0].error.code).toBe(ErrorCodes.HandlerTimeout);
    expect(uncaught).toEqual([]);
  });
});

describe('NATS: a batch with a timeout in its reply subject', () => {
  it("aborts each of its calls still running at the caller's timeout, and answers the batch once, whole", async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const errors: unknown[] = [];
    const hang = (_params: unknown, ctx: HandlerContext) =>
      new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
    responder = await serve({
      nats: nats.url,
      subject,
      clock,
      methods: { hang, echo: (p: unknown) => p },
      onError: (_error, info) => errors.push([info.kind, info.id]),
    });
    const batch = [hangRequest('a'), { jsonrpc: '2.0', id: 'b', method: 'echo', params: ['b'] }, hangRequest('c')];
    const answers = rawRequest(subject, batch, (inbox) => `${inbox}.batch~25`);
    await until(() => responder!.handlingCalls === 2, 'the hanging calls running');
    clock.increment(25);
    const [answer] = await answers;
    const timedOut = (id: string) => ({
      jsonrpc: '2.0',
      id,
      error: {
        code: ErrorCodes.HandlerTimeout,
        message: `method "hang" did not finish within 25 ms (the caller's timeout)`,
        data: { method: 'hang', timeout: 25 },
      },
    });
    expect([...answer].sort((x: any, y: any) => (x.id < y.id ? -1 : 1))).toEqual([
      timedOut('a'),
      { jsonrpc: '2.0', id: 'b', result: ['b'] },
      timedOut('c'),
    ]);
    expect(errors).toEqual([
      ['handler', 'a'],
      ['handler', 'c'],
    ]);
    expect(responder.handlingCalls).toBe(0);
  });
});

describe('NATS: a call whose timeout is no whole number of ms', () => {
  it('sends it rounded up, so that its cancel still reaches the handler and the responder keeps its deadline', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const reasons: unknown[] = [];
    const started: HandlerContext[] = [];
    const hang = (_params: unknown, ctx: HandlerContext) =>
      new Promise((_resolve, reject) => {
        started.push(ctx);
        ctx.signal.addEventListener('abort', () => (reasons.push(ctx.signal.reason), reject(ctx.signal.reason)));
      });
    responder = await serve({ nats: nats.url, subject, clock, methods: { hang } });
    const replies: string[] = [];
    const watcher = nats.raw.subscribe(subject, { callback: (_error, msg) => void replies.push(msg.reply ?? '') });
    await nats.raw.flush();
    // One clock for both sides: the caller's own timeout (a cancel on the wire, batched to the end of the tick) fires in
    // the same increment as the responder's deadline, which therefore aborts the handler first.
    client = connect(nats.url, { subject, timeout: 60_000, clock });
    // Cancelled by its caller: the cancel names the caller by its inbox, as the request's reply subject must.
    const controller = new AbortController();
    const cancelled = client.request('hang', [], { timeout: 1_000.5, signal: controller.signal }).catch((error: unknown) => error);
    await until(() => started.length === 1, 'the first call running');
    controller.abort();
    expect(await cancelled).toMatchObject({ name: 'AbortError' });
    await until(() => reasons.length === 1, 'the handler aborted by the cancel');
    expect(reasons[0]).toMatchObject({ name: 'AbortError' });
    // Aborted once the caller's timeout, rounded up, has passed, before the caller's own cancel can arrive.
    void client.request('hang', [], { timeout: 0.5 }).catch(() => {});
    await until(() => started.length === 2, 'the second call running');
    clock.increment(1);
    await until(() => reasons.length === 2, 'the handler aborted at the deadline');
    expect(reasons[1]).toMatchObject({ name: 'TimeoutError', message: `method "hang" did not finish within 1 ms (the caller's timeout)` });
    // The watcher is a connection of its own: the server may deliver to it after the responder.
    await until(() => replies.length === 2, 'the watcher seeing both requests');
    watcher.unsubscribe();
    expect(replies[0]).toMatch(/^_INBOX\.\w+\.[\w-]{21}~1001$/);
    expect(replies[1]).toMatch(/^_INBOX\.\w+\.[\w-]{21}~1$/);
  });
});

describe('NATS: a deadline racing an answer and a cancel', () => {
  it('answers once, -32001, when the handler answers at the very instant of the deadline and a cancel follows; the hooks hear once', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const errors: unknown[] = [];
    let ran = 0;
    const answerAt = (_params: unknown, ctx: HandlerContext) =>
      new Promise((resolve) => {
        ran++;
        clock.setTimeout(() => resolve('in time?'), 5);
        ctx.signal.addEventListener('abort', () => resolve('aborted'));
      });
    responder = await serve({
      nats: nats.url,
      subject,
      clock,
      methods: { answerAt, echo: (p: unknown) => p },
      onError: (error, info) => errors.push([info.kind, info.id, (error as { code?: number }).code]),
    });
    const inbox = `_INBOX.adv21race${++inboxes}`;
    const answers: any[] = [];
    nats.raw.subscribe(`${inbox}.>`, { callback: (_error, msg) => void answers.push(JSON.parse(msg.string())) });
    await nats.raw.flush();
    nats.raw.publish(subject, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'answerAt' }), { reply: `${inbox}.1~5` });
    await nats.raw.flush();
    await until(() => ran === 1, 'the handler running');
    clock.increment(5);
    nats.raw.publish(`${subject}.$cancel`, JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 1 } }), {
      reply: `${inbox}._`,
    });
    // Answered in order: anything more for call 1 would come before this.
    nats.raw.publish(subject, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo', params: ['last'] }), { reply: `${inbox}.2~50` });
    await until(() => answers.some((answer) => answer.id === 2), 'the last answer');
    expect(answers).toEqual([
      {
        jsonrpc: '2.0',
        id: 1,
        error: {
          code: ErrorCodes.HandlerTimeout,
          message: `method "answerAt" did not finish within 5 ms (the caller's timeout)`,
          data: { method: 'answerAt', timeout: 5 },
        },
      },
      { jsonrpc: '2.0', id: 2, result: ['last'] },
    ]);
    expect(errors).toEqual([['handler', 1, ErrorCodes.HandlerTimeout]]);
    expect(responder.handlingCalls).toBe(0);
  });
});

describe('NATS: inboxPrefix, odd but valid', () => {
  for (const inboxPrefix of ['_INBOX_alice', 'a.b.c.d', 'x~1', 'inbox.ünï', 'p.5~1', '$I']) {
    it(`calls, times out and cancels through an inbox under ${JSON.stringify(inboxPrefix)}`, async () => {
      const subject = nextSubject();
      const clock = new SimulatedClock();
      const reasons: unknown[] = [];
      const hang = (_params: unknown, ctx: HandlerContext) =>
        new Promise((_resolve, reject) =>
          ctx.signal.addEventListener('abort', () => (reasons.push(ctx.signal.reason), reject(ctx.signal.reason))),
        );
      responder = await serve({ nats: nats.url, subject, clock, methods: { echo: (p: unknown) => p, hang } });
      client = connect(nats.url, { subject, inboxPrefix, timeout: 10_000 });
      expect(await client.request('echo', ['hi'])).toEqual(['hi']);
      const controller = new AbortController();
      const cancelled = client.request('hang', [], { signal: controller.signal }).catch((error: unknown) => error);
      await until(() => responder!.handlingCalls === 1, 'the call running');
      controller.abort();
      expect(await cancelled).toMatchObject({ name: 'AbortError' });
      await until(() => reasons.length === 1, 'the cancel reaching the handler');
      void client.request('hang', [], { timeout: 30 }).catch(() => {});
      await until(() => responder!.handlingCalls === 1, 'the second call running');
      await client.terminate();
      clock.increment(30);
      await until(() => reasons.length === 2, 'the deadline reaching the handler');
      expect(reasons[1]).toMatchObject({ name: 'TimeoutError' });
    });
  }
});

describe('byte order marks: one place reads them, alike on every transport', () => {
  const request = (id: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'echo', params: [id] });
  const frames = {
    'one BOM before a batch': `\ufeff[${request(1)},${request(2)}]`,
    'two BOMs': `\ufeff\ufeff${request(3)}`,
    'a BOM inside a batch': `[\ufeff${request(4)}]`,
    'a BOM only': '\ufeff',
    'a BOM after the JSON': `${request(5)}\ufeff`,
  };
  /** An answer as compared: a result, or an error's code (parse errors' words are JSON.parse's). */
  const shape = (answer: any): unknown =>
    Array.isArray(answer) ? answer.map(shape).sort() : answer.error ? `${answer.id}:${answer.error.code}` : `${answer.id}:ok`;

  it('answers a WebSocket server and a NATS responder the same', async () => {
    const subject = nextSubject();
    const methods = { echo: (p: unknown) => p };
    server = await serve({ port: 0, host: '127.0.0.1', methods });
    responder = await serve({ nats: nats.url, subject, methods });
    const ws = await rawClient(server.url);
    try {
      const overWs: Record<string, unknown> = {};
      const overNats: Record<string, unknown> = {};
      for (const [name, frame] of Object.entries(frames)) {
        ws.send(frame);
        overWs[name] = shape(await ws.next());
        const inbox = `_INBOX.adv21bom${++inboxes}`;
        const answer = new Promise<unknown>((resolve) =>
          nats.raw.subscribe(`${inbox}.>`, { max: 1, callback: (_error, msg) => resolve(JSON.parse(msg.string())) }),
        );
        await nats.raw.flush();
        nats.raw.publish(subject, frame, { reply: `${inbox}.x~1000` });
        overNats[name] = shape(await answer);
      }
      expect(overWs).toEqual({
        'one BOM before a batch': ['1:ok', '2:ok'],
        'two BOMs': `null:${ErrorCodes.ParseError}`,
        'a BOM inside a batch': `null:${ErrorCodes.ParseError}`,
        'a BOM only': `null:${ErrorCodes.ParseError}`,
        'a BOM after the JSON': `null:${ErrorCodes.ParseError}`,
      });
      expect(overNats).toEqual(overWs);
    } finally {
      await ws.close();
    }
  });
});

describe('byte order marks in answers', () => {
  it('an HTTP client reads a body starting with two byte order marks as a WebSocket client reads such a frame: not JSON', async () => {
    const http = await import('node:http');
    const unmatched: string[] = [];
    const answering = http.createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        const { id } = JSON.parse(body);
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(`\ufeff\ufeff${JSON.stringify({ jsonrpc: '2.0', id, result: 'read' })}`);
      });
    });
    await new Promise<void>((resolve) => answering.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = answering.address() as { port: number };
      client = connect(`http://127.0.0.1:${port}/`, { timeout: 60_000 });
      client.on('unmatched', ({ reason }) => void unmatched.push(reason));
      const outcome = await client.request('echo', []).then(
        (value) => ({ value }),
        (error: Error) => ({ error: error.name, message: error.message }),
      );
      expect(outcome).toEqual({
        error: 'HttpError',
        message: `http://127.0.0.1:${port}/ answered HTTP 200 with a body that holds no JSON-RPC answer to this call`,
      });
      expect(unmatched).toEqual(['malformed']);
    } finally {
      await client?.close();
      client = undefined;
      await new Promise((resolve) => answering.close(resolve));
    }
  });
});

/** A WebSocket server of `ws` alone that hands each request it gets to `answer`, which writes what it likes. */
async function hostileServer(answer: (socket: WebSocket, request: { id: string; method: string }) => void) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  wss.on('connection', (socket) =>
    socket.on('message', (data) => {
      const frame = JSON.parse(data.toString());
      if (frame.id !== undefined && frame.method !== undefined) answer(socket, frame);
    }),
  );
  const { port } = wss.address() as { port: number };
  return {
    url: `ws://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => (wss.clients.forEach((socket) => socket.terminate()), wss.close(() => resolve()))),
  };
}

describe('byte order marks in NATS answers', () => {
  it('a NATS client reads an answer starting with two byte order marks as a WebSocket client does: not JSON, reported, its call failed', async () => {
    const subject = nextSubject();
    const answering = nats.raw.subscribe(subject, {
      callback: (_error, msg) => {
        const { id } = JSON.parse(msg.string());
        msg.respond(`\ufeff\ufeff${JSON.stringify({ jsonrpc: '2.0', id, result: 'read' })}`);
        msg.respond(JSON.stringify({ jsonrpc: '2.0', id, result: 'second' }));
      },
    });
    await nats.raw.flush();
    try {
      const unmatched: string[] = [];
      client = connect(nats.url, { subject, timeout: 60_000 });
      client.on('unmatched', ({ reason }) => void unmatched.push(reason));
      // Not JSON, on the call's own reply subject: the call fails at once, as an HTTP client's does with such a body
      // (nats-bad-reply-23); the answer after it is a duplicate.
      await expect(client.request('echo', [])).rejects.toMatchObject({
        name: 'ProtocolError',
        message: expect.stringContaining('was answered on its reply subject with a payload that holds no JSON-RPC answer to this call'),
      });
      await until(() => unmatched.length === 2, 'both answers reported');
      expect(unmatched).toEqual(['malformed', 'duplicate']);
    } finally {
      answering.unsubscribe();
    }
  });
});

describe('JSON-RPC 1.0 responses from a hostile server', () => {
  it('settle a call once, whatever follows: 1.0 and 2.0 answers to the same id, both members null, neither null', async () => {
    const answers: Record<string, unknown[]> = {
      twice: [
        { id: '$', result: 1, error: null },
        { id: '$', result: null, error: { code: 1, message: 'no' } },
        { jsonrpc: '2.0', id: '$', result: 2 },
      ],
      bothNull: [{ id: '$', result: null, error: null }],
      errorFirst: [
        { id: '$', result: null, error: { code: 7, message: 'seven' } },
        { id: '$', result: 3, error: null },
      ],
      neitherNull: [{ id: '$', result: 4, error: { code: 8, message: 'eight' } }],
      errorNotObject: [{ id: '$', result: null, error: 'a string' }],
    };
    const hostile = await hostileServer((socket, { id, method }) => {
      for (const frame of answers[method]!) socket.send(JSON.stringify(frame).replace('"$"', JSON.stringify(id)));
    });
    try {
      const unmatched: string[] = [];
      client = connect(hostile.url, { timeout: 60_000 });
      client.on('unmatched', ({ reason }) => void unmatched.push(reason));
      const outcome = (method: string) =>
        client!.request(method, []).then(
          (value) => ({ value }),
          (error: any) => ({ error: error.name, code: error.code, message: error.message }),
        );
      expect(await outcome('twice')).toEqual({ value: 1 });
      expect(await outcome('bothNull')).toEqual({ value: null });
      expect(await outcome('errorFirst')).toEqual({ error: 'RemoteError', code: 7, message: 'seven' });
      expect(await outcome('neitherNull')).toMatchObject({ error: 'ProtocolError', message: expect.stringContaining('exactly one of') });
      // Go's net/rpc/jsonrpc writes its errors as strings: taken as -32603 with that message.
      expect(await outcome('errorNotObject')).toEqual({ error: 'RemoteError', code: -32603, message: 'a string' });
      // A call made after them all: anything late for the others was read before its answer.
      answers.last = [{ id: '$', result: 'last', error: null }];
      expect(await outcome('last')).toEqual({ value: 'last' });
      expect(unmatched).toEqual(['duplicate', 'duplicate', 'duplicate', 'malformed']);
    } finally {
      await client?.close();
      client = undefined;
      await hostile.close();
    }
  });

  it('a server takes no request for a response, nor a response for a request, with or without "jsonrpc"', async () => {
    let ran = 0;
    const unmatched: unknown[] = [];
    server = await serve({ port: 0, host: '127.0.0.1', methods: { echo: (p: unknown) => (ran++, p) } });
    server.on('connection', (peer) => peer.on('unmatched', ({ reason }) => void unmatched.push(reason)));
    const ws = await rawClient(server.url);
    try {
      // A request shaped as JSON-RPC 1.0 (no "jsonrpc") that also has "result" and "error": -32600, not run.
      ws.send(JSON.stringify({ id: 1, method: 'echo', params: [1], result: null, error: null }));
      expect(await ws.next()).toMatchObject({ id: 1, error: { code: ErrorCodes.InvalidRequest } });
      // A 1.0 response to no call of the server's: reported, unanswered (the next answer is the echo's).
      ws.send(JSON.stringify({ id: 'nothing', result: 5, error: null }));
      ws.send(JSON.stringify({ result: 5, error: null }));
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo', params: [2], result: 9 }));
      expect(await ws.next()).toEqual({ jsonrpc: '2.0', id: 2, result: [2] });
      expect(ran).toBe(1);
      expect(unmatched).toEqual(['malformed', 'unknown', 'malformed']);
    } finally {
      await ws.close();
    }
  });
});

describe('methods objects that are no plain object', () => {
  /** The answer of a raw request for `method` to a server serving `methods`. */
  async function answerOf(methods: object, method: string): Promise<any> {
    server = await serve({ port: 0, host: '127.0.0.1', methods: methods as Record<string, () => unknown> });
    const ws = await rawClient(server.url);
    try {
      ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: ['p'] }));
      return await ws.next();
    } finally {
      await ws.close();
      await server.close();
      server = undefined;
    }
  }

  it('serves a Proxy, getters, a frozen object and a null-prototype object with a "constructor" method', async () => {
    const echo = (params: unknown) => params;
    const proxy = new Proxy({ echo }, {});
    const getters = {
      get echo() {
        return echo;
      },
    };
    const bare = Object.assign(Object.create(null) as object, { constructor: () => 'built' });
    expect((await answerOf(proxy, 'echo')).result).toEqual(['p']);
    expect((await answerOf(getters, 'echo')).result).toEqual(['p']);
    expect((await answerOf(Object.freeze({ echo }), 'echo')).result).toEqual(['p']);
    expect((await answerOf(bare, 'constructor')).result).toBe('built');
    expect(uncaught).toEqual([]);
  });

  for (const engine of ['light', 'xstate'] as const)
    it(`answers -32603 and tells onError, never crashing, when a getter or a Proxy trap of the methods object throws once served (${engine})`, async () => {
      let armed = false;
      const getter = {
        get echo() {
          if (armed) throw new Error('getter broke');
          return (params: unknown) => params;
        },
      };
      const trapped = new Proxy(
        { echo: (params: unknown) => params },
        {
          getOwnPropertyDescriptor: (target, key) => {
            if (armed) throw new Error('trap broke');
            return Reflect.getOwnPropertyDescriptor(target, key);
          },
          get: (target, key) => {
            if (armed) throw new Error('trap broke');
            return Reflect.get(target, key) as unknown;
          },
        },
      );
      for (const [methods, words] of [
        [getter, 'getter broke'],
        [trapped, 'trap broke'],
      ] as const) {
        armed = false;
        const errors: unknown[] = [];
        server = await serve({
          port: 0,
          host: '127.0.0.1',
          engine,
          methods,
          onError: (error, info) => errors.push([info.kind, info.method, (error as Error).message]),
        });
        armed = true;
        const ws = await rawClient(server.url);
        try {
          ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: [] }));
          expect(await ws.next()).toMatchObject({ id: 1, error: { code: ErrorCodes.InternalError, message: words } });
          // Its id is free again, and a notification of it is run (and reported) the same way.
          ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'echo', params: [] }));
          ws.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'echo', params: [] }));
          expect(await ws.next()).toMatchObject({ id: 1, error: { code: ErrorCodes.InternalError, message: words } });
          await until(() => errors.length === 3, 'every error reported');
          expect(errors.map(String).sort()).toEqual([`handler,echo,${words}`, `handler,echo,${words}`, `notification,echo,${words}`]);
        } finally {
          await ws.close();
          await server.close();
          server = undefined;
        }
      }
      expect(uncaught).toEqual([]);
    });

  it('refuses a methods object whose methods are those of another (Object.create(methods)), saying so', async () => {
    const base = { echo: (params: unknown) => params };
    await expect(serve({ port: 0, methods: Object.create(base) as typeof base })).rejects.toThrow(
      /^options\.methods is .* whose methods \(echo\) are on its prototype/,
    );
    expect(() => connect('ws://127.0.0.1:1', { methods: Object.create(base) as typeof base })).toThrow(TypeError);
  });
});

describe('params schemas whose issues fight back', () => {
  /** A Standard Schema that always fails with `issues()`. */
  const failing = (issues: () => unknown) => ({ '~standard': { version: 1, vendor: 'adv21', validate: () => ({ issues: issues() }) } });
  const throwingGetter = (name: string) =>
    Object.defineProperty({}, name, {
      get() {
        throw new Error(`${name} getter broke`);
      },
    });

  it('answers -32603 (the schema is at fault) when an issue, its message, its path or a segment throws when read', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    cyclic.key = cyclic;
    const methods = {
      message: { params: failing(() => [throwingGetter('message')]), handler: () => 'ran' },
      path: { params: failing(() => [Object.assign(throwingGetter('path'), { message: 'm' })]), handler: () => 'ran' },
      segment: { params: failing(() => [{ message: 'm', path: [throwingGetter('key')] }]), handler: () => 'ran' },
      iterator: {
        params: failing(() => ({
          *[Symbol.iterator]() {
            yield { message: 'first' };
            throw new Error('iterator broke');
          },
        })),
        handler: () => 'ran',
      },
      cyclic: { params: failing(() => [{ message: cyclic, path: [cyclic, { key: cyclic }, cyclic] }]), handler: () => 'ran' },
    } as unknown as Record<string, () => unknown>;
    const errors: unknown[] = [];
    server = await serve({ port: 0, host: '127.0.0.1', methods, onError: (error) => errors.push(error) });
    const ws = await rawClient(server.url);
    try {
      const answers: Record<string, unknown> = {};
      for (const method of Object.keys(methods)) {
        ws.send(JSON.stringify({ jsonrpc: '2.0', id: method, method, params: [] }));
        const answer = (await ws.next()) as { error: { code: number; message: string } };
        answers[method] = answer.error.code;
        expect(JSON.stringify(answer).length).toBeLessThan(20_000);
      }
      expect(answers).toEqual({
        message: ErrorCodes.InternalError,
        path: ErrorCodes.InternalError,
        segment: ErrorCodes.InternalError,
        iterator: ErrorCodes.InternalError,
        cyclic: ErrorCodes.InvalidParams,
      });
      expect(errors).toHaveLength(5);
      expect(uncaught).toEqual([]);
    } finally {
      await ws.close();
    }
  });
});

describe('retry calls against a server that loses every connection they come on', () => {
  it('re-sends none more than its retry: n, fails each with its own count, and settles a call answered twice once', async () => {
    const clock = new SimulatedClock();
    const received = new Map<string, number>();
    const methods = new Map<string, string>();
    // Answers 'dup' calls twice; closes each connection a turn after its first other request.
    const hostile = await hostileServer((socket, { id, method }) => {
      if (method === 'dup') {
        socket.send(JSON.stringify({ jsonrpc: '2.0', id, result: 'first' }));
        socket.send(JSON.stringify({ jsonrpc: '2.0', id, result: 'second' }));
        return;
      }
      received.set(id, (received.get(id) ?? 0) + 1);
      methods.set(id, method);
      setImmediate(() => socket.terminate());
    });
    try {
      const unmatched: string[] = [];
      client = connect(hostile.url, { reconnect: { initialDelay: 10, maxDelay: 10 }, clock, heartbeat: 0, timeout: 60_000 });
      client.on('reconnecting', ({ delay }) => clock.increment(delay));
      client.on('unmatched', ({ reason }) => void unmatched.push(reason));
      await client.ready;
      expect(await client.request('dup', [], { retry: 5 })).toBe('first');
      const calls = Array.from({ length: 40 }, (_, i) => {
        const retry = i % 5; // 0 to 4
        return client!.request(`m${retry}`, [i], { retry }).then(
          () => ({ retry, message: 'answered?' }),
          (error: Error) => ({ retry, message: error.message }),
        );
      });
      const outcomes = await Promise.all(calls);
      for (const { retry, message } of outcomes) {
        if (retry === 0) expect(message).toMatch(/a call is re-sent only with \{ retry: true \}$/);
        else {
          const match =
            /this retry call was written (\d+) times, each time on a connection then lost, and is not sent again \(retry: at most (\d+) re-sends?\)$/.exec(
              message,
            );
          expect(match, message).not.toBeNull();
          expect(Number(match![1])).toBe(retry + 1);
          expect(Number(match![2])).toBe(retry);
        }
      }
      // The server got no call more often than its retry allows (some writes were lost unread with their connection).
      for (const [id, count] of received) expect(count, id).toBeLessThanOrEqual(Number(methods.get(id)!.slice(1)) + 1);
      expect(unmatched).toEqual(['duplicate']);
      expect(client.pendingCalls).toBe(0);
    } finally {
      await client?.close();
      client = undefined;
      await hostile.close();
    }
  });
});

describe('retry calls answered on a later connection', () => {
  it("settle each once, with an answer to its own id: stale answers on the next connection and the re-sends' answers both come", async () => {
    const clock = new SimulatedClock();
    const seen: string[] = [];
    let connections = 0;
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket) => {
      const connection = ++connections;
      // The next connection first answers every call the lost one carried, then each request as it comes.
      for (const id of seen.splice(0)) socket.send(JSON.stringify({ jsonrpc: '2.0', id, result: { id, from: 'stale' } }));
      socket.on('message', (data) => {
        const { id } = JSON.parse(data.toString());
        if (connection === 1) {
          seen.push(id);
          if (seen.length === 20) socket.terminate();
        } else socket.send(JSON.stringify({ jsonrpc: '2.0', id, result: { id, from: 'fresh' } }));
      });
    });
    try {
      const { port } = wss.address() as { port: number };
      const unmatched: string[] = [];
      client = connect(`ws://127.0.0.1:${port}`, { reconnect: { initialDelay: 10 }, clock, heartbeat: 0, timeout: 60_000 });
      client.on('reconnecting', ({ delay }) => clock.increment(delay));
      client.on('unmatched', ({ reason }) => void unmatched.push(reason));
      await client.ready;
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => client!.request('get', [i], { retry: true })));
      expect(connections).toBe(2);
      // Each settled with an answer to its own id, whichever came first.
      expect(new Set(results.map((result: any) => result.id)).size).toBe(20);
      for (const result of results as Array<{ from: string }>) expect(['stale', 'fresh']).toContain(result.from);
      await until(() => unmatched.length === 20, 'every second answer reported');
      expect(new Set(unmatched)).toEqual(new Set(['duplicate']));
      expect(client.pendingCalls).toBe(0);
    } finally {
      await client?.close();
      client = undefined;
      wss.clients.forEach((socket) => socket.terminate());
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});

describe('NATS: wildcard reply subjects', () => {
  it('a request whose reply subject is a wildcard (answers to it go nowhere) leaves the responder answering others', async () => {
    const subject = nextSubject();
    const clock = new SimulatedClock();
    const errors: unknown[] = [];
    let ran = 0;
    responder = await serve({
      nats: nats.url,
      subject,
      clock,
      methods: { echo: (p: unknown) => (ran++, p) },
      onError: (error) => errors.push(error),
    });
    for (const reply of ['_INBOX.wild.>', '_INBOX.wild.*', '_INBOX.*.x~5', '>'])
      nats.raw.publish(subject, JSON.stringify({ jsonrpc: '2.0', id: reply, method: 'echo', params: [reply] }), { reply });
    const [answer] = await rawRequest(
      subject,
      { jsonrpc: '2.0', id: 'after', method: 'echo', params: ['after'] },
      (inbox) => `${inbox}.after~50`,
    );
    expect(answer).toEqual({ jsonrpc: '2.0', id: 'after', result: ['after'] });
    expect(ran).toBe(5);
    expect(responder.handlingCalls).toBe(0);
    expect(uncaught).toEqual([]);
  });
});
