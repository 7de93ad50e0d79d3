/**
 * A peer that answers one of our calls with a response carrying that call's id but broken
 * (an error without an integer code or a string message, both result and error, neither,
 * another "jsonrpc"): the call fails at once with `ProtocolError`, saying why, instead of
 * waiting for its timeout. The frame is still reported `unmatched` as `malformed`; other
 * calls and the connection go on. Over WebSocket (client, and the server's calls to a
 * client), NATS and HTTP: every transport hands its frames to the one inbound dispatcher.
 *
 * Calls are made with a 60 s timeout and awaited through `orHang`: a call that waited for
 * its deadline fails the test as a hang.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { connect, serve, ProtocolError, type Client, type Peer, type Server, type UnmatchedEvent } from '../../src/index.js';
import { closeAfterEach, orHang, rawClient, settle, until } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const LONG = 60_000;

let client: Client | undefined;
let server: Server | undefined;
let peer: RawPeer | undefined;
let plain: HttpServer | undefined;

closeAfterEach(() => [
  client,
  server,
  peer,
  plain && { close: () => new Promise((resolve) => (plain!.close(resolve), plain!.closeAllConnections())) },
]);

/** A WebSocket server written with `ws` alone: it answers nothing by itself; the test sends what it wants. */
interface RawPeer {
  url: string;
  /** Every frame the client sent, parsed, in order. */
  received: unknown[];
  /** The ids of the requests received, by method. */
  ids: Map<string, string>;
  send(text: string): void;
  close(): Promise<void>;
}

async function rawPeer(): Promise<RawPeer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss.once('listening', resolve));
  const received: unknown[] = [];
  const ids = new Map<string, string>();
  let socket: WebSocket | undefined;
  wss.on('connection', (ws) => {
    socket = ws;
    ws.on('message', (data) => {
      const value = JSON.parse(data.toString()) as unknown;
      received.push(value);
      for (const m of Array.isArray(value) ? value : [value]) if (m.method !== undefined && m.id !== undefined) ids.set(m.method, m.id);
    });
  });
  return {
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    received,
    ids,
    send: (text) => socket!.send(text),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => resolve());
      }),
  };
}

/** A client of a raw peer, its unmatched reports, and `call(method)`: the call made, once the peer has it, with its id. */
async function setup() {
  peer = await rawPeer();
  client = connect(peer.url, { timeout: LONG });
  const unmatched: UnmatchedEvent[] = [];
  client.on('unmatched', (event) => unmatched.push(event));
  await client.ready;
  const call = async (method: string, options: { signal?: AbortSignal } = {}) => {
    const settled = settle(client!.request(method, [], options));
    await until(() => peer!.ids.has(method), `the peer to receive "${method}"`);
    return { settled, id: peer!.ids.get(method)! };
  };
  return { peer, client, unmatched, call };
}

const BAD_CODE = '"error.code" must be an integer';
const BAD_MESSAGE = '"error.message" must be a string';
const NOT_OBJECT = '"error" must be an object with an integer "code" and a string "message"';
const ONE_OF = 'a response must have exactly one of "result" and "error"';
const NEITHER = 'the message has no "method", "result" or "error": a request needs a "method", a response "result" or "error"';
const BAD_VERSION = '"jsonrpc" must be exactly "2.0"';

const cases: Array<[behaviour: string, answer: (id: string) => unknown, reason: string]> = [
  ['an error whose code is a string', (id) => ({ jsonrpc: '2.0', id, error: { code: 'x', message: 'no' } }), BAD_CODE],
  ['an error whose code is a fraction', (id) => ({ jsonrpc: '2.0', id, error: { code: 1.5, message: 'no' } }), BAD_CODE],
  ['an error without a code', (id) => ({ jsonrpc: '2.0', id, error: { message: 'no' } }), BAD_CODE],
  ['an error without a message', (id) => ({ jsonrpc: '2.0', id, error: { code: -32000 } }), BAD_MESSAGE],
  ['an error whose message is a number', (id) => ({ jsonrpc: '2.0', id, error: { code: 1, message: 7 } }), BAD_MESSAGE],
  ['an error that is a string', (id) => ({ jsonrpc: '2.0', id, error: 'boom' }), NOT_OBJECT],
  ['an error that is null', (id) => ({ jsonrpc: '2.0', id, error: null }), NOT_OBJECT],
  ['an error that is an array', (id) => ({ jsonrpc: '2.0', id, error: [1, 'no'] }), NOT_OBJECT],
  ['both result and error', (id) => ({ jsonrpc: '2.0', id, result: 1, error: { code: 1, message: 'no' } }), ONE_OF],
  ['neither result nor error', (id) => ({ jsonrpc: '2.0', id }), NEITHER],
  ['"jsonrpc": "1.0"', (id) => ({ jsonrpc: '1.0', id, result: 1 }), BAD_VERSION],
  // A response without "jsonrpc" is taken as JSON-RPC 1.0's (see ws-interop.test.ts); one that is no response is not.
  ['no "jsonrpc", and neither result nor error', (id) => ({ id }), BAD_VERSION],
];

describe('a WebSocket client whose pending call is answered with a malformed response', () => {
  it.each(cases)(
    '%s: fails that call at once with ProtocolError; the report, the other calls and the connection stay',
    async (_, answer, reason) => {
      const { peer, client, unmatched, call } = await setup();
      const other = await call('other');
      const broken = await call('broken');
      const frame = JSON.stringify(answer(broken.id));
      peer.send(frame);
      const { error } = await orHang(broken.settled, 'the call answered with a malformed response');
      expect(error).toBeInstanceOf(ProtocolError);
      expect(error).toMatchObject({ name: 'ProtocolError', code: 'ERR_PROTOCOL' });
      expect(error.message).toBe(`call "broken" (id ${broken.id}) was answered with a malformed response (${reason}): ${frame}`);
      expect(unmatched).toEqual([{ reason: 'malformed', id: broken.id, message: JSON.parse(frame), detail: reason }]);
      // The other call, the connection and later calls are untouched.
      expect(client.state).toBe('open');
      expect(client.pendingCalls).toBe(1);
      peer.send(JSON.stringify({ jsonrpc: '2.0', id: other.id, result: 'fine' }));
      expect((await orHang(other.settled, 'the other call')).value).toBe('fine');
      const after = await call('after');
      peer.send(JSON.stringify({ jsonrpc: '2.0', id: after.id, result: 'after' }));
      expect((await orHang(after.settled, 'a call made after')).value).toBe('after');
      // Taken as the call's answer, the broken frame is not answered back: the peer got only the three requests.
      expect(peer.received.map((m) => (m as { method?: string }).method)).toEqual(['other', 'broken', 'after']);
    },
  );

  it('cuts a long frame in the message', async () => {
    const { peer, call } = await setup();
    const broken = await call('broken');
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: broken.id, error: { code: 1, message: 2, data: 'x'.repeat(100_000) } }));
    const { error } = await orHang(broken.settled, 'the call');
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toMatch(
      /^call "broken" \(id [\w-]+\) was answered with a malformed response \("error\.message" must be a string\): \{"jsonrpc":"2\.0",.*x…$/,
    );
    expect(error.message.length).toBeLessThan(400);
  });

  it('in a batch: fails the call answered broken, resolves the one answered well', async () => {
    const { peer, unmatched, call } = await setup();
    const good = await call('good');
    const broken = await call('broken');
    peer.send(
      JSON.stringify([
        { jsonrpc: '2.0', id: good.id, result: 'ok' },
        { jsonrpc: '2.0', id: broken.id, error: { code: 'x' } },
      ]),
    );
    expect((await orHang(good.settled, 'the good call')).value).toBe('ok');
    const { error } = await orHang(broken.settled, 'the broken call');
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toBe(
      `call "broken" (id ${broken.id}) was answered with a malformed response (${BAD_CODE}): {"jsonrpc":"2.0","id":"${broken.id}","error":{"code":"x"}}`,
    );
    expect(unmatched.map((u) => [u.reason, u.id])).toEqual([['malformed', broken.id]]);
  });

  it('fails only the call with exactly that string id: another id, a number, an array or a padded id is only reported', async () => {
    const { peer, client, unmatched, call } = await setup();
    const pending = await call('pending');
    const bad = (id: unknown) => JSON.stringify({ jsonrpc: '2.0', id, error: { code: 'x' } });
    peer.send(bad('no-such-call'));
    peer.send(bad(42));
    peer.send(bad([pending.id]));
    peer.send(bad(` ${pending.id}`));
    peer.send(bad(pending.id.toLowerCase() === pending.id ? pending.id.toUpperCase() : pending.id.toLowerCase()));
    // A request with the call's id (in the peer's own id space) is a broken request, not an answer: answered -32600.
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: pending.id, method: 5 }));
    await until(() => unmatched.length === 6, 'six reports');
    expect(unmatched.map((u) => u.reason)).toEqual(['malformed', 'malformed', 'malformed', 'malformed', 'malformed', 'malformed']);
    await until(() => peer.received.length === 2, 'the refusal of the broken request');
    expect(peer.received[1]).toMatchObject({ id: pending.id, error: { code: -32600, message: '"method" must be a string' } });
    expect(client.pendingCalls).toBe(1);
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: pending.id, result: 'mine' }));
    expect((await orHang(pending.settled, 'the pending call')).value).toBe('mine');
  });

  it('for a call already settled (aborted, or failed by a first broken answer), only reports it', async () => {
    const { peer, client, unmatched, call } = await setup();
    const controller = new AbortController();
    const aborted = await call('aborted', { signal: controller.signal });
    controller.abort();
    expect((await aborted.settled).error.name).toBe('AbortError');
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: aborted.id, error: { code: 'x' } }));
    await until(() => unmatched.length === 1, 'the report');
    expect(unmatched[0]).toMatchObject({ reason: 'malformed', id: aborted.id, detail: BAD_CODE });

    const broken = await call('broken');
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: broken.id, result: 1, error: { code: 1, message: 'no' } }));
    expect((await orHang(broken.settled, 'the broken call')).error).toBeInstanceOf(ProtocolError);
    // A second answer, broken or not: the call was answered once already.
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: broken.id }));
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: broken.id, result: 'again' }));
    await until(() => unmatched.length === 4, 'two more reports');
    expect(unmatched.slice(1).map((u) => [u.reason, u.id])).toEqual([
      ['malformed', broken.id],
      ['malformed', broken.id],
      ['duplicate', broken.id],
    ]);
    expect(client.state).toBe('open');
    expect(client.pendingCalls).toBe(0);
  });
});

describe("a server's call to a client answered with a malformed response", () => {
  it('fails at once with ProtocolError', async () => {
    server = await serve({ methods: {} });
    const raw = await rawClient(server.url);
    try {
      await until(() => server!.connections.size === 1, 'the server to see the client');
      const serverSide = [...server.connections][0] as Peer;
      const call = settle(serverSide.request('ask', [], { timeout: LONG }));
      const request = (await raw.next()) as { id: string; method: string };
      expect(request.method).toBe('ask');
      const frame = `{"jsonrpc":"2.0","id":${JSON.stringify(request.id)},"error":{"code":-32000,"message":null}}`;
      raw.send(frame);
      const { error } = await orHang(call, "the server's call");
      expect(error).toBeInstanceOf(ProtocolError);
      expect(error.message).toBe(`call "ask" (id ${request.id}) was answered with a malformed response (${BAD_MESSAGE}): ${frame}`);
      expect(serverSide.state).toBe('open');
    } finally {
      await raw.close();
    }
  });
});

describe('a NATS client whose call is answered with a malformed response', () => {
  const nats = useNatsServer();

  it('fails at once with ProtocolError', async () => {
    const subject = 'malformed.answers';
    const responder = nats.raw.subscribe(subject, {
      callback: (_error, msg) => {
        const { id } = JSON.parse(msg.string()) as { id: string };
        msg.respond(JSON.stringify({ jsonrpc: '2.0', id, error: { code: 'x', message: 'no' } }));
      },
    });
    try {
      // Subscribed at nats-server before the client (another connection) publishes, or its call finds no responder.
      await nats.raw.flush();
      client = connect(nats.url, { subject, timeout: LONG });
      const { error } = await orHang(settle(client.request('x')), 'the NATS call');
      expect(error).toBeInstanceOf(ProtocolError);
      expect(error.message).toMatch(
        /^call "x" \(id [\w-]+\) was answered with a malformed response \("error\.code" must be an integer\): /,
      );
    } finally {
      responder.unsubscribe();
    }
  });
});

describe('an HTTP client whose call is answered with a malformed response', () => {
  it('fails with ProtocolError, saying why, not with HttpError', async () => {
    plain = createServer((req, res) => {
      void text(req).then((body) => {
        const { id } = JSON.parse(body) as { id: string };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id, error: { code: 1 } }));
      });
    });
    await new Promise<void>((resolve) => plain!.listen(0, '127.0.0.1', resolve));
    client = connect(`http://127.0.0.1:${(plain.address() as AddressInfo).port}/`, { timeout: LONG });
    const unmatched: UnmatchedEvent[] = [];
    client.on('unmatched', (event) => unmatched.push(event));
    const { error } = await orHang(settle(client.request('x')), 'the HTTP call');
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toMatch(/^call "x" \(id [\w-]+\) was answered with a malformed response \("error\.message" must be a string\): /);
    expect(unmatched.map((u) => u.reason)).toEqual(['malformed']);
  });
});
