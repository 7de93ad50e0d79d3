/**
 * Property: whatever frames a peer sends (any text, any JSON, broken JSON-RPC,
 * batches, deep nesting, huge numbers, `__proto__` keys, binary frames), over a
 * real WebSocket, nothing throws, the connection stays open, every legitimate
 * call resolves with exactly its own result, and what matches no call is
 * reported with one of the four typed reasons.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, serve, ConnectionClosedError, type Client, type Server, type UnmatchedEvent } from '../../src/index.js';
import { classify, decode } from '../../src/protocol/jsonrpc.js';
import { collectUncaught, settle, until } from '../helpers.js';
import { callParams, junkFrame, junkText, jsonRpcShaped, viaJson, type JunkFrame } from './arbitraries.js';

const REASONS = ['unknown', 'late', 'duplicate', 'malformed'];

/** Checks that every report is typed, empties the list, and returns how many there were. */
function takeReports(reports: Array<{ reason: string; detail: unknown }>): number {
  for (const event of reports) {
    expect(REASONS).toContain(event.reason);
    expect(typeof event.detail).toBe('string');
  }
  const count = reports.length;
  reports.length = 0;
  return count;
}
const NUM_RUNS = 120;

/** Everything thrown or rejected without a handler while a property runs. */
const uncaught = collectUncaught();

function sendFrame(socket: WebSocket, frame: JunkFrame): void {
  if (frame.kind === 'text') socket.send(frame.text);
  else socket.send(frame.bytes, { binary: true });
}

/** Every message in a frame the raw peer received (a batch counts as its members). */
function messagesOf(text: string): unknown[] {
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? value : [value];
}

function hasId(message: unknown, id: string): message is { id: string; result?: unknown } {
  return message !== null && typeof message === 'object' && (message as { id?: unknown }).id === id;
}

describe('decode and classify', () => {
  it('never throw, for any text, and classify a response only with a string or safe integer id', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), junkText), (text) => {
        const decoded = decode(text);
        expect(['single', 'batch', 'unparseable']).toContain(decoded.kind);
        const messages = decoded.kind === 'single' ? [decoded.message] : decoded.kind === 'batch' ? decoded.messages : [];
        for (const message of messages) {
          if (message.kind === 'result' || message.kind === 'request') {
            expect(typeof message.frame.id === 'string' || Number.isSafeInteger(message.frame.id)).toBe(true);
          }
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws for any value, JSON-RPC-shaped or not', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true, withSet: true }), jsonRpcShaped),
        (value) => {
          expect(['request', 'notification', 'result', 'error', 'invalid']).toContain(classify(value).kind);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});

describe('a server fed arbitrary frames by a raw peer', () => {
  let server: Server;
  let client: Client;
  let raw: WebSocket;
  const rawInbox: unknown[] = [];
  const serverUnmatched: UnmatchedEvent[] = [];

  beforeAll(async () => {
    server = await serve({ methods: { echo: (params: unknown) => params } });
    server.on('connection', (peer) => peer.on('unmatched', (event) => serverUnmatched.push(event)));
    client = connect(server.url);
    await client.ready;
    raw = new WebSocket(server.url);
    raw.on('message', (data) => rawInbox.push(...messagesOf(data.toString())));
    await new Promise((resolve, reject) => (raw.once('open', resolve), raw.once('error', reject)));
  });
  afterAll(async () => {
    raw.close();
    await client.close();
    await server.close();
  });

  it('keeps serving: legitimate calls from a callstate client and from the raw peer get exactly their own results', async () => {
    let reported = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(junkFrame, { minLength: 1, maxLength: 6 }),
        fc.array(callParams, { minLength: 1, maxLength: 3 }),
        callParams,
        async (junk, params, rawParams) => {
          const rawId = `legit:${randomUUID()}`;
          // Junk, then legitimate calls from both connections, then more junk while they are in flight.
          for (const frame of junk) sendFrame(raw, frame);
          const calls = params.map((p) => client.request('echo', p));
          raw.send(JSON.stringify({ jsonrpc: '2.0', id: rawId, method: 'echo', params: rawParams }));
          for (const frame of junk) sendFrame(raw, frame);

          expect(await Promise.all(calls)).toEqual(params.map(viaJson));
          await until(() => rawInbox.some((m) => hasId(m, rawId)), 'the raw peer to get its answer');
          const answers = rawInbox.filter((m) => hasId(m, rawId));
          expect(answers).toEqual([{ jsonrpc: '2.0', id: rawId, result: viaJson(rawParams) }]);
          rawInbox.length = 0;

          expect(raw.readyState).toBe(WebSocket.OPEN);
          expect(client.state).toBe('open');
          expect(server.connections.size).toBe(2);
          reported += takeReports(serverUnmatched);
          expect(uncaught).toEqual([]);
        },
      ),
      { numRuns: NUM_RUNS },
    );
    expect(client.pendingCalls).toBe(0);
    // The junk did reach the server's reporting path (not all silently dropped).
    expect(reported).toBeGreaterThan(0);
  });
});

describe('a client fed arbitrary frames by a raw ws server', () => {
  let wss: WebSocketServer;
  let url: string;
  /** Frames the raw server sends before it answers each request of the current run. */
  let junk: JunkFrame[] = [];

  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    // A hand-written JSON-RPC server: junk first, then the answers to a burst of requests in reverse order.
    wss.on('connection', (socket) => {
      let burst: Array<{ id: unknown; params: unknown }> = [];
      socket.on('message', (data, isBinary) => {
        if (isBinary) return;
        for (const m of messagesOf(data.toString()) as Array<{ id?: unknown; method?: unknown; params?: unknown }>) {
          if (m.method !== 'echo') continue; // the client's replies to junk requests, cancel notices
          if (burst.push({ id: m.id, params: m.params }) === 1) {
            setImmediate(() => {
              const answers = burst.reverse();
              burst = [];
              for (const frame of junk) sendFrame(socket, frame);
              for (const { id, params } of answers) socket.send(JSON.stringify({ jsonrpc: '2.0', id, result: params }));
            });
          }
        }
      });
    });
  });
  afterAll(async () => {
    await new Promise((resolve) => wss.close(resolve));
  });

  it.each(['light', 'xstate'] as const)('matches every answer to its own call and reports the rest typed (%s engine)', async (engine) => {
    const client = connect(url, { engine });
    const unmatched: UnmatchedEvent[] = [];
    client.on('unmatched', (event) => unmatched.push(event));
    await client.ready;
    let reported = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(junkFrame, { minLength: 1, maxLength: 6 }),
          fc.array(callParams, { minLength: 1, maxLength: 4 }),
          async (frames, params) => {
            junk = frames;
            const results = await Promise.all(params.map((p) => client.request('echo', p)));
            expect(results).toEqual(params.map(viaJson));
            expect(client.state).toBe('open');
            expect(client.pendingCalls).toBe(0);
            reported += takeReports(unmatched);
            expect(uncaught).toEqual([]);
          },
        ),
        { numRuns: NUM_RUNS / 2 },
      );
      expect(reported).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });
});

describe('frames that must close the connection', () => {
  it('closes with 1007 on a text frame that is not UTF-8, failing pending calls with ConnectionClosedError', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    const closeCodes: number[] = [];
    wss.on('connection', (socket) => {
      socket.on('close', (code) => closeCodes.push(code));
      socket.on('message', () => socket.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }));
    });
    const client = connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    try {
      const { error } = await settle(client.request('echo', []));
      // The client sends close code 1007; it stops reading at the bad frame, so its own close is 1006, with ws's error as the cause.
      await until(() => closeCodes.length === 1, 'the raw server to see the close');
      expect(closeCodes).toEqual([1007]);
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect([error.code, error.closeCode, error.cause?.code]).toEqual(['ERR_CONNECTION_CLOSED', 1006, 'WS_ERR_INVALID_UTF8']);
      expect(client.state).toBe('closed');
      expect(client.pendingCalls).toBe(0);
      expect(uncaught).toEqual([]);
    } finally {
      await client.close();
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
