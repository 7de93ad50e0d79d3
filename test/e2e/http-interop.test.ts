import { execFile } from 'node:child_process';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JSONRPCClient, JSONRPCErrorException, JSONRPCServer, type JSONRPCResponse } from 'json-rpc-2.0';
import { describe, expect, it } from 'vitest';
import { connect, serve, RemoteError, type Client, type Server } from '../../src/index.js';
import { closeAfterEach, settle, until } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;
let third: HttpServer | undefined;

closeAfterEach(() => [client, server, third && { close: () => new Promise((resolve) => third!.close(resolve)) }]);

const methods = {
  add: ([a, b]: [number, number]) => a + b,
  greet: ({ name }: { name: string }) => `hello ${name}`,
};

/** Runs /usr/bin/curl with `args`; resolves with what it printed. */
function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile('/usr/bin/curl', ['--silent', '--show-error', ...args], (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );
}

describe('third-party clients call our HTTP endpoint', () => {
  it('curl: a request, a batch, and a notification (204)', async () => {
    server = await serve({ methods });
    const post = ['-H', 'Content-Type: application/json', '--data'];
    expect(JSON.parse(await curl([...post, '{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}', server.httpUrl]))).toEqual({
      jsonrpc: '2.0',
      id: 1,
      result: 5,
    });
    const batch = JSON.parse(
      await curl([
        ...post,
        '[{"jsonrpc":"2.0","id":1,"method":"add","params":[1,1]},{"jsonrpc":"2.0","id":2,"method":"greet","params":{"name":"curl"}}]',
        server.httpUrl,
      ]),
    ) as Array<{ id: number }>;
    expect(batch.sort((a, b) => a.id - b.id)).toEqual([
      { jsonrpc: '2.0', id: 1, result: 2 },
      { jsonrpc: '2.0', id: 2, result: 'hello curl' },
    ]);
    const status = await curl([
      ...post,
      '{"jsonrpc":"2.0","method":"greet","params":{"name":"x"}}',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      server.httpUrl,
    ]);
    expect(status).toBe('204');
  });

  it('curl --http2 (Upgrade: h2c on its POST): a 400 that says to post without it, not 405 "Invalid HTTP method"', async () => {
    let runs = 0;
    server = await serve({ methods: { add: ([a, b]: [number, number]) => (runs++, a + b) } });
    const answer = await curl([
      '--http2',
      '-H',
      'Content-Type: application/json',
      '--data',
      '{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}',
      '-w',
      ' %{http_code}',
      server.httpUrl,
    ]);
    expect(answer).toBe('Upgrade: h2c is not taken here (only websocket): send the POST without it (curl: --http1.1) 400');
    expect(runs).toBe(0);
    // What the answer says to do works.
    expect(
      JSON.parse(
        await curl([
          '--http1.1',
          '-H',
          'Content-Type: application/json',
          '--data',
          '{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}',
          server.httpUrl,
        ]),
      ),
    ).toMatchObject({ result: 5 });
  });

  it('a plain fetch', async () => {
    server = await serve({ methods });
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'f', method: 'greet', params: { name: 'fetch' } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ jsonrpc: '2.0', id: 'f', result: 'hello fetch' });
  });

  it("json-rpc-2.0's JSONRPCClient: results and errors", async () => {
    server = await serve({ methods });
    const url = server.httpUrl;
    const rpc: JSONRPCClient = new JSONRPCClient(async (request) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
      if (response.status === 200) rpc.receive((await response.json()) as JSONRPCResponse);
      else if (request.id !== undefined) throw new Error(response.statusText);
    });
    expect(await rpc.request('add', [20, 22])).toBe(42);
    expect(await rpc.request('greet', { name: 'json-rpc-2.0' })).toBe('hello json-rpc-2.0');
    const { error } = await settle(rpc.request('missing', []) as Promise<unknown>);
    expect(error).toBeInstanceOf(JSONRPCErrorException);
    expect(error).toMatchObject({ code: -32601, message: 'method not found: missing' });
    await rpc.notify('greet', { name: 'n' });
  });
});

describe('our HTTP client calls a third-party JSON-RPC server', () => {
  it("json-rpc-2.0's JSONRPCServer behind node:http: results, errors, notifications", async () => {
    const rpc = new JSONRPCServer();
    const notes: unknown[] = [];
    rpc.addMethod('add', ([a, b]: [number, number]) => a + b);
    rpc.addMethod('note', (params: unknown) => void notes.push(params));
    third = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        void rpc.receiveJSON(body).then((answer) => {
          if (answer === null) res.writeHead(204).end();
          else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        });
      });
    });
    await new Promise<void>((resolve) => third!.listen(0, '127.0.0.1', resolve));
    client = connect(`http://127.0.0.1:${(third.address() as AddressInfo).port}/`);
    const answers = await Promise.all([client.request('add', [1, 2]), client.request('add', [3, 4])]);
    expect(answers).toEqual([3, 7]);
    const { error } = await settle(client.request('missing'));
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.code).toBe(-32601);
    client.notify('note', { n: 1 });
    // The notification is a POST of its own, maybe on another TCP connection: it arrives in its own time.
    await until(() => notes.length === 1, 'the notification');
    expect(notes).toEqual([{ n: 1 }]);
  });

  it('a JSON-RPC 1.0 style server (Bitcoin Core before v28): "error": null beside results, "result": null beside errors, no "jsonrpc", 404/500 on errors', async () => {
    third = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        const { id, method } = JSON.parse(body) as { id: string; method: string };
        const answer = (status: number, members: object) =>
          res.writeHead(status, { 'content-type': 'application/json' }).end(`${JSON.stringify({ ...members, id })}\n`);
        if (method === 'getblockcount') answer(200, { result: 870_000, error: null });
        else if (method === 'getblockhash') answer(500, { result: null, error: { code: -8, message: 'Block height out of range' } });
        else answer(404, { result: null, error: { code: -32601, message: 'Method not found' } });
      });
    });
    await new Promise<void>((resolve) => third!.listen(0, '127.0.0.1', resolve));
    client = connect(`http://127.0.0.1:${(third.address() as AddressInfo).port}/`);
    expect(await client.request('getblockcount')).toBe(870_000);
    const range = await settle(client.request('getblockhash', [9_999_999]));
    expect(range.error).toBeInstanceOf(RemoteError);
    expect(range.error).toMatchObject({ code: -8, message: 'Block height out of range' });
    expect((await settle(client.request('nope'))).error).toMatchObject({ name: 'RemoteError', code: -32601, message: 'Method not found' });
  });
});
