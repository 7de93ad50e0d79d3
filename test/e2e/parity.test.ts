/**
 * Transport parity of the responder side: one corpus of raw frames, sent as they are to each responder callstate
 * has (a WebSocket server, JSON-RPC over HTTP POST to the same server, a NATS responder, and a client answering its
 * server's calls), and per frame the same answers, the same `onError`, `logger`, `unmatched` and `notification`
 * reports. Every difference the transports are allowed is in the table, with the line of the docs that says so.
 */
import { connect as tcpConnect, type AddressInfo, type Socket } from 'node:net';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connect,
  serve,
  RpcError,
  type ErrorInfo,
  type HandlerContext,
  type NatsServer,
  type Server,
  type StandardSchemaV1,
  type UnmatchedEvent,
} from '../../src/index.js';
import { collectUncaught, deferred, until, type Deferred } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';
import { notUtf8 } from '../../src/transports/transport.js';

/** What one responder did with one case: its answers (parsed), its `onError` reports, its `unmatched` reports. */
interface Outcome {
  answers: unknown[];
  errors: Array<{ kind: string; code: unknown; id: unknown }>;
  unmatched?: Array<{ reason: string; id: unknown }>;
  /** The methods of the notifications the responder's `notification` listeners heard. */
  notifications?: string[];
  /** What the responder's `logger` was told: `level: message`. */
  logs?: string[];
  /** How the transport ended the exchange when it did not answer it (a WebSocket close code, an HTTP status). */
  closed?: number;
  status?: number;
  /** Why the frame could not be sent at all (nats.js refuses a message past max_payload). */
  unsent?: string;
}

type Transport = 'ws' | 'http' | 'nats' | 'client';
const TRANSPORTS: Transport[] = ['ws', 'http', 'nats', 'client'];

/** The answer to the barrier request each case ends with, removed from its answers: every answer before it has come. */
const BARRIER_ID = 'barrier';
const BARRIER = JSON.stringify({ jsonrpc: '2.0', id: BARRIER_ID, method: 'barrier' });

/** Handlers held until the barrier comes (so a second request can meet them running). */
const held: Array<Deferred<string>> = [];

const cycle = (): unknown => {
  const value: Record<string, unknown> = {};
  value.self = value;
  return value;
};

const numbers: StandardSchemaV1<number[]> = {
  '~standard': {
    version: 1,
    vendor: 'parity',
    validate: (value) =>
      Array.isArray(value) && value.every((n) => typeof n === 'number')
        ? { value: value as number[] }
        : { issues: [{ message: 'expected an array of numbers' }] },
  },
};

/**
 * Every responder takes the same limits, low enough to meet, so that their refusals are compared too:
 * `maxInFlightPerConnection` (the barrier counts, and a case runs at most two calls at once before it) and
 * `maxInFlightBytesPerConnection` (in characters).
 */
const LIMITS = { maxInFlightPerConnection: 3, maxInFlightBytesPerConnection: 20_000 };

const methods = {
  echo: (params: unknown) => params ?? 'no params',
  fails: () => {
    throw new RpcError(-32050, 'refused on purpose', { why: 'test' });
  },
  nothing: () => undefined,
  bigint: () => 10n as unknown,
  cycle,
  hold: () => {
    const release = deferred<string>();
    held.push(release);
    return release.promise;
  },
  plainError: () => {
    throw new Error('a plain error');
  },
  /** Notifies its caller back: over HTTP and NATS there is no way back (NotSupportedError). */
  peerNotify: (_params: unknown, ctx: HandlerContext) => {
    try {
      ctx.peer.notify('hello', ['from the handler']);
      return 'sent';
    } catch (error) {
      return (error as { code?: string }).code;
    }
  },
  length: ([text]: [string]) => text.length,
  /** Params checked by a Standard Schema: an array of numbers, else -32602. */
  typed: { params: numbers, handler: (params: number[]) => params.length },
  barrier: async () => {
    for (const release of held.splice(0)) release.resolve('released');
    await new Promise((resolve) => setImmediate(resolve));
    return 'barrier';
  },
};

let errors: Outcome['errors'] = [];
let unmatched: NonNullable<Outcome['unmatched']> = [];
let notifications: string[] = [];
let logs: string[] = [];
const log =
  (level: string) =>
  (_fields: object, message: string): void =>
    void logs.push(`${level}: ${message}`);
const logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
const onError = (error: unknown, info: ErrorInfo) =>
  errors.push({ kind: info.kind, code: (error as { code?: unknown }).code ?? info.response?.code, id: info.id });
const onUnmatched = (event: UnmatchedEvent) => unmatched.push({ reason: event.reason, id: event.id });
const onNotification = ({ method }: { method: string }) => notifications.push(method);

function take(answers: unknown[], extra: Partial<Outcome> = {}): Outcome {
  const outcome: Outcome = {
    answers: answers.filter((answer) => (answer as { id?: unknown } | null)?.id !== BARRIER_ID),
    errors,
    unmatched,
    notifications,
    logs,
    ...extra,
  };
  errors = [];
  unmatched = [];
  notifications = [];
  logs = [];
  return outcome;
}

/** Reads messages from `socket` until the barrier's answer, or its close. */
function collectWs(socket: WebSocket): Promise<{ answers: unknown[]; closed?: number }> {
  const answers: unknown[] = [];
  return new Promise((resolve) => {
    socket.on('message', (data) => {
      const answer = JSON.parse(String(data));
      answers.push(answer);
      if ((answer as { id?: unknown }).id === BARRIER_ID) resolve({ answers });
    });
    socket.on('close', (code) => resolve({ answers, closed: code }));
  });
}

/** A frame sent over WebSocket as a binary frame; over HTTP and NATS, as its bytes (they have no other kind). */
class Binary {
  constructor(readonly text: string) {}
}

type Frame = string | Buffer | Binary;

function sendWs(socket: WebSocket, frame: Frame): void {
  if (frame instanceof Binary) socket.send(Buffer.from(frame.text), { binary: true });
  else socket.send(frame, { binary: false });
}

const bytesOf = (frame: Frame): Buffer =>
  frame instanceof Binary ? Buffer.from(frame.text) : Buffer.isBuffer(frame) ? frame : Buffer.from(frame);

// ---- the responders ----

let wsServer: Server;
const nats = useNatsServer();
let responder: NatsServer;
let subjects = 0;
let rawServer: WebSocketServer;

beforeAll(async () => {
  wsServer = await serve({ port: 0, host: '127.0.0.1', methods, onError, logger, ...LIMITS });
  wsServer.on('connection', (peer) => {
    peer.on('unmatched', onUnmatched);
    peer.on('notification', onNotification);
  });
  // Over HTTP, the server's own events (a WebSocket connection's are its peer's).
  wsServer.on('unmatched', onUnmatched);
  wsServer.on('notification', onNotification);
  responder = await serve({ nats: nats.url, subject: 'parity.svc', methods, onError, logger, ...LIMITS });
  responder.on('unmatched', onUnmatched);
  responder.on('notification', onNotification);
  rawServer = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(rawServer, 'listening');
});

afterAll(async () => {
  await wsServer.close();
  await responder.close();
  await new Promise((resolve) => rawServer.close(resolve));
});

/** Awaited before each case's barrier is sent (see `Case.releaseAfter`). */
let beforeBarrier: () => Promise<void> = async () => {};

const drivers: Record<Transport, (frames: Frame[]) => Promise<Outcome>> = {
  async ws(frames) {
    const socket = new WebSocket(wsServer.url);
    socket.on('error', () => {}); // its close says what happened
    await once(socket, 'open');
    const collected = collectWs(socket);
    for (const frame of frames) sendWs(socket, frame);
    await beforeBarrier();
    sendWs(socket, BARRIER);
    const { answers, closed } = await collected;
    socket.close();
    return take(answers, closed === undefined ? {} : { closed });
  },

  async http(frames) {
    const posts = [...frames, BARRIER];
    const { port } = new URL(wsServer.httpUrl);
    const socket = tcpConnect(Number(port), '127.0.0.1');
    socket.on('error', () => {}); // a server that closes after a 413 leaves the rest of the body unsent
    await once(socket, 'connect');
    const responses = readHttp(socket, posts.length);
    for (const body of posts) {
      if (body === BARRIER) await beforeBarrier();
      const bytes = bytesOf(body);
      socket.write(`POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bytes.length}\r\n\r\n`);
      socket.write(bytes);
    }
    const answered = await responses;
    socket.destroy();
    const answers: unknown[] = [];
    const extra: Partial<Outcome> = {};
    for (const { status, body } of answered) {
      if (status === 200) answers.push(JSON.parse(body));
      else if (status !== 204) {
        extra.status = status;
        answers.push(body);
      }
    }
    return take(answers, extra);
  },

  async nats(frames) {
    const inbox = `_INBOX.parity${++subjects}`;
    const subscription = nats.raw.subscribe(`${inbox}.>`);
    const answers: unknown[] = [];
    const done = (async () => {
      for await (const message of subscription) {
        const answer = JSON.parse(message.string());
        answers.push(answer);
        if ((answer as { id?: unknown }).id === BARRIER_ID) return;
      }
    })();
    await nats.raw.flush();
    let unsent: string | undefined;
    frames.forEach((frame, i) => {
      try {
        nats.raw.publish('parity.svc', bytesOf(frame), { reply: `${inbox}.${i}` });
      } catch (error) {
        // nats.js refuses a message past nats-server's max_payload: nothing reaches the responder.
        unsent = (error as Error).message;
      }
    });
    await beforeBarrier();
    nats.raw.publish('parity.svc', new TextEncoder().encode(BARRIER), { reply: `${inbox}.b` });
    await done;
    subscription.unsubscribe();
    return take(answers, unsent === undefined ? {} : { unsent });
  },

  async client(frames) {
    const accepted = once(rawServer, 'connection') as Promise<[WebSocket]>;
    const client = connect(`ws://127.0.0.1:${(rawServer.address() as AddressInfo).port}`, {
      methods,
      onError,
      logger,
      ...LIMITS,
    });
    client.on('unmatched', onUnmatched);
    client.on('notification', onNotification);
    const [socket] = await accepted;
    socket.on('error', () => {});
    await client.ready;
    const collected = collectWs(socket);
    for (const frame of frames) sendWs(socket, frame);
    await beforeBarrier();
    sendWs(socket, BARRIER);
    const { answers, closed } = await collected;
    await client.close();
    return take(answers, closed === undefined ? {} : { closed });
  },
};

/** Reads `count` HTTP responses from a socket (Content-Length or chunked bodies), or as many as come before it closes. */
function readHttp(socket: Socket, count: number): Promise<Array<{ status: number; body: string }>> {
  const responses: Array<{ status: number; body: string }> = [];
  let data = Buffer.alloc(0);
  return new Promise((resolve) => {
    const parse = () => {
      for (;;) {
        const end = data.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = data.subarray(0, end).toString('latin1');
        const status = Number(head.split(' ')[1]);
        const length = /\r\ncontent-length: *(\d+)/i.exec(head);
        let rest = data.subarray(end + 4);
        let body: Buffer;
        if (length) {
          if (rest.length < Number(length[1])) return;
          body = rest.subarray(0, Number(length[1]));
          rest = rest.subarray(Number(length[1]));
        } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
          const chunks: Buffer[] = [];
          for (;;) {
            const line = rest.indexOf('\r\n');
            if (line < 0) return;
            const size = parseInt(rest.subarray(0, line).toString(), 16);
            if (rest.length < line + 2 + size + 2) return;
            chunks.push(rest.subarray(line + 2, line + 2 + size));
            rest = rest.subarray(line + 2 + size + 2);
            if (size === 0) break;
          }
          body = Buffer.concat(chunks);
        } else body = Buffer.alloc(0);
        responses.push({ status, body: body.toString() });
        data = rest;
        if (responses.length === count) return resolve(responses);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      parse();
    });
    socket.on('close', () => resolve(responses));
  });
}

// ---- the corpus ----

const req = (id: unknown, method: string, params?: unknown) =>
  JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
const note = (method: string, params?: unknown) => JSON.stringify({ jsonrpc: '2.0', method, ...(params === undefined ? {} : { params }) });

/** What the WebSocket server (the reference) did, in short: each answer as `id:code` (`ok` for a result; a batch's as an array), sorted. */
interface Pin {
  answers?: unknown[];
  /** `onError` reports: `kind code id` (`-` for no id). */
  errors?: string[];
  /** `unmatched` reports: `reason id`. */
  unmatched?: string[];
  notifications?: string[];
  closed?: number;
}

interface Case {
  name: string;
  /** Sent in order on one connection (over HTTP, one POST each, pipelined on one TCP connection). */
  frames: Frame[];
  pin: Pin;
  /**
   * Held handlers are released (and the barrier sent) once this holds of what the responder did, not by the barrier:
   * for a case that fills `maxInFlightPerConnection`, where the barrier itself would be refused.
   */
  releaseWhen?: (seen: { errors: number; held: number; notifications: number }) => boolean;
  /** The outcomes that differ from the WebSocket server's, each as documented (the comment names the line). */
  differs?: Partial<Record<Transport, Outcome>>;
}

const summary = (answer: unknown): unknown =>
  Array.isArray(answer)
    ? answer.map(summary).sort()
    : typeof answer === 'string'
      ? answer
      : 'method' in (answer as object)
        ? `notification ${(answer as { method: string }).method}`
        : `${JSON.stringify((answer as { id: unknown }).id)}:${(answer as { error?: { code: number } }).error?.code ?? 'ok'}`;

function pinOf(outcome: Outcome): Pin {
  const pin: Pin = {};
  if (outcome.answers.length > 0) pin.answers = outcome.answers.map(summary).sort();
  if (outcome.errors.length > 0)
    pin.errors = outcome.errors.map(({ kind, code, id }) => `${kind} ${code} ${id === undefined ? '-' : JSON.stringify(id)}`);
  if (outcome.unmatched?.length) pin.unmatched = outcome.unmatched.map(({ reason, id }) => `${reason} ${JSON.stringify(id)}`);
  if (outcome.notifications?.length) pin.notifications = outcome.notifications;
  if (outcome.closed !== undefined) pin.closed = outcome.closed;
  return pin;
}

/**
 * Answers in a stable order: the answers of calls running at once come in the order they end on a socket, and in the
 * order of their POSTs over HTTP (a pipelined connection answers in turn); they are matched by id, never by place.
 */
const byText = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
const sorted = (outcome: Outcome): Outcome => ({
  ...outcome,
  answers: outcome.answers.map((answer) => (Array.isArray(answer) ? [...answer].sort(byText) : answer)).sort(byText),
});

/** A request of about 1.2 MB: past a server's maxPayload (1 MiB), within a client's (16 MiB). */
const BIG = req('big', 'length', ['x'.repeat(1_200_000)]);

const corpus: Case[] = [
  { name: 'a valid request', frames: [req('a', 'echo', [1])], pin: { answers: ['"a":ok'] } },
  { name: 'a notification', frames: [note('echo', [1])], pin: { notifications: ['echo'] } },
  {
    name: 'a mixed batch',
    frames: [`[${req('b1', 'echo', [1])},${note('echo')},${req('b2', 'nope')}]`],
    pin: { answers: [['"b1":ok', '"b2":-32601']], errors: ['protocol -32601 "b2"'], notifications: ['echo'] },
  },
  { name: 'a batch of notifications only', frames: [`[${note('echo')},${note('echo', [2])}]`], pin: { notifications: ['echo', 'echo'] } },
  {
    name: 'invalid JSON',
    frames: ['{"jsonrpc":"2.0",'],
    pin: { answers: ['null:-32700'], errors: ['protocol -32700 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'an empty batch',
    frames: ['[]'],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'a batch over maxBatch',
    frames: [`[${Array.from({ length: 101 }, (_, i) => req(`m${i}`, 'echo')).join(',')}]`],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'a frame over maxDepth',
    frames: [req('deep', 'echo', JSON.parse('['.repeat(70) + ']'.repeat(70)))],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'a request with jsonrpc "1.0"',
    frames: ['{"jsonrpc":"1.0","id":"v","method":"echo"}'],
    pin: { answers: ['"v":-32600'], errors: ['protocol -32600 "v"'], unmatched: ['malformed "v"'] },
  },
  {
    name: 'a request without jsonrpc',
    frames: ['{"id":"v","method":"echo"}'],
    pin: { answers: ['"v":-32600'], errors: ['protocol -32600 "v"'], unmatched: ['malformed "v"'] },
  },
  {
    name: 'id null',
    frames: [req(null, 'echo')],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'id a float',
    frames: ['{"jsonrpc":"2.0","id":1.5,"method":"echo"}'],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'id a huge integer',
    frames: ['{"jsonrpc":"2.0","id":9007199254740993,"method":"echo"}'],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'id an object',
    frames: [req({ a: 1 }, 'echo')],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  { name: 'id an empty string', frames: [req('', 'echo')], pin: { answers: ['"":ok'] } },
  { name: 'id 1 and id "1"', frames: [req(1, 'echo', ['n']), req('1', 'echo', ['s'])], pin: { answers: ['"1":ok', '1:ok'] } },
  {
    name: 'method missing',
    frames: ['{"jsonrpc":"2.0","id":"mm"}'],
    pin: { answers: ['"mm":-32600'], errors: ['protocol -32600 "mm"'], unmatched: ['malformed "mm"'] },
  },
  {
    name: 'method a number',
    frames: ['{"jsonrpc":"2.0","id":"mn","method":5}'],
    pin: { answers: ['"mn":-32600'], errors: ['protocol -32600 "mn"'], unmatched: ['malformed "mn"'] },
  },
  { name: 'method rpc.x', frames: [req('rx', 'rpc.x')], pin: { answers: ['"rx":-32601'], errors: ['protocol -32601 "rx"'] } },
  {
    name: 'params a string',
    frames: ['{"jsonrpc":"2.0","id":"ps","method":"echo","params":"x"}'],
    pin: { answers: ['"ps":-32600'], errors: ['protocol -32600 "ps"'], unmatched: ['malformed "ps"'] },
  },
  {
    name: 'params a number',
    frames: ['{"jsonrpc":"2.0","id":"pn","method":"echo","params":3}'],
    pin: { answers: ['"pn":-32600'], errors: ['protocol -32600 "pn"'], unmatched: ['malformed "pn"'] },
  },
  { name: 'an unknown method', frames: [req('u', 'nope')], pin: { answers: ['"u":-32601'], errors: ['protocol -32601 "u"'] } },
  {
    name: 'a handler throwing an RpcError with data',
    frames: [req('t', 'fails')],
    pin: { answers: ['"t":-32050'], errors: ['handler -32050 "t"'] },
  },
  { name: 'a handler returning undefined', frames: [req('un', 'nothing')], pin: { answers: ['"un":ok'] } },
  {
    name: 'a handler returning a BigInt',
    frames: [req('bi', 'bigint')],
    pin: { answers: ['"bi":-32603'], errors: ['handler -32603 "bi"'] },
  },
  { name: 'a handler returning a cycle', frames: [req('cy', 'cycle')], pin: { answers: ['"cy":-32603'], errors: ['handler -32603 "cy"'] } },
  {
    name: 'a duplicate id while the first runs',
    frames: [req('dup', 'hold'), req('dup', 'echo')],
    pin: { answers: ['"dup":-32600', '"dup":ok'], errors: ['protocol -32600 "dup"'], unmatched: ['duplicate "dup"'] },
  },
  { name: '$/cancelRequest for an unknown id', frames: [note('$/cancelRequest', { id: 'nobody' })], pin: {} },
  {
    name: '$/cancelRequest for a running id',
    frames: [req('run', 'hold'), note('$/cancelRequest', { id: 'run' })],
    pin: { answers: ['"run":-32800'] },
  },
  { name: 'a result response', frames: ['{"jsonrpc":"2.0","id":"r1","result":1}'], pin: { unmatched: ['unknown "r1"'] } },
  {
    name: 'an error response',
    frames: ['{"jsonrpc":"2.0","id":"r2","error":{"code":1,"message":"m"}}'],
    pin: { unmatched: ['unknown "r2"'] },
  },
  {
    name: 'a malformed response',
    frames: ['{"jsonrpc":"2.0","id":"r3","result":1,"error":{"code":1,"message":"m"}}'],
    pin: { unmatched: ['malformed "r3"'] },
  },
  { name: 'a notification of an unknown method', frames: [note('nope')], pin: { notifications: ['nope'] } },
  {
    name: 'a batch of invalid members',
    frames: ['[1,{},"x"]'],
    pin: {
      answers: [['null:-32600', 'null:-32600', 'null:-32600']],
      errors: ['protocol -32600 null', 'protocol -32600 null', 'protocol -32600 null'],
      unmatched: ['malformed null', 'malformed null', 'malformed null'],
    },
  },
  {
    name: 'a batch holding a response',
    frames: [`[{"jsonrpc":"2.0","id":"rb","result":1},${req('rb2', 'echo')}]`],
    pin: { answers: [['"rb2":ok']], unmatched: ['unknown "rb"'] },
  },
  {
    name: 'a batch reusing one id',
    frames: [`[${req('same', 'hold')},${req('same', 'echo')}]`],
    pin: { answers: [['"same":-32600', '"same":ok']], errors: ['protocol -32600 "same"'], unmatched: ['duplicate "same"'] },
  },
  {
    name: 'a batch with a cancel of its own request',
    frames: [`[${req('bc', 'hold')},${note('$/cancelRequest', { id: 'bc' })}]`],
    pin: { answers: [['"bc":-32800']] },
  },
  {
    name: '$/cancelRequest sent as a request',
    frames: [req('run2', 'hold'), req('cr', '$/cancelRequest', { id: 'run2' })],
    pin: { answers: ['"cr":-32601', '"run2":ok'], errors: ['protocol -32601 "cr"'] },
  },
  {
    name: '$/cancelRequest naming id 1 for a call with id "1"',
    frames: [req('1', 'hold'), note('$/cancelRequest', { id: 1 })],
    pin: { answers: ['"1":ok'] },
  },
  { name: '$/cancelRequest with no params', frames: [note('$/cancelRequest')], pin: {} },
  {
    name: 'a notification whose handler throws',
    frames: [note('fails')],
    pin: { errors: ['notification -32050 -'], notifications: ['fails'] },
  },
  {
    name: 'a notification with params a string',
    frames: ['{"jsonrpc":"2.0","method":"echo","params":"x"}'],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'a request with an extra member',
    frames: ['{"jsonrpc":"2.0","id":"ex","method":"echo","extra":1}'],
    pin: { answers: ['"ex":ok'] },
  },
  { name: 'method __proto__', frames: [req('pr', '__proto__')], pin: { answers: ['"pr":-32601'], errors: ['protocol -32601 "pr"'] } },
  {
    name: 'a JSON number',
    frames: ['1'],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'JSON null',
    frames: ['null'],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'a JSON string',
    frames: ['"x"'],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'an empty frame',
    frames: [''],
    pin: { answers: ['null:-32700'], errors: ['protocol -32700 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'only whitespace',
    frames: [' \n'],
    pin: { answers: ['null:-32700'], errors: ['protocol -32700 null'], unmatched: ['malformed null'] },
  },
  { name: 'a frame with a byte order mark', frames: ['\ufeff' + req('bom', 'echo')], pin: { answers: ['"bom":ok'] } },
  { name: 'a frame with whitespace around it', frames: [` ${req('ws', 'echo')}\n`], pin: { answers: ['"ws":ok'] } },
  {
    name: 'a lone surrogate in a string',
    frames: ['{"jsonrpc":"2.0","id":"ls","method":"echo","params":["\\ud800"]}'],
    pin: { answers: ['"ls":ok'] },
  },
  {
    name: 'a handler throwing a plain Error',
    frames: [req('pe', 'plainError')],
    pin: { answers: ['"pe":-32603'], errors: ['handler -32603 "pe"'] },
  },
  {
    name: 'params refused by a schema',
    frames: [req('ty', 'typed', ['x'])],
    pin: { answers: ['"ty":-32602'], errors: ['handler -32602 "ty"'] },
  },
  { name: 'params a schema takes', frames: [req('ty2', 'typed', [1, 2])], pin: { answers: ['"ty2":ok'] } },
  {
    name: 'one request past maxInFlightPerConnection',
    frames: [req('h1', 'hold'), req('h2', 'hold'), req('h3', 'hold'), req('over', 'echo')],
    releaseWhen: ({ errors }) => errors === 1,
    pin: { answers: ['"h1":ok', '"h2":ok', '"h3":ok', '"over":-32000'], errors: ['protocol -32000 "over"'] },
  },
  {
    name: 'a batch past maxInFlightPerConnection',
    frames: [`[${req('bh1', 'hold')},${req('bh2', 'hold')},${req('bh3', 'hold')},${req('bover', 'echo')}]`],
    releaseWhen: ({ errors }) => errors === 1,
    pin: { answers: [['"bh1":ok', '"bh2":ok', '"bh3":ok', '"bover":-32000']], errors: ['protocol -32000 "bover"'] },
  },
  {
    name: 'a handler notifying its caller back',
    frames: [req('pn', 'peerNotify')],
    pin: { answers: ['"pn":ok', 'notification hello'] },
    differs: {
      // docs/http.md: "`ctx.peer.request()` rejects and `ctx.peer.notify()` throws `NotSupportedError`: there is no way
      // back to an HTTP client outside its answer".
      http: {
        answers: [{ jsonrpc: '2.0', id: 'pn', result: 'ERR_NOT_SUPPORTED' }],
        errors: [],
        unmatched: [],
        notifications: [],
        logs: [],
      },
      // docs/nats.md, "Calls back to the caller do not map": "`ctx.peer.notify()` throws `NotSupportedError` (`ERR_NOT_SUPPORTED`)".
      nats: {
        answers: [{ jsonrpc: '2.0', id: 'pn', result: 'ERR_NOT_SUPPORTED' }],
        errors: [],
        unmatched: [],
        notifications: [],
        logs: [],
      },
    },
  },
  {
    name: 'a request past maxInFlightBytesPerConnection',
    frames: [req('hb', 'hold', ['x'.repeat(15_000)]), req('eb', 'length', ['y'.repeat(10_000)])],
    releaseWhen: ({ errors }) => errors === 1,
    pin: { answers: ['"eb":-32000', '"hb":ok'], errors: ['protocol -32000 "eb"'] },
  },
  {
    name: 'a notification past maxInFlightPerConnection',
    frames: [req('nh1', 'hold'), req('nh2', 'hold'), req('nh3', 'hold'), note('fails')],
    releaseWhen: ({ held, notifications }) => held === 3 && notifications === 1,
    // Heard by the listeners, not run, and told to onError (`kind: 'notification'`, -32000) on every transport alike.
    pin: { answers: ['"nh1":ok', '"nh2":ok', '"nh3":ok'], errors: ['notification -32000 -'], notifications: ['fails'] },
  },
  {
    name: 'a frame past the server maxPayload, within the client one',
    frames: [BIG],
    // docs/limits-and-access.md, the `maxPayload` row: a server's is 1 MiB, a client's 16 MiB; "a frame whose header
    // claims more is refused at its header: the socket closes with 1009".
    pin: { closed: 1009 },
    differs: {
      // The same row: "Over HTTP a larger POST body gets 413 unread" (docs/http.md: "answered `413` without reading the body").
      http: {
        answers: ['the body is larger than 1048576 bytes (maxPayload)'],
        errors: [],
        unmatched: [],
        notifications: [],
        logs: [],
        status: 413,
      },
      // The same row: over NATS, nats-server's `max_payload` (1 MiB): nats.js does not publish it, no responder sees it.
      nats: { answers: [], errors: [], unmatched: [], notifications: [], logs: [], unsent: "'payload' max_payload size exceeded" },
      // A client's maxPayload (16 MiB) takes it: answered as any request.
      client: { answers: [{ jsonrpc: '2.0', id: 'big', result: 1_200_000 }], errors: [], unmatched: [], notifications: [], logs: [] },
    },
  },
  {
    name: 'a method that is an empty string',
    frames: [req('em', '')],
    pin: { answers: ['"em":-32601'], errors: ['protocol -32601 "em"'] },
  },
  {
    name: 'id a boolean',
    frames: [req(true, 'echo')],
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'a batch inside a batch',
    frames: [`[[${req('nb', 'echo')}]]`],
    pin: { answers: [['null:-32600']], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
  },
  {
    name: 'a response nested past maxDepth',
    frames: [`{"jsonrpc":"2.0","id":"rd","result":${'['.repeat(70)}${']'.repeat(70)}}`],
    pin: { unmatched: ['unknown "rd"'] },
  },
  {
    name: '$/cancelRequest for a call of a batch still running',
    frames: [`[${req('bx', 'hold')},${req('by', 'echo')}]`, note('$/cancelRequest', { id: 'bx' })],
    pin: { answers: [['"bx":-32800', '"by":ok']] },
  },
  {
    name: 'a binary frame',
    frames: [new Binary(req('bin', 'echo'))],
    // docs/limits-and-access.md: "a binary frame gets -32600 (id null, `binary frame: JSON-RPC travels in text
    // frames`) and the connection stays open", a server's and a client's alike.
    pin: { answers: ['null:-32600'], errors: ['protocol -32600 null'], unmatched: ['malformed null'] },
    differs: {
      // An HTTP body and a NATS message are bytes with no text/binary kind: these are the request's UTF-8 text.
      http: { answers: [{ jsonrpc: '2.0', id: 'bin', result: 'no params' }], errors: [], unmatched: [], notifications: [], logs: [] },
      nats: { answers: [{ jsonrpc: '2.0', id: 'bin', result: 'no params' }], errors: [], unmatched: [], notifications: [], logs: [] },
    },
  },
  {
    name: 'non-UTF-8 bytes',
    frames: [Buffer.from('{"jsonrpc":"2.0","id":"nu","method":"echo","params":["caf\xe9"]}', 'latin1')],
    // docs/limits-and-access.md: "a text frame that is not UTF-8 closes that socket with 1007 (as `ws` does)": the
    // server's socket and the client's alike, nothing reported (the frame is never handed over).
    pin: { closed: 1007 },
    differs: {
      // docs/http.md: "a body that is not valid UTF-8 `400`, each naming why, and nothing runs"; like the 1007, an
      // answer of the HTTP layer, before any JSON-RPC: no hook hears of it (docs/http.md, the statuses' paragraph).
      http: { answers: [notUtf8('the body')], errors: [], unmatched: [], notifications: [], logs: [], status: 400 },
      // docs/nats.md, "A message whose bytes are not UTF-8": reported to `unmatched` (`malformed`, unparsed: no id),
      // each request in it answered -32700 (to `onError` as every protocol error answered), none of it run.
      nats: {
        answers: [{ jsonrpc: '2.0', id: 'nu', error: { code: -32700, message: notUtf8('the message') } }],
        errors: [{ kind: 'protocol', code: -32700, id: 'nu' }],
        unmatched: [{ reason: 'malformed', id: null }],
        notifications: [],
        logs: [`warn: answered -32700: ${notUtf8('the message')}`],
      },
    },
  },
];

const uncaught = collectUncaught();

describe('every responder gives the same answers to the same frames', () => {
  it.each(corpus)('$name', async ({ frames, pin, releaseWhen, differs = {} }) => {
    beforeBarrier = async () => {
      if (releaseWhen === undefined) return;
      await until(
        () => releaseWhen({ errors: errors.length, held: held.length, notifications: notifications.length }),
        'the case to be dispatched',
      );
      for (const release of held.splice(0)) release.resolve('released');
    };
    const outcomes = {} as Record<Transport, Outcome>;
    for (const transport of TRANSPORTS) {
      outcomes[transport] = sorted(await drivers[transport](frames));
      // A client refusing its server's calls says so ("client busy: …", docs/limits-and-access.md); the rest is alike.
      if (transport === 'client') outcomes.client = JSON.parse(JSON.stringify(outcomes.client).replaceAll('client busy:', 'server busy:'));
      // Handlers a refused barrier did not release (over NATS nothing else ends them).
      for (const release of held.splice(0)) release.resolve('after the case');
    }
    expect(pinOf(outcomes.ws)).toEqual(pin);
    const expected = Object.fromEntries(TRANSPORTS.map((t) => [t, sorted(differs[t] ?? outcomes.ws)]));
    expect(outcomes).toEqual(expected);
    expect(uncaught).toEqual([]);
  });
});

describe('what only one transport can send', () => {
  it('a NATS request with no reply subject is reported malformed and not run: it has no way back for its answer', async () => {
    held.length = 0;
    nats.raw.publish('parity.svc', new TextEncoder().encode(req('noreply', 'hold')));
    await until(() => unmatched.length === 1, 'the report');
    expect(take([])).toEqual({ answers: [], errors: [], unmatched: [{ reason: 'malformed', id: 'noreply' }], notifications: [], logs: [] });
    expect(held).toEqual([]);
    expect(uncaught).toEqual([]);
  });
});
