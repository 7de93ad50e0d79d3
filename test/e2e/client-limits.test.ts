/**
 * A client applies to calls from the server the limits a server applies to
 * calls from clients (batch size, depth, calls in flight), with the same
 * defaults: a server cannot make a client run without bound.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import {
  connect,
  DEFAULT_MAX_BATCH,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
  DEFAULT_MAX_IN_FLIGHT_BYTES_PER_CONNECTION,
  ErrorCodes,
  type Client,
  type ClientOptions,
} from '../../src/index.js';
import { closeAfterEach, until } from '../helpers.js';

let client: Client | undefined;
let wss: WebSocketServer | undefined;
closeAfterEach(() => [client, { close: () => new Promise<void>((resolve) => (wss ? wss.close(() => resolve()) : resolve())) }]);

/** A plain ws server that sends the client what a test writes and collects what the client answers. */
async function rawServerPeer() {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((resolve) => wss!.once('listening', resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss!.once('connection', resolve));
  const answers: any[] = [];
  const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
  return {
    url,
    answers,
    socket: async () => {
      const socket = await accepted;
      socket.on('message', (data) => answers.push(JSON.parse(data.toString())));
      return socket;
    },
  };
}

/**
 * A client of `peer` whose one method, `hang`, never ends: once it is ready, the client, the server side's socket and
 * how many times `hang` started.
 */
async function hangingClient(peer: Awaited<ReturnType<typeof rawServerPeer>>, options: ClientOptions = {}) {
  let ran = 0;
  const made = (client = connect(peer.url, { heartbeat: 0, ...options, methods: { hang: () => (ran++, new Promise(() => {})) } }));
  const socket = await peer.socket();
  await made.ready;
  return { client: made, socket, ran: () => ran };
}

const call = (id: number, method = 'hang') => ({ jsonrpc: '2.0', id, method });

describe('limits on calls from the server', () => {
  it('defaults to the server-side limits', () => {
    expect([
      DEFAULT_MAX_BATCH,
      DEFAULT_MAX_DEPTH,
      DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
      DEFAULT_MAX_IN_FLIGHT_BYTES_PER_CONNECTION,
    ]).toEqual([100, 64, 10_000, 16 * 1024 * 1024]);
  });

  it('answers a batch longer than maxBatch (default 100) with one -32600 and runs none of it', async () => {
    const peer = await rawServerPeer();
    const { socket, ran } = await hangingClient(peer);
    socket.send(JSON.stringify(Array.from({ length: 101 }, (_, i) => call(i))));
    await until(() => peer.answers.length === 1, 'the answer to the batch');
    expect(peer.answers[0]).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: ErrorCodes.InvalidRequest, message: 'batch of 101 messages exceeds 100 (maxBatch)' },
    });
    expect(ran()).toBe(0);
  });

  it('answers a frame nested deeper than maxDepth (default 64) with -32600', async () => {
    const peer = await rawServerPeer();
    client = connect(peer.url, { heartbeat: 0, methods: { hang: () => new Promise(() => {}) } });
    const socket = await peer.socket();
    await client.ready;
    socket.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hang', params: [JSON.parse('['.repeat(70) + ']'.repeat(70))] }));
    await until(() => peer.answers.length === 1, 'the answer');
    expect(peer.answers[0].error).toEqual({
      code: ErrorCodes.InvalidRequest,
      message: expect.stringMatching(/deeper than 64 levels \(maxDepth\)/),
    });
  });

  it('fails a handler of a call from the server past handlerTimeout with -32001 and aborts its signal', async () => {
    const peer = await rawServerPeer();
    let reason: unknown;
    client = connect(peer.url, {
      heartbeat: 0,
      handlerTimeout: 50,
      methods: { hang: (_p: unknown, ctx) => new Promise(() => ctx.signal.addEventListener('abort', () => (reason = ctx.signal.reason))) },
    });
    const socket = await peer.socket();
    await client.ready;
    socket.send(JSON.stringify(call(7)));
    await until(() => peer.answers.length === 1, 'the answer', 1_000_000);
    expect(peer.answers[0]).toEqual({
      jsonrpc: '2.0',
      id: 7,
      error: {
        code: ErrorCodes.HandlerTimeout,
        message: 'method "hang" did not finish within 50 ms (handlerTimeout)',
        data: { method: 'hang', handlerTimeout: 50 },
      },
    });
    expect((reason as DOMException).name).toBe('TimeoutError');
    expect(client.handlingCalls).toBe(0);
  });

  it('answers calls beyond maxInFlightPerConnection -32000 busy, unrun, so three batches cannot start 150,000 handlers', async () => {
    const peer = await rawServerPeer();
    const { client: limited, socket, ran } = await hangingClient(peer, { maxInFlightPerConnection: 50 });
    for (let batch = 0; batch < 3; batch++) socket.send(JSON.stringify(Array.from({ length: 100 }, (_, i) => call(batch * 100 + i))));
    // 50 of the first batch run and never answer (so its reply never completes); the other two batches are answered busy, whole.
    await until(() => peer.answers.flat().length === 200, 'the busy answers');
    expect(ran()).toBe(50);
    expect(limited.handlingCalls).toBe(50);
    for (const answer of peer.answers.flat()) {
      expect(answer.error.code).toBe(ErrorCodes.ServerBusy);
      expect(answer.error.message).toMatch(/50 calls already in flight on this connection \(maxInFlightPerConnection\)/);
    }
  });

  it('by default runs at most 16 MiB of the server calls at once: one more is answered -32000 busy, unrun', async () => {
    const peer = await rawServerPeer();
    const { socket, ran } = await hangingClient(peer);
    for (let id = 0; id < 17; id++) socket.send(JSON.stringify({ ...call(id), params: ['x'.repeat(1_000_000)] }));
    await until(() => peer.answers.length === 1, 'the busy answer');
    expect(ran()).toBe(16);
    expect(peer.answers[0]).toMatchObject({
      id: 16,
      error: { code: ErrorCodes.ServerBusy, data: { maxInFlightBytesPerConnection: DEFAULT_MAX_IN_FLIGHT_BYTES_PER_CONNECTION } },
    });
  });
});
