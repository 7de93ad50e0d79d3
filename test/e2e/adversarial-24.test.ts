/**
 * Adversarial review 24, end to end over real sockets on 127.0.0.1: the `callstate` command (run in this process,
 * `main()`, for its exact lines and fake timers) against a hostile server, and `callstate serve --log` called by a
 * hostile peer. What a server or peer sends must neither drive the operator's terminal nor leave the user with a
 * wrong account of what happened.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve, type Server } from '../../src/index.js';
import { main } from '../../src/tools/cli.js';
import { callLog } from '../../src/tools/commands/serve.js';
import { rawClient, until } from '../helpers.js';

let stdout: string[];
let stderr: string[];
const opened: Array<() => Promise<unknown>> = [];

beforeEach(() => {
  stdout = [];
  stderr = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (stdout.push(String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (stderr.push(String(chunk)), true));
});

afterEach(async () => {
  vi.useRealTimers();
  vi.restoreAllMocks();
  for (const close of opened.splice(0).reverse()) await close();
});

/** A hand-written WebSocket server on 127.0.0.1 that answers each frame with `answer`; its URL. */
async function hostileServer(answer: (socket: WebSocket, frame: { id?: unknown; method?: unknown; error?: unknown }) => void) {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  opened.push(() => {
    for (const socket of wss.clients) socket.terminate();
    return new Promise((resolve) => wss.close(resolve));
  });
  wss.on('connection', (socket) => socket.on('message', (data) => answer(socket, JSON.parse(data.toString()))));
  await once(wss, 'listening');
  return `ws://127.0.0.1:${(wss.address() as { port: number }).port}`;
}

/** C1's CSI (U+009B: "clear the screen" to a terminal that reads C1 controls), RIGHT-TO-LEFT OVERRIDE, LINE SEPARATOR. */
const HOSTILE = 'ok\u009b2J\u009b1;1H\u202edeliaf\u2028done';
const ESCAPED = 'ok\\u009b2J\\u009b1;1H\\u202edeliaf\\u2028done';

describe('callstate call, printing what a hostile server answered on stdout', () => {
  it('escapes the C1 and bidirectional controls of a result, which JSON.stringify leaves as they are: the same JSON value', async () => {
    const url = await hostileServer((socket, { id }) =>
      socket.send(JSON.stringify({ jsonrpc: '2.0', id, result: { [HOSTILE]: HOSTILE } })),
    );
    expect(await main(['call', url, 'echo'])).toBe(0);
    expect(stdout.join('')).toBe(`{"${ESCAPED}":"${ESCAPED}"}\n`);
    expect(JSON.parse(stdout.join(''))).toEqual({ [HOSTILE]: HOSTILE });
  });

  it('escapes them in an error printed with --json, message and data, and keeps the value', async () => {
    const url = await hostileServer((socket, { id }) =>
      socket.send(JSON.stringify({ jsonrpc: '2.0', id, error: { code: -32000, message: HOSTILE, data: [HOSTILE] } })),
    );
    expect(await main(['call', url, 'echo', '--json'])).toBe(1);
    expect(stdout.join('')).toBe(`{"error":{"name":"RemoteError","code":-32000,"message":"${ESCAPED}","data":["${ESCAPED}"]}}\n`);
    expect(JSON.parse(stdout.join('')).error.message).toBe(HOSTILE);
    expect(stderr.join('')).toBe(`callstate call: error -32000: ${ESCAPED}\n`);
  });
});

describe('callstate call, timing out after a server answered in a way that matches no call', () => {
  /**
   * Runs `callstate call <url> echo --timeout 10000 [--json]` on fake timers (shorter than the heartbeat's 30 s, which would drop the server first): once the server has seen the client's
   * answer to its probe (sent after its stray answers, so read after them), the call's time runs out.
   */
  async function timedOut(url: string, probed: Promise<unknown>, json = false): Promise<number | undefined> {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    let code: number | undefined;
    void main(['call', url, 'echo', '--timeout', '10000', ...(json ? ['--json'] : [])]).then((exit) => (code = exit));
    await probed;
    vi.advanceTimersByTime(10_000);
    await until(() => code !== undefined, 'the call to time out');
    return code;
  }

  /** A server that answers `echo` with `strays`, then calls the client (`probe`), resolving once that is answered. */
  async function straying(strays: string[]) {
    let probed!: () => void;
    const answered = new Promise<void>((resolve) => (probed = resolve));
    const url = await hostileServer((socket, frame) => {
      if (frame.method === 'echo') {
        for (const stray of strays) socket.send(stray);
        socket.send('{"jsonrpc":"2.0","id":"probe","method":"probe"}');
      } else if (frame.id === 'probe') probed();
    });
    return { url, answered };
  }

  it('says that the server answered with an error of id null (its refusal of a request it could not read), and what it said', async () => {
    const refusal = '{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request: params must be an object"}}';
    const { url, answered } = await straying([refusal]);
    expect(await timedOut(url, answered)).toBe(3);
    expect(stderr.join('')).toMatch(
      /^callstate call: call "echo" \(id \S+\) got no response within 10000 ms; the server sent 1 frame that answered no call, the first: \{"jsonrpc":"2.0","id":null,"error":\{"code":-32600,"message":"Invalid Request: params must be an object"\}\} \(error response with id null \(the peer could not tell what it answers\): it matches no call\)\n$/,
    );
  });

  it('says that a server which is no JSON-RPC server sent text, cut and escaped, and how many such frames; in --json too', async () => {
    const { url, answered } = await straying(['\u001b[2J<html>' + 'x'.repeat(1000), 'second']);
    expect(await timedOut(url, answered, true)).toBe(3);
    const shown = `\\u001b[2J<html>${'x'.repeat(190)}…`;
    const [line] = stderr;
    expect(line).toMatch(
      /^callstate call: call "echo" \(id \S+\) got no response within 10000 ms; the server sent 2 frames that answered no call, the first: /,
    );
    expect(
      line!.endsWith(`the first: ${shown} (not valid JSON: Unexpected token '\\u001b', "\\u001b[2J<html>"... is not valid JSON)\n`),
    ).toBe(true);
    expect(JSON.parse(stdout.join('')).error).toMatchObject({
      name: 'TimeoutError',
      code: 'ERR_CALL_TIMEOUT',
      unmatched: expect.stringContaining('the server sent 2 frames that answered no call, the first: \u001b[2J<html>x'),
    });
  });

  it('says nothing more when nothing else came', async () => {
    const { url, answered } = await straying([]);
    expect(await timedOut(url, answered)).toBe(3);
    expect(stderr.join('')).toMatch(/^callstate call: call "echo" \(id \S+\) got no response within 10000 ms\n$/);
  });
});

describe('callstate serve --log, a hostile peer’s id', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each([
    ['as a line', false, `m id="${ESCAPED}" failed`],
    ['as JSON', true, `{"method":"m","id":"${ESCAPED}","state":"failed"`],
  ])('escapes the C1 and bidirectional controls of the id %s, as those of the method', async (_how, json, expected) => {
    const lines: string[] = [];
    server = await serve({ methods: {}, inspect: callLog((line) => lines.push(line), json) });
    const peer = await rawClient(server.url);
    peer.send(JSON.stringify({ jsonrpc: '2.0', id: HOSTILE, method: 'm', params: [] }));
    expect(await peer.next()).toMatchObject({ id: HOSTILE, error: { code: -32601 } });
    await peer.close();
    await until(() => lines.length === 1, 'the log line');
    expect(lines[0]).toContain(expected);
  });
});

describe('serve({ server }) on an app whose request listener was added with once()', () => {
  it('calls it for one request, as Node would, while attached and after it gave the listeners back', async () => {
    const app = createServer((_request, response) => response.end('app'));
    let onceCalls = 0;
    app.once('request', () => onceCalls++);
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    opened.push(() => new Promise((resolve) => (app.closeAllConnections(), app.close(resolve))));
    const server = await serve({ server: app, path: '/rpc', methods: {} });
    const url = `http://127.0.0.1:${(app.address() as { port: number }).port}/`;
    for (let i = 0; i < 3; i++) expect(await (await fetch(url)).text()).toBe('app');
    await server.close();
    expect(await (await fetch(url)).text()).toBe('app');
    expect(onceCalls).toBe(1);
  });
});
