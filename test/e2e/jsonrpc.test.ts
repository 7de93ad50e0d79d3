import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connect, serve, ErrorCodes, RemoteError, RpcError, type Client, type Server } from '../../src/index.js';
import { rawClient, settle } from '../helpers.js';

let server: Server;
let client: Client | undefined;

beforeEach(async () => {
  server = await serve({
    methods: {
      echo: (p: unknown) => p,
      add: ([a, b]: [number, number]) => {
        if (typeof a !== 'number' || typeof b !== 'number')
          throw new RpcError(ErrorCodes.InvalidParams, 'add takes two numbers', { got: [a, b] });
        return a + b;
      },
      nothing: () => undefined,
      bigint: () => 10n as unknown as number,
      throwsUndefined: () => Promise.reject(undefined),
    },
  });
});

afterEach(async () => {
  await client?.close();
  client = undefined;
  await server.close();
});

describe('JSON-RPC 2.0 on the wire', () => {
  it('answers a literal request with a literal response', async () => {
    const raw = await rawClient(server.url);
    raw.send('{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}');
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 1, result: 5 });
    raw.send('{"jsonrpc":"2.0","id":"s","method":"nothing"}');
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 's', result: null });
    await raw.close();
  });

  it('answers -32700 with id null to text that is not JSON', async () => {
    const raw = await rawClient(server.url);
    raw.send('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]');
    expect(await raw.next()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    await raw.close();
  });

  it('answers -32600 to an invalid request, with its id when one can be read', async () => {
    const raw = await rawClient(server.url);
    raw.send('{"jsonrpc":"2.0","method":1,"params":"bar","id":"q"}');
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 'q', error: { code: -32600, message: '"method" must be a string' } });
    raw.send('[]');
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'empty batch' } });
    raw.send('{"jsonrpc":"2.0","method":"echo","params":7,"id":3}');
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 3, error: { code: -32600, message: '"params" must be an array or an object' } });
    await raw.close();
  });

  it('answers -32601 to an unknown method, as RemoteError on a callstate client', async () => {
    client = connect(server.url);
    const { error } = await settle(client.request('subtract', [1, 2]));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.name, error.code, error.message]).toEqual(['RemoteError', -32601, 'method not found: subtract']);
  });

  it('answers -32602 with data when a handler rejects its params', async () => {
    client = connect(server.url);
    const { error } = await settle(client.request('add', ['x', 1]));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message, error.data]).toEqual([-32602, 'add takes two numbers', { got: ['x', 1] }]);
  });

  it('answers -32603 when a result cannot be encoded as JSON', async () => {
    client = connect(server.url);
    const { error } = await settle(client.request('bigint'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe(-32603);
    expect(error.message).toMatch(/^the result of "bigint" cannot be encoded as JSON: /);
  });

  it('answers -32603, not -32601, when a handler rejects with undefined', async () => {
    client = connect(server.url);
    const { error } = await settle(client.request('throwsUndefined'));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message, error.data]).toEqual([-32603, 'undefined', { name: 'undefined' }]);
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'])(
    'answers -32601 to the inherited name %s, never reaching Object.prototype',
    async (method) => {
      const raw = await rawClient(server.url);
      raw.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: [] }));
      expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 1, error: { code: -32601, message: `method not found: ${method}` } });
      await raw.close();
    },
  );

  it('answers a batch with one array of responses, skipping notifications and answering invalid members', async () => {
    const raw = await rawClient(server.url);
    raw.send(
      JSON.stringify([
        { jsonrpc: '2.0', id: 'a', method: 'add', params: [1, 2] },
        { jsonrpc: '2.0', method: 'echo', params: ['notification'] },
        { jsonrpc: '2.0', id: 'b', method: 'missing' },
        1,
      ]),
    );
    const reply = (await raw.next()) as Array<{ id: unknown }>;
    expect(Array.isArray(reply)).toBe(true);
    expect([...reply].sort((x, y) => String(x.id).localeCompare(String(y.id)))).toEqual([
      { jsonrpc: '2.0', id: 'a', result: 3 },
      { jsonrpc: '2.0', id: 'b', error: { code: -32601, message: 'method not found: missing' } },
      { jsonrpc: '2.0', id: null, error: { code: -32600, message: 'a message must be a JSON object' } },
    ]);
    await raw.close();
  });

  it('sends no reply to a batch of notifications only', async () => {
    const raw = await rawClient(server.url);
    raw.send(JSON.stringify([{ jsonrpc: '2.0', method: 'echo', params: [1] }]));
    raw.send('{"jsonrpc":"2.0","id":"after","method":"echo","params":[2]}');
    expect(await raw.next()).toEqual({ jsonrpc: '2.0', id: 'after', result: [2] });
    await raw.close();
  });

  it('uses string nanoid ids, unique across clients', async () => {
    const seen: Array<string | number> = [];
    await server.close();
    server = await serve({ methods: { id: (_p: unknown, ctx) => (seen.push(ctx.id!), ctx.id) } });
    const clients = [connect(server.url), connect(server.url), connect(server.url)];
    await Promise.all(clients.flatMap((c) => Array.from({ length: 50 }, () => c.request('id'))));
    await Promise.all(clients.map((c) => c.close()));
    expect(seen).toHaveLength(150);
    expect(new Set(seen).size).toBe(150);
    for (const id of seen) expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/);
  });
});

describe('misuse', () => {
  it('throws TypeError and RangeError synchronously for bad arguments', async () => {
    client = connect(server.url);
    expect(() => client!.request('' as string)).toThrow(new TypeError('method must be a non-empty string, got ""'));
    expect(() => client!.request('echo', 5 as never)).toThrow(
      new TypeError('params must be an object or an array (JSON-RPC 2.0), got number'),
    );
    expect(() => client!.request('echo', {}, { timeout: -1 })).toThrow(RangeError);
    expect(() => client!.request('echo', {}, { timeout: Infinity })).toThrow(RangeError);
    expect(() => client!.request('echo', {}, { signal: {} as AbortSignal })).toThrow(TypeError);
    expect(() => connect('ftp://example.invalid')).toThrow(
      new TypeError('url must be a ws://, wss://, http://, https:// or nats:// URL, got "ftp://example.invalid"'),
    );
    expect(() => connect(server.url, { timeout: 0 })).toThrow(
      new RangeError('options.timeout must be greater than 0 and at most 2147483647 ms, got 0'),
    );
    await expect(serve({ methods: { x: 1 as never } })).rejects.toThrow(
      new TypeError('options.methods.x must be a function or { params, handler }, got number 1'),
    );
  });

  it('rejects params that cannot be encoded with ProtocolError, sending nothing', async () => {
    client = connect(server.url);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const { error } = await settle(client.request('echo', cyclic));
    expect([error.name, error.code]).toEqual(['ProtocolError', 'ERR_PROTOCOL']);
    expect(error.message).toMatch(/^params of "echo" cannot be encoded as JSON: /);
    expect(client.pendingCalls).toBe(0);
    expect(() => client!.notify('log', { n: 1n })).toThrow(/^params of "log" cannot be encoded as JSON: /);
    expect(() => client!.notify('log', { n: 1n })).toThrow(expect.objectContaining({ name: 'ProtocolError', code: 'ERR_PROTOCOL' }));
  });
});
