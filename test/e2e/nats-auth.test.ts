/**
 * nats-servers that require credentials, and lists of nats-server URLs: what a `nats://` URL carries reaches nats.js
 * (which takes neither credentials in a URL nor a comma-separated list in one string), and users whose permissions
 * refuse a subscription callstate needs.
 */
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as tcpConnect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, ConnectionClosedError, type Client, type ErrorInfo, type NatsServer } from '../../src/index.js';
import { closeAfterEach, orHang, settle } from '../helpers.js';
import { eventually, freePort, startNatsServer, type NatsServerProcess } from '../nats-helpers.js';

let client: Client | undefined;
let responders: NatsServer[] = [];
closeAfterEach(() => {
  const items = [client, ...responders];
  client = undefined;
  responders = [];
  return items;
});

const methods = { add: ([a, b]: [number, number]) => a + b };

describe('a nats-server that requires a user and password', () => {
  let nats: NatsServerProcess;
  // Characters a URL must percent-encode in a password: '@', ':', '/'.
  const password = 'p@ss:w/rd';
  beforeAll(async () => {
    nats = await startNatsServer(['--user', 'caller', '--pass', password]);
  });
  afterAll(async () => {
    await nats?.stop();
  });
  const withUser = (user: string, pass: string) => nats.url.replace('nats://', `nats://${user}:${encodeURIComponent(pass)}@`);

  it('takes them from the nats:// URL of serve() and connect(), percent-encoding decoded, and calls go through', async () => {
    const url = withUser('caller', password);
    responders.push(await serve({ nats: url, subject: 'auth.v1', methods }));
    client = connect(url, { subject: 'auth.v1', timeout: 5_000 });
    expect(await client.request('add', [2, 3])).toBe(5);
  });

  it('still refuses a wrong password, saying so with the URL shown without it', async () => {
    const url = withUser('caller', 'wrong');
    const { error } = await settle(serve({ nats: url, subject: 'auth.v1', methods }));
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toBe(`could not connect to ${nats.url.replace('nats://', 'nats://***@')} (code 1006): Authorization Violation`);
    client = connect(url, { subject: 'auth.v1' });
    expect((await settle(client.ready)).error).toBeInstanceOf(ConnectionClosedError);
  });
});

describe('a nats-server that requires a token', () => {
  let nats: NatsServerProcess;
  beforeAll(async () => {
    nats = await startNatsServer(['--auth', 's3cret-token']);
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('takes it from the nats:// URL (token@host) of serve() and connect()', async () => {
    const url = nats.url.replace('nats://', 'nats://s3cret-token@');
    responders.push(await serve({ nats: url, subject: 'auth.v2', methods }));
    client = connect(url, { subject: 'auth.v2', timeout: 5_000 });
    expect(await client.request('add', [4, 5])).toBe(9);
  });
});

describe('a comma-separated list of nats-server URLs', () => {
  let nats: NatsServerProcess;
  beforeAll(async () => {
    nats = await startNatsServer();
  });
  afterAll(async () => {
    await nats?.stop();
  });

  it('is tried in turn: the nats-server that answers is used wherever it stands in the list', async () => {
    const dead = `nats://127.0.0.1:${await freePort()}`;
    responders.push(await serve({ nats: `${nats.url},${dead}`, subject: 'list.v1', queue: 'a', methods }));
    responders.push(await serve({ nats: `${dead}, ${nats.url}`, subject: 'list.v1', queue: 'b', methods }));
    client = connect(`${nats.url},${dead}`, { subject: 'list.v1', timeout: 5_000 });
    expect(await client.request('add', [1, 1])).toBe(2);
    await client.close();
    client = connect(`${dead},${nats.url}`, { subject: 'list.v1', timeout: 5_000 });
    expect(await client.request('add', [1, 2])).toBe(3);
  });

  it('whose URLs carry different credentials is refused with TypeError (nats.js sends one set), shown without them', () => {
    const url = 'nats://a:one@127.0.0.1:4222,nats://b:two@127.0.0.1:4223';
    expect(() => connect(url, { subject: 'x' })).toThrow(
      new TypeError(
        'url: the URLs of a nats:// list must carry the same credentials, or none (nats.js sends one set to whichever it connects to), got "nats://***@127.0.0.1:4222,nats://***@127.0.0.1:4223"',
      ),
    );
    expect(() => connect('nats://us%zz:pw@127.0.0.1:4222', { subject: 'x' })).toThrow(
      new TypeError('url: its credentials are not valid percent-encoding, got "nats://***@127.0.0.1:4222"'),
    );
    return expect(serve({ nats: url, subject: 'x', methods })).rejects.toThrow(TypeError);
  });
});

describe('a user whose permissions refuse a subscription callstate needs (nats-server: Permissions Violation)', () => {
  let nats: NatsServerProcess;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'callstate-nats-'));
    const config = join(dir, 'users.conf');
    await writeFile(
      config,
      `authorization {
        users = [
          { user: "ok", password: "pw" }
          { user: "noinbox", password: "pw", permissions: { subscribe: { deny: ["_INBOX.>"] } } }
          { user: "nosub", password: "pw", permissions: { subscribe: { deny: ["perm.v1"] } } }
          { user: "nocancel", password: "pw", permissions: { subscribe: { deny: ["perm.v1.$cancel"] } } }
          { user: "nopub", password: "pw", permissions: { publish: { deny: ["perm.v1"] } } }
          { user: "nocancelpub", password: "pw", permissions: { publish: { deny: ["perm.v1.$cancel"] } } }
          { user: "noreply", password: "pw", permissions: { publish: { deny: ["_INBOX.>"] } } }
          { user: "alice", password: "pw", permissions: { subscribe: { allow: ["_INBOX_alice.>"] } } }
        ]
      }\n`,
    );
    nats = await startNatsServer(['-c', config]);
  });
  afterAll(async () => {
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const as = (user: string) => nats.url.replace('nats://', `nats://${user}:pw@`);

  it('closes a client that may not subscribe to its inbox (1008, saying why), failing its calls, instead of leaving each to its timeout', async () => {
    responders.push(await serve({ nats: as('ok'), subject: 'perm.v1', methods }));
    // On a simulated clock no call times out: only the connection's end can settle it.
    client = connect(as('noinbox'), { subject: 'perm.v1', clock: new SimulatedClock() });
    const { error } = await orHang(settle(client.request('add', [1, 2])), 'the call to fail');
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1008);
    expect(error.message).toMatch(
      /^the connection to nats:\/\/\*\*\*@127\.0\.0\.1:\d+ closed before the call settled \(code 1008\): nats-server ended the subscription to the client's inbox, where answers come: Permissions Violation for Subscription to "_INBOX\.[^"]+\.>"$/,
    );
    expect(client.state).toBe('closed');
  });

  it('calls through an inbox under inboxPrefix, for a user who may subscribe only there (as nats.js inboxPrefix)', async () => {
    responders.push(await serve({ nats: as('ok'), subject: 'perm.v1', methods }));
    client = connect(as('alice'), { subject: 'perm.v1', inboxPrefix: '_INBOX_alice', clock: new SimulatedClock() });
    expect(await orHang(client.request('add', [1, 2]), 'the answer in the inbox under the prefix')).toBe(3);
    await client.close();
    // Without it, the inbox is under _INBOX, which alice may not subscribe to.
    client = connect(as('alice'), { subject: 'perm.v1', clock: new SimulatedClock() });
    const { error } = await orHang(settle(client.request('add', [1, 2])), 'the call to fail');
    expect([error.name, error.closeCode]).toEqual(['ConnectionClosedError', 1008]);
  });

  it('refuses an inboxPrefix that is no subject, or on a URL that is not nats://, with a TypeError', () => {
    expect(() => connect(nats.url, { subject: 'perm.v1', inboxPrefix: '_INBOX.>' })).toThrow(
      new TypeError('options.inboxPrefix must be a NATS subject without wildcards, empty tokens or whitespace, got "_INBOX.>"'),
    );
    expect(() => connect('ws://127.0.0.1:1', { inboxPrefix: '_INBOX_alice' })).toThrow(
      new TypeError('options.inboxPrefix applies to nats:// URLs only'),
    );
  });

  it('closes a client that may not publish to its subject (1008, saying why), failing its calls, instead of leaving each to its timeout', async () => {
    responders.push(await serve({ nats: as('ok'), subject: 'perm.v1', methods }));
    client = connect(as('nopub'), { subject: 'perm.v1', clock: new SimulatedClock() });
    const { error } = await orHang(settle(client.request('add', [1, 2])), 'the call to fail');
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1008);
    expect(error.message).toMatch(
      /closed before the call settled \(code 1008\): nats-server refuses what the client publishes to "perm\.v1" \(its requests and notifications\): Permissions Violation for Publish to "perm\.v1"$/,
    );
    expect(client.state).toBe('closed');
  });

  it('keeps a client that may publish calls but not cancels: a refused cancel loses only itself', async () => {
    responders.push(
      await serve({ nats: as('ok'), subject: 'perm.v1', closeTimeout: 100, methods: { ...methods, wait: () => new Promise(() => {}) } }),
    );
    client = connect(as('nocancelpub'), { subject: 'perm.v1', timeout: 5_000 });
    const aborter = new AbortController();
    const waiting = settle(client.request('wait', [], { signal: aborter.signal }));
    expect(await client.request('add', [1, 2])).toBe(3);
    aborter.abort();
    expect((await waiting).error?.name).toBe('AbortError');
    // The refused cancel's -ERR comes before the answer to a call sent after it.
    expect(await client.request('add', [2, 2])).toBe(4);
    expect(client.state).toBe('open');
  });

  it("reports to onError and the logger an answer nats-server refuses (no right to publish to the caller's inbox), not losing it silently", async () => {
    const errors: Array<{ error: unknown; info: ErrorInfo }> = [];
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, warn: (_: object, message: string) => warnings.push(message), error() {} };
    responders.push(
      await serve({ nats: as('noreply'), subject: 'perm.v1', methods, logger, onError: (error, info) => errors.push({ error, info }) }),
    );
    client = connect(as('ok'), { subject: 'perm.v1', clock: new SimulatedClock() });
    const call = settle(client.request('add', [1, 2]));
    await eventually(async () => errors.length === 1, 'the refused answer reported');
    const [{ error, info }] = errors as [{ error: Error; info: ErrorInfo }];
    expect(info).toMatchObject({ kind: 'unsent', method: undefined, id: undefined, response: undefined });
    expect(error.message).toMatch(
      /^nats-server refused the answer published to "_INBOX\.[^"]+", which is lost: Permissions Violation for Publish to "_INBOX\.[^"]+"$/,
    );
    expect(warnings).toEqual([error.message]);
    // The responder carries on (its next answer is refused and reported the same way); the call is left to its timeout.
    expect(responders[0]!.handlingCalls).toBe(0);
    await client.close();
    expect((await call).error).toBeInstanceOf(ConnectionClosedError);
  });

  it('rejects serve() when the refusal closes its connection before the PONG to its flush comes (nats.js then never settles the flush)', async () => {
    const proxy = await holdAfterFirstErr(nats.url);
    try {
      const url = proxy.url.replace('nats://', 'nats://nocancel:pw@');
      const { value, error } = await orHang(settle(serve({ nats: url, subject: 'perm.v1', methods })), 'the refused serve()');
      if (value) responders.push(value);
      expect(error).toBeInstanceOf(ConnectionClosedError);
      expect(error.message).toMatch(/nats-server ended the responder's subscription to "perm\.v1\.\$cancel", where calls are cancelled/);
    } finally {
      await proxy.close();
    }
  });

  it('rejects serve() for a responder that may not subscribe to its subject or its cancel subject, instead of resolving deaf', async () => {
    const refused = await settle(serve({ nats: as('nosub'), subject: 'perm.v1', queue: 'q', methods }));
    if (refused.value) responders.push(refused.value);
    expect(refused.error).toBeInstanceOf(ConnectionClosedError);
    expect(refused.error.closeCode).toBe(1008);
    expect(refused.error.message).toBe(
      `the connection to ${as('***').replace(':pw', '')} was closed: nats-server ended the responder's subscription to "perm.v1" (queue group "q"): Permissions Violation for Subscription to "perm.v1" using queue "q"`,
    );
    const noCancels = await settle(serve({ nats: as('nocancel'), subject: 'perm.v1', methods }));
    if (noCancels.value) responders.push(noCancels.value);
    expect(noCancels.error).toBeInstanceOf(ConnectionClosedError);
    expect(noCancels.error.message).toMatch(
      /nats-server ended the responder's subscription to "perm\.v1\.\$cancel", where calls are cancelled: Permissions Violation for Subscription to "perm\.v1\.\$cancel"$/,
    );
    // Neither connection was left open (nats-server sees each close a moment after it).
    await eventually(async () => {
      const { connections } = await nats.monitor('connz?auth=true');
      return !connections.some((c: { authorized_user?: string }) => c.authorized_user === 'nosub' || c.authorized_user === 'nocancel');
    }, 'the refused responders to disconnect');
  });
});

describe('a nats-server whose max_subscriptions leaves a responder short of the two subscriptions it needs', () => {
  let nats: NatsServerProcess;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'callstate-nats-'));
    const config = join(dir, 'limits.conf');
    await writeFile(config, 'max_subscriptions: 1\n');
    nats = await startNatsServer(['-c', config]);
  });
  afterAll(async () => {
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('rejects serve() saying so, instead of resolving a responder whose cancels never come', async () => {
    const { value, error } = await settle(serve({ nats: nats.url, subject: 'limit.v1', queue: 'q', methods }));
    if (value) responders.push(value);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.closeCode).toBe(1008);
    expect(error.message).toBe(
      `the connection to ${nats.url} was closed: nats-server refused the responder's subscriptions to "limit.v1" (queue group "q") and "limit.v1.$cancel": maximum subscriptions exceeded`,
    );
    await eventually(async () => (await nats.monitor('connz')).num_connections === 0, 'the refused responder to disconnect');
  });
});

/**
 * A TCP proxy to nats-server that forwards everything until nats-server's first `-ERR` line, and nothing it sends after
 * (the PONG to a flush sent after a refused subscription): the order a slow link may give, for sure.
 */
async function holdAfterFirstErr(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const { hostname, port } = new URL(target.replace(/^nats:/, 'http:'));
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(port), hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    }
    let pending = '';
    let held = false;
    upstream.on('data', (chunk: Buffer) => {
      if (held) return;
      pending += chunk.toString('latin1');
      const at = pending.indexOf('-ERR');
      const end = at < 0 ? -1 : pending.indexOf('\r\n', at);
      if (at >= 0 && end < 0) return; // the rest of the line is still to come
      client.write(Buffer.from(end < 0 ? pending : pending.slice(0, end + 2), 'latin1'));
      pending = '';
      held = end >= 0;
    });
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `nats://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
