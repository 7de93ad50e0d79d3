/**
 * The `callstate` command as installed: the built bin (npm run build first),
 * in a child process, against real servers (ws on 127.0.0.1 port 0, a real
 * nats-server), including bad input: every failure is one line on stderr, no
 * stack, and its own exit code.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serve, RpcError, type NatsServer, type Server } from '../../src/index.js';
import { bin, fixture, startCommand as start } from '../cli-helpers.js';
import { orHang } from '../helpers.js';
import { freePorts, startNatsServer, useNatsServer } from '../nats-helpers.js';

const runSync = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 60_000 });

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the bin without blocking this process (its servers must keep answering), feeding `input` to stdin. */
function run(args: string[], input?: string): Promise<Run> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  child.stdin.end(input);
  return new Promise((resolve) => child.once('close', (status) => resolve({ status, stdout, stderr })));
}

const running: ChildProcess[] = [];
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** No stack trace: stderr is exactly one line. */
const oneLine = (stderr: string) => expect(stderr).toMatch(/^[^\n]+\n$/);

describe('callstate: the command line itself', () => {
  it('runs the demo and exits 0 when every check passes', () => {
    const { status, stdout } = runSync('demo', '--calls', '8', '--max-delay=40');
    expect(stdout).toMatch(/^callstate demo: echo server listening on ws:\/\/127\.0\.0\.1:\d+$/m);
    expect(stdout).toMatch(/echo calls +8, each answered with what it sent: 8\/8/);
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('demo passed');
    expect(status).toBe(0);
  });

  it('refuses an unknown command, an unknown flag and a bad value in one line with exit 2', () => {
    const unknown = runSync('frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe('callstate: unknown command "frobnicate" (see callstate --help)\n');
    // Names every object has: not commands, and not a command's help to point to.
    const inherited = runSync('toString');
    expect(inherited.stderr).toBe('callstate: unknown command "toString" (see callstate --help)\n');
    const bogus = runSync('demo', '--calls=3', '--bogus');
    expect(bogus.status).toBe(2);
    expect(bogus.stderr).toBe("callstate demo: Unknown option '--bogus' (see callstate demo --help)\n");
    const bad = runSync('demo', '--calls', 'many');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('callstate demo: --calls takes an integer from 1 to 100000, got "many" (see callstate demo --help)\n');
    const stray = runSync('inspect', 'extra');
    expect(stray.status).toBe(2);
    expect(stray.stderr).toBe('callstate inspect: unexpected argument "extra" (see callstate inspect --help)\n');
    const none = runSync();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^usage: callstate <command>/);
  });

  it('prints its version, and the help of each command', () => {
    const version = runSync('--version');
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    for (const command of ['call', 'notify', 'serve', 'inspect', 'demo']) {
      const help = runSync(command, '--help');
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^usage: callstate ${command}`));
    }
  });

  it('exits quietly when stdout is closed early (callstate demo | head)', async () => {
    const child = spawn(process.execPath, [bin, 'demo', '--calls', '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.stdout.destroy();
    const status = await new Promise((resolve) => child.once('close', resolve));
    expect(stderr).toBe('');
    expect(status).toBe(0);
  });
});

describe('callstate call and notify over WebSocket', () => {
  let server: Server;
  const seen: Array<Record<string, unknown>> = [];
  const notified: unknown[] = [];
  beforeAll(async () => {
    server = await serve({
      methods: {
        add: ([a, b]: [number, number]) => a + b,
        sleep: ({ ms }: { ms: number }) => new Promise((resolve) => setTimeout(resolve, ms)),
      },
      authenticate: (request) => {
        seen.push(request.headers);
        return true;
      },
    });
  });
  beforeAll(() => {
    server.on('connection', (peer) => peer.on('notification', ({ params }) => notified.push(params)));
  });
  afterAll(() => server.close());

  it('prints the result as JSON and exits 0, params from the command line or stdin, headers on the upgrade', async () => {
    expect(await run(['call', server.url, 'add', '[1,2]', '--header', 'x-team: blue', '--header=authorization:Bearer t'])).toEqual({
      status: 0,
      stdout: '3\n',
      stderr: '',
    });
    expect(seen.at(-1)).toMatchObject({ 'x-team': 'blue', authorization: 'Bearer t' });
    expect(await run(['call', server.url, 'add', '-'], '[40, 2]\n')).toEqual({ status: 0, stdout: '42\n', stderr: '' });
  });

  it('takes params on stdin that start with a byte order mark, as editors on Windows save them (it exited 2: "not valid JSON")', async () => {
    expect(await run(['call', server.url, 'add', '-'], '\uFEFF[40, 2]\r\n')).toEqual({ status: 0, stdout: '42\n', stderr: '' });
  });

  it('refuses a --header no upgrade request can carry with exit 2 in one line, not a crash with a stack (exit 1)', async () => {
    const name = await run(['call', server.url, 'add', '[1,2]', '--header', 'bad name: x']);
    expect(name).toEqual({
      status: 2,
      stdout: '',
      stderr:
        'callstate call: options.headers: "bad name" is not a header name (letters, digits and !#$%&\'*+-.^_`|~ only) (see callstate call --help)\n',
    });
    const value = await run(['call', server.url, 'add', '[1,2]', '--header', 'x-price: 5 €']);
    expect(value).toEqual({
      status: 2,
      stdout: '',
      stderr:
        'callstate call: options.headers.x-price must hold only tab, printable ASCII and Latin-1 characters (HTTP), got "5 €" (see callstate call --help)\n',
    });
    expect(await run(['call', server.httpUrl, 'add', '[1,2]', '--header', 'bad name: x'])).toMatchObject({ status: 2, stdout: '' });
  });

  it("prints a server's error message in one line with its control characters escaped, so that it cannot drive the terminal", async () => {
    const hostile = await serve({
      methods: {
        fail: () => {
          throw new RpcError(-32000, 'denied\n\u001b[2J\u001b[1;1Hcallstate call: all good\r');
        },
      },
    });
    try {
      expect(await run(['call', hostile.url, 'fail'])).toEqual({
        status: 1,
        stdout: '',
        stderr: 'callstate call: error -32000: denied\\u000a\\u001b[2J\\u001b[1;1Hcallstate call: all good\\u000d\n',
      });
      // As JSON, the message is escaped already, and kept whole.
      const json = await run(['call', hostile.url, 'fail', '--json']);
      expect(JSON.parse(json.stdout).error.message).toBe('denied\n\u001b[2J\u001b[1;1Hcallstate call: all good\r');
    } finally {
      await hostile.close();
    }
  });

  it('calls over HTTP POST too (the server answers JSON-RPC on its port)', async () => {
    expect(await run(['call', server.httpUrl, 'add', '[20,22]'])).toEqual({ status: 0, stdout: '42\n', stderr: '' });
    expect(await run(['call', server.httpUrl, 'nope'])).toEqual({
      status: 1,
      stdout: '',
      stderr: 'callstate call: error -32601: method not found: nope\n',
    });
  });

  it('exits 1 with the code and message of a remote error (unknown method), as JSON with --json', async () => {
    const plain = await run(['call', server.url, 'nope', '[]']);
    expect(plain).toEqual({ status: 1, stdout: '', stderr: 'callstate call: error -32601: method not found: nope\n' });
    const json = await run(['call', server.url, 'nope', '--json']);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({ error: { name: 'RemoteError', code: -32601, message: 'method not found: nope' } });
  });

  it('exits 3 on a timeout, 2 on params that are not JSON, 4 when nothing listens, each in one line', async () => {
    const late = await run(['call', server.url, 'sleep', '{"ms":5000}', '--timeout', '50']);
    expect(late.status).toBe(3);
    expect(late.stderr).toMatch(/^callstate call: call "sleep" \(id \S+\) got no response within 50 ms\n$/);

    const badJson = await run(['call', server.url, 'add', '[1,']);
    expect(badJson.status).toBe(2);
    expect(badJson.stderr).toMatch(/^callstate call: params are not valid JSON: .+ \(see callstate call --help\)\n$/);

    const closed = new URL(server.url);
    const probe = await serve({ methods: {} });
    const deadPort = probe.port;
    await probe.close();
    closed.port = String(deadPort);
    const unreachable = await run(['call', closed.href.replace(/\/$/, ''), 'add', '[1,2]']);
    expect(unreachable.status).toBe(4);
    oneLine(unreachable.stderr);
    expect(unreachable.stderr).toMatch(/^callstate call: could not connect to ws:\/\/127\.0\.0\.1:\d+ .*ECONNREFUSED/);

    const badUrl = await run(['call', 'localhost:8080', 'add']);
    expect(badUrl.status).toBe(2);
    oneLine(badUrl.stderr);
    const badTimeout = await run(['call', server.url, 'add', '--timeout', '-1']);
    expect(badTimeout.status).toBe(2);
    const badHeader = await run(['call', server.url, 'add', '--header', 'novalue']);
    expect(badHeader).toMatchObject({
      status: 2,
      stderr: 'callstate call: --header takes name:value, got "novalue" (see callstate call --help)\n',
    });
    const missing = await run(['call', server.url]);
    expect(missing).toMatchObject({ status: 2, stderr: 'callstate call: missing arguments (see callstate call --help)\n' });
  });

  it('sends a notification and exits 0 once it is written', async () => {
    expect(await run(['notify', server.url, 'log', '{"line":"hello"}', '--json'])).toEqual({
      status: 0,
      stdout: '{"sent":true}\n',
      stderr: '',
    });
    await expect.poll(() => notified).toEqual([{ line: 'hello' }]);
  });
});

const plainServers: HttpServer[] = [];
afterAll(() => Promise.all(plainServers.map((s) => new Promise((resolve) => (s.closeAllConnections(), s.close(resolve))))));
/** A plain node:http server answering every POST with `listener`; resolves with its URL. */
async function plain(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  plainServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

describe('callstate call: an answer nested too deep for JSON.stringify (no depth limit applies to answers)', () => {
  /** A server answering each POSTed call with `answer` (raw JSON text) beside its id. */
  const answering = (answer: string) =>
    plain((request, response) => {
      let body = '';
      request.setEncoding('utf8');
      request.on('data', (chunk: string) => (body += chunk));
      request.on('end', () => {
        const { id } = JSON.parse(body) as { id: string };
        response.writeHead(200, { 'content-type': 'application/json' }).end(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},${answer}}`);
      });
    });
  const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;

  it('is reported in one line with exit 4, not as a bad command line (exit 2) reading "Maximum call stack size exceeded"', async () => {
    const url = await answering(`"result":${deep}`);
    const plainRun = await run(['call', url, 'get']);
    expect(plainRun).toMatchObject({ status: 4, stdout: '' });
    expect(plainRun.stderr).toMatch(/^callstate call: the server's result cannot be printed as JSON \(.+: nested too deep\)\n$/);
    const jsonRun = await run(['call', url, 'get', '--json']);
    expect(jsonRun.status).toBe(4);
    expect(JSON.parse(jsonRun.stdout).error.message).toMatch(/^the server's result cannot be printed as JSON/);
  });

  it("in an error's data: --json still prints the error, its data in words, with exit 1", async () => {
    const url = await answering(`"error":{"code":-32000,"message":"deep","data":${deep}}`);
    const jsonRun = await run(['call', url, 'get', '--json']);
    expect(jsonRun).toMatchObject({ status: 1, stderr: 'callstate call: error -32000: deep\n' });
    expect(JSON.parse(jsonRun.stdout)).toEqual({
      error: {
        name: 'RemoteError',
        code: -32000,
        message: 'deep',
        data: expect.stringMatching(/^\[the server's error data cannot be printed as JSON \(.+: nested too deep\)\]$/),
      },
    });
  });
});

describe('callstate notify over HTTP POST', () => {
  it('exits 0 once the POST is answered, and 4 in one line when it fails, is refused or gets no answer within --timeout', async () => {
    const delivered = await plain((_req, res) => res.writeHead(204).end());
    expect(await run(['notify', delivered, 'log', '[1]', '--json'])).toEqual({ status: 0, stdout: '{"sent":true}\n', stderr: '' });

    const refusing = await plain((_req, res) => res.writeHead(500, { 'content-type': 'text/plain' }).end('nope'));
    expect(await run(['notify', refusing, 'log', '[1]'])).toEqual({
      status: 4,
      stdout: '',
      stderr: `callstate notify: ${refusing} answered HTTP 500: nope\n`,
    });

    const silent = await plain(() => {});
    expect(await run(['notify', silent, 'log', '[1]', '--timeout', '200'])).toEqual({
      status: 4,
      stdout: '',
      stderr: `callstate notify: POST ${silent} got no answer within 200 ms (it may have arrived)\n`,
    });

    const [deadPort] = await freePorts(1);
    const unreachable = await run(['notify', `http://127.0.0.1:${deadPort}/`, 'log', '[1]', '--json']);
    expect(unreachable.status).toBe(4);
    expect(unreachable.stdout).toMatch(/^\{"error":\{"name":"HttpError".*ECONNREFUSED.*\}\}\n$/);
  });
});

describe('callstate call, notify and serve over NATS (real nats-server)', () => {
  const nats = useNatsServer();
  let responder: NatsServer;
  const notified: unknown[] = [];
  beforeAll(async () => {
    responder = await serve({
      nats: nats.url,
      subject: 'cli.math',
      methods: { add: ([a, b]: [number, number]) => a + b },
    });
    responder.on('notification', ({ params }) => notified.push(params));
  });
  afterAll(() => responder.close());

  it('calls and notifies the responders of a subject', async () => {
    expect(await run(['call', nats.url, 'add', '[2,3]', '--subject', 'cli.math'])).toEqual({ status: 0, stdout: '5\n', stderr: '' });
    expect(await run(['notify', nats.url, 'log', '["n"]', '--subject', 'cli.math'])).toEqual({ status: 0, stdout: '', stderr: '' });
    await expect.poll(() => notified).toEqual([['n']]);
    const unknown = await run(['call', nats.url, 'nope', '--subject', 'cli.math']);
    expect(unknown).toEqual({ status: 1, stdout: '', stderr: 'callstate call: error -32601: method not found: nope\n' });
  });

  it('refuses nats:// without --subject in one line, and exits 4 when no nats-server listens', async () => {
    const result = await run(['call', nats.url, 'add', '[1,2]']);
    expect(result.status).toBe(2);
    oneLine(result.stderr);
    const [deadPort] = await freePorts(1);
    const unreachable = await run(['call', `nats://127.0.0.1:${deadPort}`, 'add', '[1,2]', '--subject', 'cli.math']);
    expect(unreachable).toMatchObject({ status: 4, stdout: '' });
    oneLine(unreachable.stderr);
    expect(unreachable.stderr).toMatch(/^callstate call: could not connect to nats:\/\/127\.0\.0\.1:\d+/);
  });

  it('serves a module as a NATS responder with --nats and --subject (its line shows a token in the URL as ***)', async () => {
    // nats-server here has no authorization: it takes the token, which the line must not print.
    const withToken = nats.url.replace('nats://', 'nats://t0ken@');
    const served = start(
      ['serve', fixture('cli-methods.mjs'), '--nats', withToken, '--subject', 'cli.served', '--queue', 'q1'],
      /^callstate serve: (\S+) subject cli\.served queue q1 \(Ctrl-C to stop\)$/m,
    );
    running.push(served.child);
    expect((await served.match)[1]).toBe(nats.url.replace('nats://', 'nats://***@'));
    expect(await run(['call', nats.url, 'add', '[20,22]', '--subject', 'cli.served'])).toEqual({ status: 0, stdout: '42\n', stderr: '' });
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
  });

  it('exits once it has reported, when the server at the URL takes the connection and never speaks NATS', async () => {
    // nats.js does not close a connection whose server never sent INFO (3.4: its close() does nothing until connected):
    // left open, it kept the command running after its answer, for as long as that server kept the socket.
    const taken = new Set<Socket>();
    const silent = createNetServer((socket) => taken.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const url = `nats://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const call = await orHang(run(['call', url, 'add', '[1,2]', '--subject', 'cli.math', '--timeout', '200']), 'callstate call', 15_000);
      expect(call).toMatchObject({ status: 3, stdout: '' });
      oneLine(call.stderr);
      const notify = await orHang(run(['notify', url, 'log', '--subject', 'cli.math', '--timeout', '200']), 'callstate notify', 15_000);
      expect(notify).toEqual({ status: 4, stdout: '', stderr: `callstate notify: could not connect to ${url} (code 1006): timeout\n` });
    } finally {
      for (const socket of taken) socket.destroy();
      silent.close();
    }
  });

  it('refuses a bad --subject, --queue or --nats value with exit 2 (a command-line mistake), as call does, not 4', async () => {
    const served = (...flags: string[]) => run(['serve', fixture('cli-methods.mjs'), ...flags]);
    expect(await served('--nats', nats.url, '--subject', 'cli.*')).toEqual({
      status: 2,
      stdout: '',
      stderr:
        'callstate serve: options.subject must be a NATS subject without wildcards, empty tokens or whitespace, got "cli.*" (see callstate serve --help)\n',
    });
    expect(await served('--nats', nats.url, '--subject', 'cli.q', '--queue', 'a b')).toMatchObject({ status: 2, stdout: '' });
    expect(await served('--nats', 'localhost:4222', '--subject', 'cli.q')).toMatchObject({ status: 2, stdout: '' });
  });

  it('exits 4 in one line when nats-server goes away, not 0 as if stopped (a supervisor would not restart it)', async () => {
    const own = await startNatsServer();
    try {
      const served = start(
        ['serve', fixture('cli-methods.mjs'), '--nats', own.url, '--subject', 'cli.lost'],
        /^callstate serve: \S+ subject cli\.lost queue callstate \(Ctrl-C to stop\)$/m,
      );
      running.push(served.child);
      await served.match;
      await own.stop();
      expect(await served.exited).toBe(4);
      expect(served.output().stderr).toBe(`callstate serve: the connection to ${own.url} was lost (nats-server closed it)\n`);
    } finally {
      await own.stop();
    }
  });
});

describe('callstate serve over WebSocket', () => {
  it('serves the default export on the port given, logs one line per call, and exits 0 on SIGINT', async () => {
    const served = start(
      ['serve', fixture('cli-methods.mjs'), '--port', '0', '--log'],
      /^callstate serve: (ws:\/\/127\.0\.0\.1:\d+) \(Ctrl-C to stop\)$/m,
    );
    running.push(served.child);
    const [, url] = await served.match;
    expect(await run(['call', url!, 'add', '[1,2]'])).toEqual({ status: 0, stdout: '3\n', stderr: '' });
    expect((await run(['call', url!, 'nope'])).status).toBe(1);
    expect((await run(['call', url!, 'sleep', '{"ms":5000}', '--timeout', '50'])).status).toBe(3);
    await expect.poll(() => served.output().stdout.split('\n').length).toBe(5);
    const lines = served.output().stdout.trim().split('\n').slice(1);
    expect(lines.map((line) => line.replace(/id="[^"]+"/, 'id=ID').replace(/\d+ ms$/, 'N ms'))).toEqual([
      'add id=ID replied N ms',
      'nope id=ID failed N ms',
      'sleep id=ID cancelled N ms',
    ]);
    served.child.kill('SIGINT');
    expect(await served.exited).toBe(0);
    expect(served.output().stderr).toBe('');
  });

  it("keeps the code and data of an RpcError that a module importing 'callstate' by name throws (one copy of the error classes)", async () => {
    const served = start(['serve', fixture('cli-package-errors.mjs'), '--port', '0'], /^callstate serve: (ws:\/\/127\.0\.0\.1:\d+) /m);
    running.push(served.child);
    const [, url] = await served.match;
    const answer = await run(['call', url!, 'refuse', '--json']);
    expect([answer.status, JSON.parse(answer.stdout)]).toEqual([
      1,
      { error: { name: 'RemoteError', code: -32010, message: 'refused by the app', data: { reason: 'quota' } } },
    ]);
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
  });

  it('exits 4 in one line, naming where, when the module throws outside a call (a promise left to reject, a throw in a timer), not 1 with a stack', async () => {
    for (const method of ['reject', 'tick']) {
      const served = start(['serve', fixture('cli-crashes-later.mjs'), '--port', '0'], /^callstate serve: (ws:\/\/127\.0\.0\.1:\d+) /m);
      running.push(served.child);
      const [, url] = await served.match;
      // The call itself was answered; what the module left behind ends the process.
      expect(await run(['call', url!, method])).toEqual({ status: 0, stdout: '"answered"\n', stderr: '' });
      expect(await served.exited).toBe(4);
      const { stderr } = served.output();
      oneLine(stderr);
      const words = method === 'reject' ? 'left to reject at once' : 'thrown in a timer';
      expect(stderr).toMatch(
        new RegExp(`^callstate serve: the module threw outside a call: ${words}, at .*cli-crashes-later\\.mjs:\\d+:\\d+\\)?\\n$`),
      );
    }
  });

  it('serves a methods object with a method named "then", not taking it for a promise (and exiting 0 without a word)', async () => {
    const served = start(['serve', fixture('cli-then-method.mjs'), '--port', '0'], /^callstate serve: (ws:\/\/127\.0\.0\.1:\d+) /m);
    running.push(served.child);
    const [, url] = await served.match;
    expect(await run(['call', url!, 'then'])).toEqual({ status: 0, stdout: '"then answered"\n', stderr: '' });
    expect(await run(['call', url!, 'add', '[1,2]'])).toEqual({ status: 0, stdout: '3\n', stderr: '' });
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);
  });

  it('exits 4 in one line, not 0 without a word, when the module never finishes loading (a top-level await that never settles)', async () => {
    const stuck = await run(['serve', fixture('cli-never-loads.mjs'), '--port', '0']);
    expect(stuck).toEqual({
      status: 4,
      stdout: '',
      stderr: `callstate serve: cannot load ${fixture('cli-never-loads.mjs')}: its top-level await never settles (nothing is left to wait on)\n`,
    });
  });

  it('prints JSON with --json, and refuses a module without methods, a missing module and a taken port, each in one line', async () => {
    const served = start(['serve', fixture('cli-methods.mjs'), '--port=0', '--log', '--json'], /^(\{.*\})$/m);
    running.push(served.child);
    const { url } = JSON.parse((await served.match)[1]!) as { url: string };
    expect(await run(['call', url, 'echo', '{"a":1}'])).toMatchObject({ status: 0, stdout: '{"a":1}\n' });
    await expect.poll(() => served.output().stdout.trim().split('\n').length).toBe(2);
    expect(JSON.parse(served.output().stdout.trim().split('\n')[1]!)).toMatchObject({ method: 'echo', state: 'replied' });

    const taken = await run(['serve', fixture('cli-methods.mjs'), '--port', new URL(url).port]);
    expect(taken.status).toBe(4);
    expect(taken.stderr).toMatch(/^callstate serve: .*EADDRINUSE.*\n$/);
    served.child.kill('SIGTERM');
    expect(await served.exited).toBe(0);

    const none = await run(['serve', fixture('cli-no-methods.mjs'), '--port', '0']);
    expect(none.status).toBe(2);
    oneLine(none.stderr);
    expect(none.stderr).toMatch(/exports no methods object/);
    const missing = await run(['serve', fixture('does-not-exist.mjs'), '--port', '0']);
    expect(missing.status).toBe(4);
    expect(missing.stderr).toMatch(/^callstate serve: cannot load .*does-not-exist\.mjs: .+\n$/);
    const badInspect = await run(['serve', fixture('cli-methods.mjs'), '--inspect', 'nats://127.0.0.1:4222']);
    expect(badInspect).toMatchObject({
      status: 2,
      stderr:
        'callstate serve: --inspect: inspectTo needs an http, https, ws or wss URL, got "nats://127.0.0.1:4222" (see callstate serve --help)\n',
    });
    const mixed = await run(['serve', fixture('cli-methods.mjs'), '--subject', 's']);
    expect(mixed).toMatchObject({
      status: 2,
      stderr: 'callstate serve: --subject and --queue go with --nats (see callstate serve --help)\n',
    });
  });
});
