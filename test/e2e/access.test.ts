import { describe, expect, it } from 'vitest';
import { connect, serve, ConnectionClosedError, type Client, type Server } from '../../src/index.js';
import { closeAfterEach, settle } from '../helpers.js';

let server: Server | undefined;
let client: Client | undefined;

closeAfterEach(() => [client, server]);

/** Connects with the given upgrade headers; returns how `ready` settled and how many calls the server ran. */
async function tryConnect(url: string, headers?: Record<string, string>) {
  client = connect(url, headers ? { headers } : {});
  return settle(client.ready);
}

describe('origins', () => {
  it('accepts a listed Origin and refuses another with 403 before any call is handled', async () => {
    let runs = 0;
    server = await serve({ origins: ['https://app.example'], methods: { count: () => ++runs } });
    expect((await tryConnect(server.url, { Origin: 'https://app.example' })).error).toBeUndefined();
    expect(await client!.request('count')).toBe(1);
    await client!.close();

    client = connect(server.url, { headers: { Origin: 'https://evil.example' } });
    const call = settle(client.request('count'));
    const { error } = await settle(client.ready);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toBe(
      `could not connect to ${server.url} (code 1006): the server refused the connection with HTTP 403 Forbidden: origin https://evil.example is not allowed`,
    );
    expect((await call).error).toBeInstanceOf(ConnectionClosedError);
    expect(runs).toBe(1);
    expect(server.connections.size).toBe(0);
  });

  it("refuses a request without Origin unless the list holds 'none'", async () => {
    server = await serve({ origins: ['https://app.example'], methods: {} });
    const { error } = await tryConnect(server.url);
    expect(error.message).toMatch(/refused the connection with HTTP 403 Forbidden: no Origin header$/);
    await server.close();
    server = await serve({ origins: ['https://app.example', 'none'], methods: {} });
    expect((await tryConnect(server.url)).error).toBeUndefined();
  });

  it('throws TypeError for an origins list that is not origins', async () => {
    await expect(serve({ origins: 'https://app.example' as unknown as string[], methods: {} })).rejects.toThrow(TypeError);
    await expect(serve({ origins: ['https://app.example/'], methods: {} })).rejects.toThrow(
      new TypeError(
        `options.origins[0] must be an origin such as "https://app.example" (scheme, host and port only), 'null' or 'none', got "https://app.example/"`,
      ),
    );
  });
});

describe('authenticate', () => {
  it('sees headers, url and address; true accepts, false refuses with 401', async () => {
    const seen: Array<{ token: unknown; url: string; remoteAddress: string | undefined }> = [];
    server = await serve({
      authenticate: ({ headers, url, remoteAddress }) => {
        seen.push({ token: headers.authorization, url, remoteAddress });
        return headers.authorization === 'Bearer good';
      },
      methods: { echo: (p: unknown) => p },
    });
    expect((await tryConnect(`${server.url}/rpc?x=1`, { Authorization: 'Bearer good' })).error).toBeUndefined();
    expect(await client!.request('echo', [1])).toEqual([1]);
    await client!.close();
    const { error } = await tryConnect(server.url, { Authorization: 'Bearer bad' });
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect([error.code, error.closeCode]).toEqual(['ERR_CONNECTION_CLOSED', 1006]);
    expect(error.message).toMatch(/the server refused the connection with HTTP 401 Unauthorized: Unauthorized$/);
    expect(seen).toEqual([
      { token: 'Bearer good', url: '/rpc?x=1', remoteAddress: '127.0.0.1' },
      { token: 'Bearer bad', url: '/', remoteAddress: '127.0.0.1' },
    ]);
  });

  it('refuses with the status and reason of an object, awaited when a promise', async () => {
    server = await serve({ authenticate: async () => ({ status: 403 as const, reason: 'account suspended' }), methods: {} });
    const { error } = await tryConnect(server.url);
    expect(error.message).toMatch(/the server refused the connection with HTTP 403 Forbidden: account suspended$/);
    expect(server.connections.size).toBe(0);
  });

  it('refuses with 500 when the hook throws, and the server keeps serving', async () => {
    let fail = true;
    server = await serve({
      authenticate: () => {
        if (fail) throw new Error('database down');
        return true;
      },
      methods: { echo: (p: unknown) => p },
    });
    const { error } = await tryConnect(server.url);
    expect(error.message).toMatch(/refused the connection with HTTP 500 Internal Server Error: authentication failed$/);
    fail = false;
    expect((await tryConnect(server.url)).error).toBeUndefined();
    expect(await client!.request('echo', ['ok'])).toEqual(['ok']);
  });

  it('checks the origin first: a refused origin never reaches authenticate', async () => {
    let calls = 0;
    server = await serve({ origins: ['https://app.example'], authenticate: () => (calls++, true), methods: {} });
    const { error } = await tryConnect(server.url, { Origin: 'https://evil.example' });
    expect(error.message).toMatch(/HTTP 403 Forbidden/);
    expect(calls).toBe(0);
  });

  it('throws TypeError for an authenticate that is not a function', async () => {
    await expect(serve({ authenticate: true as unknown as () => boolean, methods: {} })).rejects.toThrow(
      new TypeError('options.authenticate must be a function, got boolean'),
    );
  });
});

describe('upgrade headers no HTTP request can carry', () => {
  it('are refused by connect() with TypeError, instead of ending the process from a timer (ws throws them)', async () => {
    server = await serve({ methods: { echo: (p: unknown) => p } });
    expect(() => connect(server!.url, { headers: { 'bad name': 'x' } })).toThrow(
      new TypeError('options.headers: "bad name" is not a header name (letters, digits and !#$%&\'*+-.^_`|~ only)'),
    );
    expect(() => connect(server!.url, { headers: { 'x-a': 'one\r\nInjected: two' } })).toThrow(
      new TypeError('options.headers.x-a must hold only tab, printable ASCII and Latin-1 characters (HTTP), got "one\\r\\nInjected: two"'),
    );
    expect(() => connect(server!.httpUrl, { headers: { 'x-a': '5 €' } })).toThrow(TypeError);
    client = connect(server.url, { headers: { 'x-a': 'café' } });
    expect(await client.request('echo', [1])).toEqual([1]);
  });
});

/** Errors are logged and printed: a password or token in the URL given to connect() must not show in them. */
describe('credentials in the URL', () => {
  it('reach the server as Basic auth, and errors show the URL with them as ***', async () => {
    let authorization: string | undefined;
    server = await serve({
      authenticate: ({ headers }) => {
        authorization = String(headers.authorization);
        return true;
      },
      methods: { where: (_params: unknown, ctx) => ctx.connection.url },
    });
    const port = server.port;
    client = connect(`ws://ann:s3cret@127.0.0.1:${port}`, { heartbeat: 0 });
    await client.ready;
    expect(authorization).toBe(`Basic ${Buffer.from('ann:s3cret').toString('base64')}`);
    const call = settle(client.request('where'));
    expect((await call).value).toBe('/');
    await server.close();
    server = undefined;
    const { error } = await settle(client.request('where'));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toContain(`ws://***@127.0.0.1:${port}`);
    expect(error.message).not.toContain('s3cret');

    client = connect(`ws://ann:s3cret@127.0.0.1:${port}`, { heartbeat: 0 });
    const refused = (await settle(client.ready)).error as Error;
    expect(refused.message).toMatch(new RegExp(`^could not connect to ws://\\*\\*\\*@127\\.0\\.0\\.1:${port} `));
  });

  it('are not repeated by the TypeError of a URL connect() refuses, nor by a NATS client that cannot connect', async () => {
    expect(() => connect('ws://ann:s3cret@127.0.0.1:1/#x')).toThrow(
      new TypeError('url must not have a fragment, got "ws://***@127.0.0.1:1/#x"'),
    );
    client = connect('nats://t0ken@127.0.0.1:1', { subject: 'svc', timeout: 1_000 });
    const { error } = await settle(client.ready);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/^could not connect to nats:\/\/\*\*\*@127\.0\.0\.1:1 /);
    expect(error.message).not.toContain('t0ken');
  });
});
