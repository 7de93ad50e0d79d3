/**
 * Interop with peers that are not JSON-RPC 2.0 to the letter: a JSON-RPC 1.0 server (Go's net/rpc/jsonrpc) whose
 * errors are plain strings, and clients that write `"params": null` for a method that takes none.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:buffer';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { z } from 'zod';
import { connect, serve, ErrorCodes, RemoteError, type Client, type Server } from '../../src/index.js';
import { DEFAULT_CLIENT_MAX_PAYLOAD } from '../../src/limits.js';
import { bin } from '../cli-helpers.js';
import { closeAfterEach, rawClient, settle, until } from '../helpers.js';

let client: Client | undefined;
let server: Server | undefined;
closeAfterEach(() => {
  const items = [client, server];
  client = server = undefined;
  return items;
});

/** What Go's jsonrpc.ServeConn writes for a method that returned `errors.New(message)`: json.Encoder's newline included. */
const goError = (id: unknown, message: string) => `{"id":${JSON.stringify(id)},"result":null,"error":${JSON.stringify(message)}}\n`;
/** What it writes for a method that succeeded. */
const goResult = (id: unknown, result: unknown) => `{"id":${JSON.stringify(id)},"result":${JSON.stringify(result)},"error":null}\n`;

/** Answers each request as Go's net/rpc/jsonrpc does: "divide" by zero fails with a string error, anything else echoes. */
function goAnswer(text: string): string {
  const { id, method, params } = JSON.parse(text);
  if (method === 'divide' && params[1] === 0) return goError(id, 'divide by zero');
  if (method === 'nope') return goError(id, "rpc: can't find method Arith.Nope");
  return goResult(id, params);
}

describe('a Go net/rpc/jsonrpc server (JSON-RPC 1.0: errors are strings)', () => {
  it('over WebSocket, a string error rejects the call with RemoteError -32603 whose message and data are that string', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket) => socket.on('message', (data) => socket.send(goAnswer(data.toString()))));
    try {
      const unmatched: unknown[] = [];
      client = connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { timeout: 5_000 });
      client.on('unmatched', (event) => void unmatched.push(event));
      const failed = await settle(client.request('divide', [1, 0]));
      expect(failed.error).toBeInstanceOf(RemoteError);
      expect(failed.error).toMatchObject({
        name: 'RemoteError',
        code: ErrorCodes.InternalError,
        message: 'divide by zero',
        data: 'divide by zero',
      });
      const missing = await settle(client.request('nope', []));
      expect(missing.error).toMatchObject({ name: 'RemoteError', code: -32603, message: "rpc: can't find method Arith.Nope" });
      // Its results still resolve, and nothing was reported.
      expect(await client.request('divide', [6, 3])).toEqual([6, 3]);
      expect(unmatched).toEqual([]);
    } finally {
      await client?.close();
      client = undefined;
      await new Promise<void>((resolve) => (wss.clients.forEach((socket) => socket.terminate()), wss.close(() => resolve())));
    }
  });

  it('over HTTP, a string error in a 200 answer rejects the call with the same RemoteError', async () => {
    const http: HttpServer = createServer((request, response) => {
      let body = '';
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end(goAnswer(body)));
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      client = connect(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { timeout: 5_000 });
      const failed = await settle(client.request('divide', [1, 0]));
      expect(failed.error).toBeInstanceOf(RemoteError);
      expect(failed.error).toMatchObject({ code: -32603, message: 'divide by zero', data: 'divide by zero' });
      expect(await client.request('divide', [6, 3])).toEqual([6, 3]);
    } finally {
      await client?.close();
      client = undefined;
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it('a string error in a response that says "jsonrpc": "2.0" is still malformed: JSON-RPC 2.0 requires an object', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise((resolve) => wss.once('listening', resolve));
    wss.on('connection', (socket) =>
      socket.on('message', (data) => socket.send(JSON.stringify({ jsonrpc: '2.0', id: JSON.parse(data.toString()).id, error: 'no' }))),
    );
    try {
      client = connect(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, { timeout: 5_000 });
      const failed = await settle(client.request('x', []));
      expect(failed.error).toMatchObject({ name: 'ProtocolError', message: expect.stringContaining('"error" must be an object') });
    } finally {
      await client?.close();
      client = undefined;
      await new Promise<void>((resolve) => (wss.clients.forEach((socket) => socket.terminate()), wss.close(() => resolve())));
    }
  });
});

describe('"params": null in a request is read as no params', () => {
  const seen: unknown[] = [];
  const methods = {
    probe: (params: unknown) => (seen.push(params), { absent: params === undefined }),
    typed: { params: z.object({ n: z.number() }), handler: ({ n }: { n: number }) => n },
    optional: { params: z.undefined(), handler: () => 'none given' },
  };

  /** The answer of a raw request to `server`, `params` as given (left out when undefined). */
  async function answer(frame: object): Promise<any> {
    const ws = await rawClient(server!.url);
    try {
      ws.send(JSON.stringify(frame));
      return await ws.next();
    } finally {
      await ws.close();
    }
  }

  it('over WebSocket: the handler sees what it sees for absent params, and schemas check it the same way', async () => {
    seen.length = 0;
    server = await serve({ port: 0, host: '127.0.0.1', methods });
    const withNull = await answer({ jsonrpc: '2.0', id: 1, method: 'probe', params: null });
    const without = await answer({ jsonrpc: '2.0', id: 1, method: 'probe' });
    expect(withNull).toEqual({ jsonrpc: '2.0', id: 1, result: { absent: true } });
    expect(withNull).toEqual(without);
    expect(seen).toEqual([undefined, undefined]);
    // A schema that wants an object refuses null params as it refuses absent ones: -32602, the same words.
    const typedNull = await answer({ jsonrpc: '2.0', id: 2, method: 'typed', params: null });
    expect(typedNull.error.code).toBe(ErrorCodes.InvalidParams);
    expect(typedNull).toEqual(await answer({ jsonrpc: '2.0', id: 2, method: 'typed' }));
    // One that takes no params takes them.
    expect(await answer({ jsonrpc: '2.0', id: 3, method: 'optional', params: null })).toEqual({
      jsonrpc: '2.0',
      id: 3,
      result: 'none given',
    });
  });

  it('a notification with "params": null runs its method with no params, and listeners hear none', async () => {
    seen.length = 0;
    server = await serve({ port: 0, host: '127.0.0.1', methods });
    const heard: unknown[] = [];
    server.on('connection', (peer) => peer.on('notification', (event) => void heard.push(event)));
    const ws = await rawClient(server.url);
    try {
      ws.send(JSON.stringify({ jsonrpc: '2.0', method: 'probe', params: null }));
      await until(() => seen.length === 1 && heard.length === 1, 'the notification to run');
      expect(seen).toEqual([undefined]);
      expect(heard).toEqual([{ method: 'probe', params: undefined }]);
    } finally {
      await ws.close();
    }
  });

  it('over HTTP POST too', async () => {
    seen.length = 0;
    server = await serve({ port: 0, host: '127.0.0.1', methods });
    const post = await fetch(server.url.replace('ws:', 'http:'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":"h","method":"probe","params":null}',
    });
    expect(await post.json()).toEqual({ jsonrpc: '2.0', id: 'h', result: { absent: true } });
    expect(seen).toEqual([undefined]);
  });
});

describe('refusals say who refused, and count what they count', () => {
  it('a client at its maxInFlightPerConnection refuses its server\'s call as "client busy: 1 call already in flight"', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      methods: {
        twice: async (_params: unknown, ctx) => {
          const first = ctx.peer.request('hold');
          const second = await settle(ctx.peer.request('hold'));
          release();
          await first;
          return { name: second.error.name, code: second.error.code, message: second.error.message };
        },
      },
    });
    client = connect(server.url, { maxInFlightPerConnection: 1, methods: { hold: () => held } });
    expect(await client.request('twice')).toEqual({
      name: 'RemoteError',
      code: ErrorCodes.ServerBusy,
      message: 'client busy: 1 call already in flight on this connection (maxInFlightPerConnection); "hold" was not run',
    });
  });

  it('a server past maxInFlightBytesPerConnection counts characters of JSON text and says so (é is 1 character, 2 bytes)', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      maxInFlightBytesPerConnection: 100,
      methods: { hold: () => held, echo: (p: unknown) => p },
    });
    const ws = await rawClient(server.url);
    try {
      const first = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hold', params: ['é'.repeat(60)] });
      const second = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'echo', params: ['é'.repeat(40)] });
      ws.send(first);
      ws.send(second);
      const refused: any = await ws.next();
      expect(refused).toEqual({
        jsonrpc: '2.0',
        id: 2,
        error: {
          code: -32000,
          message: `server busy: requests of ${first.length} characters already running on this connection, ${second.length} characters more would pass 100 (maxInFlightBytesPerConnection); "echo" was not run`,
          data: { maxInFlightBytesPerConnection: 100 },
        },
      });
      release();
      expect(await ws.next()).toMatchObject({ id: 1, result: null });
    } finally {
      await ws.close();
    }
  });

  it('a client at maxQueued 1 says "1 call or notification already waits" and "1 call is in flight"', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    server = await serve({ port: 0, host: '127.0.0.1', methods: { hold: () => held } });
    client = connect(server.url, { maxInFlight: 1, maxQueued: 1 });
    await client.ready;
    const admitted = [client.request('hold'), client.request('hold')];
    const { error } = await settle(client.request('hold'));
    expect(error).toMatchObject({ name: 'QueueFullError', code: 'ERR_QUEUE_FULL', maxQueued: 1 });
    expect(error.message).toMatch(
      /^call "hold" was not sent: 1 call or notification already waits on the connection to ws:\/\/127\.0\.0\.1:\d+ \(maxQueued 1\), because 1 call is in flight \(maxInFlight\)$/,
    );
    release();
    await Promise.all(admitted);
  });
});

/** Runs the built `callstate` bin with `args`, `stdin` written to it and ended; resolves with its exit code and output. */
function runCli(args: string[], stdin = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => {}); // EPIPE when the command stops reading first
  child.stdin.end(stdin);
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

describe('callstate call --max-payload', () => {
  const past16MiB = DEFAULT_CLIENT_MAX_PAYLOAD + 1024 * 1024;

  it('raises the cap on params from stdin past 16 MiB, and the largest answer taken with it', async () => {
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      maxPayload: 64 * 1024 * 1024,
      maxInFlightBytesPerConnection: 64 * 1024 * 1024,
      methods: { length: ([text]: [string]) => text.length, big: () => 'x'.repeat(past16MiB) },
    });
    const params = JSON.stringify(['y'.repeat(past16MiB)]);
    const flag = ['--max-payload', String(32 * 1024 * 1024)];
    expect(await runCli(['call', server.url, 'length', '-', ...flag], params)).toEqual({ status: 0, stdout: `${past16MiB}\n`, stderr: '' });
    const answer = await runCli(['call', server.url, 'big', ...flag]);
    expect({ status: answer.status, stderr: answer.stderr, length: answer.stdout.length }).toEqual({
      status: 0,
      stderr: '',
      length: past16MiB + 3,
    });
    // Without the flag, the same params are refused as before: exit 2.
    const refused = await runCli(['call', server.url, 'length', '-'], params);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain(`params on stdin are longer than ${DEFAULT_CLIENT_MAX_PAYLOAD} bytes: raise --max-payload`);
  });

  it('lowers it too, for call and notify alike, and refuses a value that is no whole number of bytes in range', async () => {
    const over = JSON.stringify(['z'.repeat(100)]);
    for (const command of ['call', 'notify']) {
      expect(await runCli([command, 'ws://127.0.0.1:1', 'm', '-', '--max-payload', '32'], over)).toEqual({
        status: 2,
        stdout: '',
        stderr: `callstate ${command}: params on stdin are longer than 32 bytes: raise --max-payload (see callstate ${command} --help)\n`,
      });
    }
    const zero = await runCli(['call', 'ws://127.0.0.1:1', 'm', '--max-payload', '0']);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain(`--max-payload takes an integer from 1 to ${constants.MAX_STRING_LENGTH}, got "0"`);
  });

  it('is in the help of call and notify', async () => {
    for (const command of ['call', 'notify']) {
      const help = await runCli([command, '--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/^ {2}--max-payload BYTES {3}the most params read from stdin/m);
    }
  });
});
