/** The inbound dispatcher on its own: literal frames in, a recording host, literal answers out. */
import { describe, expect, it } from 'vitest';
import { receiveCancels, receiveFrame, type InboundHost, type Reply } from '../src/core/inbound.js';
import type { BatchReply } from '../src/core/batch-reply.js';
import { RpcError } from '../src/errors.js';
import { Hooks, type ErrorInfo } from '../src/hooks.js';
import type { RequestFrame } from '../src/protocol/jsonrpc.js';

/** A host that records what reaches it; its calls answer `true` (started) unless the id is in `running`. */
function recordingHost(options: { maxInFlight?: number; maxInFlightBytes?: number; accepting?: boolean; full?: boolean } = {}) {
  const seen: unknown[][] = [];
  const running = new Set<string | number>();
  let runningBytes = 0;
  /** The size of each call started, as the dispatcher counted it. */
  const sizes: number[] = [];
  const batches: Array<BatchReply | undefined> = [];
  const errors: Array<[unknown, ErrorInfo]> = [];
  const host: InboundHost = {
    limits: {
      handlerTimeout: undefined,
      maxBatch: 3,
      maxDepth: 4,
      maxInFlight: options.maxInFlight ?? 10,
      maxInFlightBytes: options.maxInFlightBytes ?? 1_000_000,
      side: 'server',
    },
    hooks: new Hooks({ onError: (error, info) => errors.push([error, info]) }),
    connection: () => connection,
    running: {
      get size() {
        return running.size;
      },
      get bytes() {
        return runningBytes;
      },
      hold: (bytes) => void (runningBytes += bytes),
    },
    accepting: () => options.accepting ?? true,
    busy: (method) => (options.full ? { code: -32000, message: `full: ${method}` } : undefined),
    startCall: (frame: RequestFrame, batch, _reply, bytes) => {
      if (running.has(frame.id)) return false;
      running.add(frame.id);
      runningBytes += bytes;
      batch?.expect(); // as IncomingCalls.receive does: the batch waits for this call's answer
      batches.push(batch);
      seen.push(['call', frame.id, frame.method]);
      sizes.push(bytes);
      return true;
    },
    cancelCall: (id) => seen.push(['cancel', id]),
    response: ({ kind, frame }) => seen.push([kind, frame.id]),
    notification: (method, params) => seen.push(['notification', method, params]),
    runNotification: (method) => seen.push(['run', method]),
    report: (reason, _message, id, detail) => seen.push(['report', reason, id, detail]),
  };
  const answers: unknown[] = [];
  const reply: Reply = (text) => answers.push(JSON.parse(text));
  return { host, seen, answers, reply, batches, errors, sizes };
}

const connection = { transport: 'ws', remoteAddress: '127.0.0.1', headers: {}, url: '/', data: undefined } as const;

const send = (host: InboundHost, reply: Reply, value: unknown) =>
  receiveFrame(host, typeof value === 'string' ? value : JSON.stringify(value), reply);

describe('receiveFrame', () => {
  it('starts a call for a request, hands responses, notifications and cancels to the host, and answers nothing itself', () => {
    const { host, seen, answers, reply } = recordingHost();
    send(host, reply, { jsonrpc: '2.0', id: 1, method: 'add', params: [1, 2] });
    send(host, reply, { jsonrpc: '2.0', id: 'a', result: 3 });
    send(host, reply, { jsonrpc: '2.0', id: 'b', error: { code: 1, message: 'no' } });
    send(host, reply, { jsonrpc: '2.0', method: 'log', params: { line: 'x' } });
    send(host, reply, { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 1 } });
    expect(seen).toEqual([
      ['call', 1, 'add'],
      ['result', 'a'],
      ['error', 'b'],
      ['notification', 'log', { line: 'x' }],
      ['run', 'log'],
      ['cancel', 1],
    ]);
    expect(answers).toEqual([]);
  });

  it('runs the method a notification names only while the host accepts work; its listeners hear it either way', () => {
    const closing = recordingHost({ accepting: false });
    send(closing.host, closing.reply, { jsonrpc: '2.0', method: 'log', params: [1] });
    expect(closing.seen).toEqual([['notification', 'log', [1]]]);
  });

  it('reports every error it answers itself to the hooks, with the method, id and connection', () => {
    const { host, reply, errors } = recordingHost({ maxInFlight: 1 });
    send(host, reply, '{"jsonrpc":');
    send(host, reply, { jsonrpc: '2.0', id: 7, method: 1 });
    send(host, reply, { jsonrpc: '2.0', id: 1, method: 'a' });
    send(host, reply, { jsonrpc: '2.0', id: 2, method: 'b' });
    expect(errors.map(([error, info]) => [(error as RpcError).code, info.method, info.id, info.kind, info.connection])).toEqual([
      [-32700, undefined, null, 'protocol', connection],
      [-32600, undefined, 7, 'protocol', connection],
      [-32000, 'b', 2, 'protocol', connection],
    ]);
    expect(errors.map(([error, info]) => [error instanceof RpcError, info.response?.code])).toEqual([
      [true, -32700],
      [true, -32600],
      [true, -32000],
    ]);
  });

  it('answers what cannot be parsed or exceeds maxBatch or maxDepth with id null, and reports it malformed', () => {
    const { host, seen, answers, reply } = recordingHost();
    send(host, reply, '{"jsonrpc":');
    send(
      host,
      reply,
      [1, 2, 3, 4].map((id) => ({ jsonrpc: '2.0', id, method: 'm' })),
    );
    send(host, reply, { jsonrpc: '2.0', id: 1, method: 'm', params: [[[[1]]]] });
    expect(answers.map((a: any) => [a.id, a.error.code])).toEqual([
      [null, -32700],
      [null, -32600],
      [null, -32600],
    ]);
    expect(seen.map((s) => s.slice(0, 2))).toEqual([
      ['report', 'malformed'],
      ['report', 'malformed'],
      ['report', 'malformed'],
    ]);
  });

  it('refuses a request as busy beyond maxInFlight, or when the host says so, without starting it', () => {
    const full = recordingHost({ maxInFlight: 1 });
    send(full.host, full.reply, { jsonrpc: '2.0', id: 1, method: 'a' });
    send(full.host, full.reply, { jsonrpc: '2.0', id: 2, method: 'b' });
    expect(full.seen).toEqual([['call', 1, 'a']]);
    expect(full.answers).toEqual([
      {
        jsonrpc: '2.0',
        id: 2,
        error: expect.objectContaining({ code: -32000, message: expect.stringMatching(/server busy: 1 call already in flight/) }),
      },
    ]);

    const buffer = recordingHost({ full: true });
    send(buffer.host, buffer.reply, { jsonrpc: '2.0', id: 3, method: 'c' });
    expect(buffer.answers).toEqual([{ jsonrpc: '2.0', id: 3, error: { code: -32000, message: 'full: c' } }]);
  });

  it('refuses a request as busy when the requests running would pass maxInFlightBytes, but runs a large one alone', () => {
    const request = (id: number, size: number) => JSON.stringify({ jsonrpc: '2.0', id, method: 'a', params: ['x'.repeat(size)] });
    const { host, seen, answers, reply, sizes } = recordingHost({ maxInFlightBytes: 100 });
    // Alone, a request larger than the budget runs (maxPayload bounds it); nothing more runs beside it.
    send(host, reply, request(1, 200));
    send(host, reply, request(2, 1));
    expect(seen).toEqual([['call', 1, 'a']]);
    expect(sizes).toEqual([request(1, 200).length]);
    expect(answers).toEqual([
      {
        jsonrpc: '2.0',
        id: 2,
        error: {
          code: -32000,
          message: `server busy: requests of ${request(1, 200).length} characters already running on this connection, ${request(2, 1).length} characters more would pass 100 (maxInFlightBytesPerConnection); "a" was not run`,
          data: { maxInFlightBytesPerConnection: 100 },
        },
      },
    ]);

    // Within the budget, requests run side by side; a batch's messages each count their own text, whatever else
    // the batch holds (padding such as `{}` would otherwise shrink a large one's share to next to nothing).
    const small = recordingHost({ maxInFlightBytes: 200 });
    send(small.host, small.reply, request(1, 1));
    const batch = [{ jsonrpc: '2.0', id: 2, method: 'a', params: ['x'.repeat(50)] }, { jsonrpc: '2.0', id: 3, method: 'a' }, {}];
    send(small.host, small.reply, batch);
    expect(small.sizes).toEqual([request(1, 1).length, JSON.stringify(batch[0]).length, JSON.stringify(batch[1]).length]);
    // The batch's answer (the -32600 of its `{}`) waits for its calls.
    expect(small.answers).toEqual([]);
  });

  it('answers a second request with the id of a running one -32600 and reports it duplicate; a closing host drops requests', () => {
    const { host, seen, answers, reply } = recordingHost();
    send(host, reply, { jsonrpc: '2.0', id: 'x', method: 'a' });
    send(host, reply, { jsonrpc: '2.0', id: 'x', method: 'a' });
    expect(answers).toEqual([
      { jsonrpc: '2.0', id: 'x', error: { code: -32600, message: 'a request with id "x" is already being handled' } },
    ]);
    expect(seen[1]).toEqual(['report', 'duplicate', 'x', 'a request with this id is already being handled']);

    const closing = recordingHost({ accepting: false });
    send(closing.host, closing.reply, { jsonrpc: '2.0', id: 1, method: 'a' });
    expect([closing.seen, closing.answers]).toEqual([[], []]);
  });

  it('gathers the answers to a batch in one array, and hands the batch to each call it starts', () => {
    const { host, answers, reply, batches } = recordingHost({ maxInFlight: 1 });
    send(host, reply, [
      { jsonrpc: '2.0', id: 1, method: 'a' },
      { jsonrpc: '2.0', id: 2, method: 'b' },
      { jsonrpc: '2.0', bad: true },
    ]);
    expect(batches).toHaveLength(1);
    expect(batches[0]).toBeDefined();
    // The started call has not answered, so the batch's array waits for it.
    expect(answers).toEqual([]);
    batches[0]!.add('{"jsonrpc":"2.0","id":1,"result":"a"}');
    expect(answers).toHaveLength(1);
    expect((answers[0] as any[]).map((a) => [a.id, a.result ?? a.error.code])).toEqual([
      [2, -32000],
      [null, -32600],
      [1, 'a'],
    ]);
  });

  it("hands a broken message with no method and an id to the host's calls: one that fails a call is not answered", () => {
    const { host, seen, answers, reply } = recordingHost();
    const asked: unknown[][] = [];
    host.malformedResponse = (id, detail, frame) => (asked.push([id, detail, frame()]), id === 'w');
    const badCode = '{"jsonrpc":"2.0","id":"w","error":{"code":"x","message":"no"}}';
    send(host, reply, badCode);
    send(host, reply, '{"jsonrpc":"2.0","id":"w"}');
    send(host, reply, '{"jsonrpc":"2.0","id":"other"}');
    // Not asked: a broken request (it has a method), and a message with no readable id.
    send(host, reply, '{"jsonrpc":"2.0","id":"w","method":5}');
    send(host, reply, '{"jsonrpc":"2.0","id":null,"error":{"code":"x","message":"no"}}');
    send(host, reply, [{ jsonrpc: '2.0', id: 'w', result: 1, error: { code: 1, message: 'm' } }]);
    const ONE_OF = 'a response must have exactly one of "result" and "error"';
    const NEITHER = 'the message has no "method", "result" or "error": a request needs a "method", a response "result" or "error"';
    expect(asked).toEqual([
      ['w', '"error.code" must be an integer', badCode],
      ['w', NEITHER, '{"jsonrpc":"2.0","id":"w"}'],
      ['other', NEITHER, '{"jsonrpc":"2.0","id":"other"}'],
      ['w', ONE_OF, '{"jsonrpc":"2.0","id":"w","result":1,"error":{"code":1,"message":"m"}}'],
    ]);
    // Every one is still reported malformed.
    expect(seen.map((s) => s.slice(0, 3))).toEqual([
      ['report', 'malformed', 'w'],
      ['report', 'malformed', 'w'],
      ['report', 'malformed', 'other'],
      ['report', 'malformed', 'w'],
      ['report', 'malformed', null],
      ['report', 'malformed', 'w'],
    ]);
    // Answered as before: what took no call and may have been meant as a request.
    expect(answers).toEqual([
      { jsonrpc: '2.0', id: 'other', error: { code: -32600, message: NEITHER } },
      { jsonrpc: '2.0', id: 'w', error: { code: -32600, message: '"method" must be a string' } },
    ]);
  });

  it('with no way back, reports requests unanswerable and answers nothing', () => {
    const { host, seen } = recordingHost();
    receiveFrame(host, '{"jsonrpc":"2.0","id":1,"method":"a"}', undefined);
    receiveFrame(host, 'nonsense', undefined);
    expect(seen.map((s) => s.slice(0, 3))).toEqual([
      ['report', 'malformed', 1],
      ['report', 'malformed', null],
    ]);
  });
});

describe('receiveCancels', () => {
  it('cancels each $/cancelRequest of a frame, alone or in a batch, and ignores everything else', () => {
    const { host, seen } = recordingHost();
    receiveCancels(host, JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 'a' } }));
    receiveCancels(
      host,
      JSON.stringify([
        { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: 'b' } },
        { jsonrpc: '2.0', id: 1, method: 'work' },
        { jsonrpc: '2.0', method: '$/cancelRequest', params: { id: { not: 'an id' } } },
      ]),
    );
    receiveCancels(host, 'nonsense');
    // Within the limits: a batch past maxBatch (3 here) is dropped whole.
    receiveCancels(host, JSON.stringify(['c', 'd', 'e', 'f'].map((id) => ({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } }))));
    expect(seen).toEqual([
      ['cancel', 'a'],
      ['cancel', 'b'],
    ]);
  });
});
