/**
 * nats-servers that require credentials, and lists of nats-server URLs: what a `nats://` URL carries reaches nats.js
 * (which takes neither credentials in a URL nor a comma-separated list in one string).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, serve, ConnectionClosedError, type Client, type NatsServer } from '../../src/index.js';
import { closeAfterEach, settle } from '../helpers.js';
import { freePort, startNatsServer, type NatsServerProcess } from '../nats-helpers.js';

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
