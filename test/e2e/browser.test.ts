/**
 * The browser build of the client in headless Chromium (Debian's /usr/bin/chromium,
 * driven by playwright-core) against a real callstate server in Node. The
 * browser build is bundled here with esbuild (examples/browser/serve.ts) and
 * served from node:http on port 0; the page keeps its client on `window`.
 * Handlers wait on gates the test opens, so orders follow from what the test did.
 */
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { startExample } from '../../examples/browser/serve.js';
import { bundleForBrowser } from '../../scripts/browser-bundle.js';
import { connect, serve, type HandlerContext, type Peer, type Server } from '../../src/index.js';
import { browserPages, SCRIPT, SLOW, WAIT } from '../browser-page.js';
import { closeTrackedAfterEach, deferred, type Deferred } from '../helpers.js';
import { rawServer } from '../raw-websocket.js';

/** The same page under a Content-Security-Policy that lets it connect to its own origin only (not to the server's port). */
const CSP_PAGE = `<!doctype html><meta http-equiv="Content-Security-Policy" content="connect-src 'self'">${SCRIPT}`;

const browser = browserPages({ files: { '/csp': ['text/html', CSP_PAGE] } });
const { newPage, openPage, pageErrors } = browser;
let server: Server | undefined;
const track = closeTrackedAfterEach();

afterEach(async () => {
  await browser.closePages();
  await server?.close();
  server = undefined;
});

/** Resolves once `wss` (a hand-written hostile server) listens; it is closed after the test, its sockets dropped. */
/** Connects from a fresh page to `url`: how its `ready` settled, and the client's state after. */
async function connectInPage(url: string): Promise<{ ready: unknown; state: string }> {
  const page = await openPage();
  return page.evaluate(async (target) => {
    const w = globalThis as any;
    const client = w.callstate.connect(target);
    return { ready: await w.settle(client.ready), state: client.state };
  }, url);
}

/** What `connectInPage` gives for a connection that never opened, with `message`. */
function notOpened(message: unknown) {
  return {
    ready: { error: { name: 'ConnectionClosedError', code: 'ERR_CONNECTION_CLOSED', message, isCallstate: true } },
    state: 'closed',
  };
}

async function listening(wss: WebSocketServer): Promise<void> {
  track({
    close: () => {
      for (const socket of wss.clients) socket.terminate();
      return new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  });
  await new Promise((resolve) => wss.once('listening', resolve));
}

/** Handlers that wait until the test opens their gate; `started` and `aborted` tell the test what the server saw. */
function gates() {
  const gate = new Map<string, Deferred<unknown>>();
  const started = new Map<string, Deferred<void>>();
  const aborted = new Map<string, Deferred<unknown>>();
  const calls: string[] = [];
  const get = <T>(map: Map<string, Deferred<T>>, key: string) => {
    if (!map.has(key)) map.set(key, deferred<T>());
    return map.get(key)!;
  };
  const handler = ({ key }: { key: string }, ctx: HandlerContext) => {
    calls.push(key);
    ctx.signal.addEventListener('abort', () => get(aborted, key).resolve(ctx.signal.reason));
    get(started, key).resolve();
    return get(gate, key).promise;
  };
  return {
    handler,
    calls,
    open: (key: string, value: unknown) => get(gate, key).resolve(value),
    started: (key: string) => get(started, key).promise,
    aborted: (key: string) => get(aborted, key).promise,
  };
}

describe('the browser build in headless Chromium', SLOW, () => {
  it('bundles for the browser platform without Node built-ins, ws, or Node globals', () => {
    expect(browser.bundle.inputs.filter((input) => /(^|\/)node_modules\/ws\/|^node:/.test(input))).toEqual([]);
    expect(browser.bundle.code).not.toMatch(/\bBuffer\.|process\.nextTick|require\(/);
  });

  it('resolves `callstate` through the browser export condition to the built browser entry', async () => {
    // dist/ is built by npm test before vitest runs (as the bench test requires).
    const { inputs } = await bundleForBrowser("export { connect } from 'callstate';", fileURLToPath(new URL('../..', import.meta.url)));
    const files = Object.keys(inputs);
    expect(files).toContain('dist/src/browser.js');
    expect(files.filter((input) => /(^|\/)node_modules\/ws\/|^node:|dist\/src\/(index|client|server)\.js$/.test(input))).toEqual([]);
  });

  it('bundles no XState: the machines run from their generated tables on the light engine', async () => {
    const { inputs } = await bundleForBrowser("export { connect } from 'callstate';", fileURLToPath(new URL('../..', import.meta.url)));
    const files = Object.keys(inputs);
    expect(files.filter((input) => /node_modules\/xstate\/|\.machine\.js$|dist\/src\/engine\/(compile|xstate)\.js$/.test(input))).toEqual(
      [],
    );
    expect(files).toEqual(
      expect.arrayContaining(['dist/src/engine/generated/call.table.js', 'dist/src/engine/generated/connection.table.js']),
    );
  });

  it('answers calls out of order, times one out, and aborts one up to the handler’s ctx.signal', async () => {
    const g = gates();
    server = await serve({ port: 0, host: '127.0.0.1', methods: { wait: g.handler } });
    const page = await openPage();
    await page.evaluate((url) => {
      const w = globalThis as any;
      w.client = w.callstate.connect(url);
      w.order = [];
      w.controller = new AbortController();
      w.a = w.settle(w.client.request('wait', { key: 'a' }).then((v: unknown) => (w.order.push('a'), v)));
      w.b = w.settle(w.client.request('wait', { key: 'b' }).then((v: unknown) => (w.order.push('b'), v)));
      w.timedOut = w.settle(w.client.request('wait', { key: 't' }, { timeout: 100 }));
      w.cancelled = w.settle(w.client.request('wait', { key: 'c' }, { signal: w.controller.signal }));
    }, server.url);
    await Promise.all([g.started('a'), g.started('b'), g.started('c')]);

    g.open('b', { n: 2 });
    await page.waitForFunction(() => (globalThis as any).order.length === 1, undefined, WAIT);
    g.open('a', { n: 1 });
    expect(await page.evaluate(async () => [await (globalThis as any).a, await (globalThis as any).b, (globalThis as any).order])).toEqual([
      { value: { n: 1 } },
      { value: { n: 2 } },
      ['b', 'a'],
    ]);

    expect(await page.evaluate(() => (globalThis as any).timedOut)).toEqual({
      error: { name: 'TimeoutError', code: 'ERR_CALL_TIMEOUT', message: expect.stringContaining('wait'), isCallstate: true },
    });

    await page.evaluate(() => (globalThis as any).controller.abort());
    await g.aborted('c'); // the $/cancelRequest reached the server: the handler's signal aborted
    expect((await page.evaluate(() => (globalThis as any).cancelled)).error).toMatchObject({ name: 'AbortError' });
    await page.evaluate(() => (globalThis as any).client.close());
  });

  it('runs the server’s call to the page’s methods, and reports a frame that matches no call as unmatched', async () => {
    server = await serve({
      port: 0,
      host: '127.0.0.1',
      methods: {
        doubleOnClient: ([n]: [number], ctx) => ctx.peer.request('double', [n]),
        stray: (_: unknown, ctx) => {
          (ctx.peer as Peer).sendRaw('{"jsonrpc":"2.0","id":"no-such-call","result":1}');
          return 'sent';
        },
      },
    });
    const page = await openPage();
    const result = await page.evaluate(async (url) => {
      const w = globalThis as any;
      const unmatched: unknown[] = [];
      const client = w.callstate.connect(url, { methods: { double: ([n]: [number]) => n * 2 } });
      client.on('unmatched', ({ reason, message }: { reason: string; message: { id: unknown } }) =>
        unmatched.push({ reason, id: message.id }),
      );
      const doubled = await client.request('doubleOnClient', [21]);
      const stray = await client.request('stray');
      await client.close();
      return { doubled, stray, unmatched };
    }, server.url);
    expect(result).toEqual({ doubled: 42, stray: 'sent', unmatched: [{ reason: 'unknown', id: 'no-such-call' }] });
  });

  it('reconnects after the server restarts on its port: a plain call fails, a retry call is sent again, nothing else is replayed', async () => {
    const first = gates();
    server = await serve({ port: 0, host: '127.0.0.1', methods: { wait: first.handler } });
    const port = server.port;
    const page = await openPage();
    await page.evaluate((url) => {
      const w = globalThis as any;
      w.client = w.callstate.connect(url, { reconnect: { initialDelay: 10, maxDelay: 50, jitter: 0 } });
      w.opened = 0;
      w.client.on('open', () => w.opened++);
      w.plain = w.settle(w.client.request('wait', { key: 'plain' }));
      w.retried = w.settle(w.client.request('wait', { key: 'retried' }, { retry: true }));
    }, server.url);
    await Promise.all([first.started('plain'), first.started('retried')]);

    await server.close();
    const second = gates();
    server = await serve({ port, host: '127.0.0.1', methods: { wait: second.handler } });
    await second.started('retried');
    second.open('retried', 'again');
    expect(
      await page.evaluate(async () => [await (globalThis as any).plain, await (globalThis as any).retried, (globalThis as any).opened]),
    ).toEqual([
      { error: { name: 'ConnectionClosedError', code: 'ERR_CONNECTION_CLOSED', message: expect.any(String), isCallstate: true } },
      { value: 'again' },
      2,
    ]);
    expect(second.calls).toEqual(['retried']);
    await page.evaluate(() => (globalThis as any).client.close());
  });

  it('reports the connection and its calls, light actors, to an inspect observer', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { echo: (params: unknown) => params } });
    const page = await openPage();
    const result = await page.evaluate(async (url) => {
      const types = new Set<string>();
      const states: Record<string, unknown[]> = {};
      const client = (globalThis as any).callstate.connect(url, {
        inspect: (event: { type: string; actorRef: { logic: { id: string } }; snapshot?: { value: unknown } }) => {
          types.add(event.type);
          if (event.type !== '@xstate.snapshot') return;
          // Each state once in a row (a frame routed through the open connection steps it without a change).
          const seen = (states[event.actorRef.logic.id] ??= []);
          if (JSON.stringify(seen.at(-1)) !== JSON.stringify(event.snapshot!.value)) seen.push(event.snapshot!.value);
        },
      });
      const value = await client.request('echo', { n: 1 });
      await client.close();
      return { value, types: [...types].sort(), states, actor: client.actor.getSnapshot().value };
    }, server.url);
    expect(result).toEqual({
      value: { n: 1 },
      types: ['@xstate.actor', '@xstate.event', '@xstate.snapshot'],
      states: {
        connection: [{ connecting: 'opening' }, 'open', 'closing', 'closed'],
        call: [{ pending: 'queued' }, { pending: { inFlight: 'sent' } }, { pending: { inFlight: 'awaiting' } }, 'resolved'],
      },
      actor: 'closed',
    });
  });

  it('refuses options a browser cannot honour with a TypeError', async () => {
    const page = await openPage();
    const refused = await page.evaluate(() =>
      [{ headers: { a: 'b' } }, { subject: 's' }, { inboxPrefix: 'p' }, { engine: 'xstate' }].map((options) => {
        try {
          (globalThis as any).callstate.connect('ws://127.0.0.1:1', options);
          return 'accepted';
        } catch (error) {
          return `${(error as Error).name}: ${(error as Error).message}`;
        }
      }),
    );
    expect(refused).toEqual([
      'TypeError: options.headers is not supported in the browser build: a browser sets the headers of the upgrade request itself',
      'TypeError: options.subject is not supported in the browser build: NATS needs the Node build',
      'TypeError: options.inboxPrefix is not supported in the browser build: NATS needs the Node build',
      "TypeError: options.engine 'xstate' is not supported in the browser build: it bundles no XState (the light engine runs every actor)",
    ]);
  });

  it('refuses a URL with an empty fragment (`#`) with a TypeError, as any fragment, where the browser’s WebSocket throws a SyntaxError', async () => {
    const page = await openPage();
    const refused = await page.evaluate(() =>
      ['ws://127.0.0.1:1/#', 'ws://127.0.0.1:1/#x'].map((url) => {
        try {
          void (globalThis as any).callstate.connect(url).close();
          return 'accepted';
        } catch (error) {
          return `${(error as Error).name}: ${(error as Error).message}`;
        }
      }),
    );
    expect(refused).toEqual([
      'TypeError: url must not have a fragment, got "ws://127.0.0.1:1/#"',
      'TypeError: url must not have a fragment, got "ws://127.0.0.1:1/#x"',
    ]);
  });

  it('serves examples/browser, whose page calls its server and is called back', async () => {
    const example = await startExample();
    try {
      const page = await newPage();
      await page.goto(example.url, WAIT);
      await page.waitForSelector('#greeting:text-matches("^hello, ")', WAIT).catch(async (error: unknown) => {
        // What the page shows tells where it stopped (connection state, the first call's answer).
        const shown = await page.locator('output').allTextContents();
        throw new Error(`the page shows ${JSON.stringify(shown)}; its errors: ${JSON.stringify(pageErrors)}`, { cause: error });
      });
      expect(await page.locator('#sum').textContent()).toBe('5');
      expect(await page.locator('#state').textContent()).toBe('open');
    } finally {
      await browser.closePages();
      await example.close();
    }
  });
});

describe('the browser build in headless Chromium, under hostile conditions', SLOW, () => {
  it('closes with a standard code other than 1000 (1001 going away), which a browser WebSocket refuses to send', async () => {
    const serverSawClose = deferred<{ code: number | undefined; reason: string }>();
    server = await serve({ port: 0, host: '127.0.0.1', methods: { echo: (params: unknown) => params } });
    server.on('connection', (peer) => peer.on('close', ({ code, reason }) => serverSawClose.resolve({ code, reason })));
    const page = await openPage();
    const result = await page.evaluate(async (url) => {
      const w = globalThis as any;
      const client = w.callstate.connect(url);
      await client.ready;
      // Inside a then: a close() that throws synchronously is caught as a rejection.
      const closed = await w.settle(Promise.resolve().then(() => client.close(1001, 'going away')));
      return { closed, state: client.state };
    }, server.url);
    expect(result).toEqual({ closed: { value: undefined }, state: 'closed' });
    // The close handshake reached the server, with the reason (a browser can send 1000 or 3000-4999 only).
    expect(await serverSawClose.promise).toEqual({ code: 1000, reason: 'going away' });
  });
  it('gives up on a connection the page’s Content-Security-Policy blocks: Chromium fires error and no close', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', methods: { echo: (params: unknown) => params } });
    const page = await openPage('csp');
    await page.evaluate((url) => {
      const w = globalThis as any;
      const client = w.callstate.connect(url, { handshakeTimeout: 60_000, timeout: 60_000 });
      w.closes = [];
      client.on('close', ({ code }: { code: number }) => w.closes.push(code));
      w.result = (async () => ({ ready: await w.settle(client.ready), closed: await client.closed, state: client.state }))();
      w.result.then(() => (w.done = true));
    }, server.url);
    await page.waitForFunction(() => (globalThis as any).done === true, undefined, WAIT);
    const result = await page.evaluate(async () => ({ ...(await (globalThis as any).result), closes: (globalThis as any).closes }));
    expect(result).toEqual({
      ready: {
        error: {
          name: 'ConnectionClosedError',
          code: 'ERR_CONNECTION_CLOSED',
          message: expect.stringContaining('1006'),
          isCallstate: true,
        },
      },
      closed: undefined,
      state: 'closed',
      closes: [1006],
    });
  });

  it('answers a hostile server’s binary, non-JSON (8 MB of it) and unknown-id frames, then fails the call with its close code and reason', async () => {
    const hostile = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await listening(hostile);
    const answers = deferred<unknown[]>();
    hostile.on('connection', (socket) => {
      const received: unknown[] = [];
      socket.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as { id?: unknown; method?: string; error?: { code: number } };
        if (frame.method === 'x') {
          socket.send(Buffer.from([1, 2, 3]), { binary: true });
          socket.send('not json {');
          socket.send('x'.repeat(8 * 1024 * 1024));
          socket.send('{"jsonrpc":"2.0","id":"no-such-call","result":1}');
          return;
        }
        received.push(frame.error?.code);
        if (received.length === 3) {
          answers.resolve(received);
          socket.close(4001, 'hostile');
        }
      });
    });
    const page = await openPage();
    const result = await page.evaluate(
      async (url) => {
        const w = globalThis as any;
        const client = w.callstate.connect(url, { timeout: 60_000 });
        const unmatched: string[] = [];
        client.on('unmatched', ({ reason }: { reason: string }) => unmatched.push(reason));
        const closes: unknown[] = [];
        client.on('close', ({ code, reason }: { code: number; reason: string }) => closes.push({ code, reason }));
        const call = await w.settle(client.request('x'));
        await client.closed;
        return { call, unmatched, closes, state: client.state };
      },
      `ws://127.0.0.1:${(hostile.address() as { port: number }).port}`,
    );
    expect(await answers.promise).toEqual([-32600, -32700, -32700]);
    expect(result).toEqual({
      call: {
        error: {
          name: 'ConnectionClosedError',
          code: 'ERR_CONNECTION_CLOSED',
          message: expect.stringContaining('code 4001, reason "hostile"'),
          isCallstate: true,
        },
      },
      unmatched: ['malformed', 'malformed', 'malformed', 'unknown'],
      closes: [{ code: 4001, reason: 'hostile' }],
      state: 'closed',
    });
  });

  it('reads a frame that starts with a UTF-8 byte order mark without it, as every other transport does (Chromium keeps it in event.data)', async () => {
    const hostile = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await listening(hostile);
    const answer = deferred<unknown>();
    hostile.on('connection', (socket) => {
      socket.on('message', (data) => answer.resolve(JSON.parse(data.toString())));
      socket.send('\uFEFF{"jsonrpc":"2.0","id":"bom","method":"echo","params":[1]}');
    });
    const page = await openPage();
    await page.evaluate(
      async (url) => {
        const client = (globalThis as any).callstate.connect(url, { methods: { echo: (params: unknown) => params } });
        (globalThis as any).bomClient = client;
        await client.ready;
      },
      `ws://127.0.0.1:${(hostile.address() as { port: number }).port}`,
    );
    expect(await answer.promise).toEqual({ jsonrpc: '2.0', id: 'bom', result: [1] });
    await page.evaluate(() => (globalThis as any).bomClient.close());
    await new Promise((resolve) => hostile.close(resolve));
  });

  it('drops, unparsed, a frame past maxPayload (checked once it has arrived, in UTF-8 bytes; binary too): its calls fail with 1009 and why', async () => {
    const hostile = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await listening(hostile);
    hostile.on('connection', (socket) => {
      socket.on('message', (data) => {
        const { id, method } = JSON.parse(data.toString()) as { id: string; method: string };
        // 300 euro signs are 900 bytes of UTF-8: within 1,024 with the envelope; 700 are 2,100 bytes in 700 characters.
        if (method === 'small') socket.send(JSON.stringify({ jsonrpc: '2.0', id, result: '€'.repeat(300) }));
        else if (method === 'text') socket.send(JSON.stringify({ jsonrpc: '2.0', id, result: '€'.repeat(700) }));
        else socket.send(Buffer.alloc(2048), { binary: true });
      });
    });
    const page = await openPage();
    const result = await page.evaluate(
      async (url) => {
        const w = globalThis as any;
        const outcome = async (method: string) => {
          const client = w.callstate.connect(url, { maxPayload: 1024, timeout: 60_000 });
          const small = await w.settle(client.request('small'));
          const call = await w.settle(client.request(method));
          await client.closed;
          return { small: small.value?.length, call, state: client.state };
        };
        return [await outcome('text'), await outcome('binary')];
      },
      `ws://127.0.0.1:${(hostile.address() as { port: number }).port}`,
    );
    const dropped = (bytes: number) => ({
      small: 300,
      call: {
        error: {
          name: 'ConnectionClosedError',
          code: 'ERR_CONNECTION_CLOSED',
          message: expect.stringMatching(
            new RegExp(
              `closed before the call settled \\(code 1009\\): the server sent a frame of ${bytes} bytes, past maxPayload \\(1024 bytes\\): dropped unparsed$`,
            ),
          ),
          isCallstate: true,
        },
      },
      state: 'closed',
    });
    expect(result).toEqual([dropped(2100 + '{"jsonrpc":"2.0","id":"","result":""}'.length + 21), dropped(2048)]);
  });

  it('drops a server that reads its frames and answers nothing, not even the heartbeat, failing the pending call', async () => {
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await listening(silent);
    const page = await openPage();
    const result = await page.evaluate(
      async (url) => {
        const w = globalThis as any;
        const client = w.callstate.connect(url, { heartbeat: 200, timeout: 60_000 });
        const call = await w.settle(client.request('wait'));
        await client.closed;
        return { call, state: client.state };
      },
      `ws://127.0.0.1:${(silent.address() as { port: number }).port}`,
    );
    expect(result).toEqual({
      call: {
        error: {
          name: 'ConnectionClosedError',
          code: 'ERR_CONNECTION_CLOSED',
          message: expect.stringContaining('the peer answered no heartbeat for 200 ms'),
          isCallstate: true,
        },
      },
      state: 'closed',
    });
  });

  it('with reconnect, says in the reconnecting event why it dropped a server that answered nothing, not even the heartbeat', async () => {
    const silent = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await listening(silent);
    const page = await openPage();
    const result = await page.evaluate(
      async (url) => {
        const w = globalThis as any;
        const client = w.callstate.connect(url, { heartbeat: 200, reconnect: { initialDelay: 60_000, maxDelay: 60_000, jitter: 0 } });
        const event = await new Promise<any>((resolve) => client.on('reconnecting', resolve));
        await client.close();
        return {
          code: event.code,
          reason: event.reason,
          error: event.error && { name: event.error.name, message: event.error.message },
          uptime: typeof event.uptime,
        };
      },
      `ws://127.0.0.1:${(silent.address() as { port: number }).port}`,
    );
    expect(result).toEqual({
      code: 1006,
      reason: '',
      error: { name: 'ConnectionClosedError', message: expect.stringContaining('dropped: the peer answered no heartbeat for 200 ms') },
      uptime: 'number',
    });
  });

  it('fails a connection the server refuses (origins: HTTP 403) with a message that says the browser hides why, not a bare "WebSocket error"', async () => {
    server = await serve({ port: 0, host: '127.0.0.1', origins: ['https://app.example'], methods: { echo: (params: unknown) => params } });
    const result = await connectInPage(server.url);
    expect(result).toEqual(
      notOpened(
        `could not connect to ${server.url} (code 1006): the connection could not be opened, and a browser does not tell why (the server refused it, as with HTTP 401 or 403 from its access check, or 503 when it holds its most connections or is closing; it could not be reached; its port is one browsers refuse, such as 6000 or 10080; or the page's Content-Security-Policy blocked it)`,
      ),
    );
  });

  it('fails the calls of a server that breaks the WebSocket protocol (text that is not UTF-8) saying so, not with a bare "WebSocket error"', async () => {
    // Chromium fails such a connection with an error event and a close (1006), and tells the page nothing more.
    const raw = await rawServer();
    track(raw);
    void raw.accepted.then((socket) => socket.once('data', () => socket.write(Buffer.from([0x81, 0x02, 0xc3, 0x28]))));
    const page = await openPage();
    const result = await page.evaluate(async (url) => {
      const w = globalThis as any;
      const client = w.callstate.connect(url, { timeout: 60_000, heartbeat: 0 });
      const call = await w.settle(client.request('x'));
      await client.closed;
      return { call, state: client.state };
    }, raw.url);
    expect(result).toEqual({
      call: {
        error: {
          name: 'ConnectionClosedError',
          code: 'ERR_CONNECTION_CLOSED',
          message: `the connection to ${raw.url} closed before the call settled (code 1006): the browser failed the connection, and does not tell why (the server broke the WebSocket protocol: text that is not UTF-8, a masked or malformed frame, an invalid close code or reason)`,
          isCallstate: true,
        },
      },
      state: 'closed',
    });
  });

  it("fails a connection past the server's maxConnections (HTTP 503, which the page never sees) with a message that names that refusal too", async () => {
    server = await serve({ port: 0, host: '127.0.0.1', maxConnections: 1, methods: { echo: (params: unknown) => params } });
    const holder = track(connect(server.url));
    await holder.ready;
    const result = await connectInPage(server.url);
    expect(result).toEqual(notOpened(expect.stringContaining('or 503 when it holds its most connections or is closing')));
  });

  it('keeps a server that reads a large call slowly, answering the heartbeat only once it has read it', async () => {
    const slow = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 64 * 1024 * 1024 });
    await listening(slow);
    // Reads nothing until the test says: what the page sends waits in its socket's buffer (bufferedAmount).
    const tcp = deferred<{ pause(): void; resume(): void; once(event: 'data', listener: () => void): void }>();
    slow.on('connection', (socket) => {
      const raw = (socket as unknown as { _socket: Awaited<typeof tcp.promise> })._socket;
      raw.pause();
      tcp.resolve(raw);
      socket.on('message', (data) => {
        const { id } = JSON.parse(data.toString()) as { id: string };
        socket.send(JSON.stringify({ jsonrpc: '2.0', id, result: (data as Buffer).length }));
      });
    });
    const page = await openPage();
    // The heartbeat runs on a clock the test moves (a simulated clock in the page): no real time is measured.
    const before = await page.evaluate(
      async (url) => {
        const w = globalThis as any;
        const clock = (w.clock = w.simulatedClock());
        w.client = w.callstate.connect(url, { clock, heartbeat: 1_000, timeout: 60_000 });
        await w.client.ready;
        w.upload = w.settle(w.client.request('upload', ['x'.repeat(16 * 1024 * 1024)]));
        clock.advance(500); // the first heartbeat, behind the call
        return w.client.bufferedAmount;
      },
      `ws://127.0.0.1:${(slow.address() as { port: number }).port}`,
    );
    expect(before).toBeGreaterThan(1024 * 1024);
    // The server reads a little at a time, until the page's buffer has shrunk.
    const server = await tcp.promise;
    do {
      const read = new Promise<void>((resolve) => server.once('data', resolve));
      server.resume();
      await read;
      server.pause();
    } while (await page.evaluate((amount) => (globalThis as any).client.bufferedAmount >= amount, before));
    // Half an interval with no answer, not even to the heartbeat: but the server read, so it is alive.
    const state = await page.evaluate(() => ((globalThis as any).clock.advance(500), (globalThis as any).client.state));
    expect(state).toBe('open');
    server.resume();
    const result = await page.evaluate(async () => {
      const w = globalThis as any;
      const upload = await w.upload;
      const state = w.client.state;
      await w.client.close();
      return { upload, state };
    });
    expect(result).toEqual({
      upload: { value: 16 * 1024 * 1024 + '{"jsonrpc":"2.0","id":"","method":"upload","params":[""]}'.length + 21 },
      state: 'open',
    });
  });

  it('drops a server that stops reading (bufferedAmount): its calls fail as not read, or are refused with QueueFullError past maxBufferedAmount', async () => {
    const hostile = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await listening(hostile);
    // Reads the first frame, then none: the socket's buffers fill, and then the browser's.
    hostile.on('connection', (socket) =>
      socket.once('message', () => (socket as unknown as { _socket: { pause(): void } })._socket.pause()),
    );
    const page = await openPage();
    const result = await page.evaluate(
      async (url) => {
        const w = globalThis as any;
        const client = w.callstate.connect(url, {
          timeout: 60_000,
          heartbeat: 0,
          highWaterMark: 64 * 1024,
          maxBufferedAmount: 1024 * 1024,
          drainTimeout: 500,
          closeTimeout: 500,
        });
        const closed = new Promise<any>((resolve) => client.on('close', resolve));
        await client.ready;
        const big = 'y'.repeat(256 * 1024);
        const outcomes: Array<Promise<{ error?: { name: string; message: string } }>> = [];
        // A call every few ms until the client gives up on the server: what waits grows as nothing is read.
        await new Promise<void>((resolve) => {
          const timer = setInterval(() => {
            if (client.state !== 'open') return resolve(clearInterval(timer));
            outcomes.push(w.settle(client.request('x', [big])));
          }, 5);
        });
        const { error } = await closed;
        const kind = (message: string) =>
          /dropped: .*(drainTimeout|maxBufferedAmount)/.test(message)
            ? 'not read'
            : /would pass maxBufferedAmount/.test(message)
              ? 'full'
              : message;
        const names = new Set<string>();
        for (const settled of await Promise.all(outcomes))
          names.add(settled.error ? `${settled.error.name}: ${kind(settled.error.message)}` : 'answered');
        return { names: [...names].sort(), closeError: error && { name: error.name, message: error.message }, state: client.state };
      },
      `ws://127.0.0.1:${(hostile.address() as { port: number }).port}`,
    );
    expect(result).toEqual({
      names: expect.arrayContaining(['ConnectionClosedError: not read']),
      closeError: { name: 'ConnectionClosedError', message: expect.stringMatching(/dropped: .*(drainTimeout|maxBufferedAmount)/) },
      state: 'closed',
    });
    expect(result.names.every((name) => ['ConnectionClosedError: not read', 'QueueFullError: full'].includes(name))).toBe(true);
  });
});
