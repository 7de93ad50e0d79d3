/**
 * examples/http-app.ts over real sockets: its app route and callstate at /rpc on one port, the
 * caller's role from `authenticate` deciding per method; and the example run as written.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, type Api } from '../../examples/http-app.js';
import { connect, ConnectionClosedError, ErrorCodes, RemoteError, type Client } from '../../src/index.js';
import { settle } from '../helpers.js';

let running: Awaited<ReturnType<typeof startApp>> | undefined;
const clients: Client<Api>[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close();
  await running?.close();
  running = undefined;
});

const as = (token: string | undefined) => {
  const client = connect<Api>(running!.url, token === undefined ? {} : { headers: { Authorization: `Bearer ${token}` } });
  clients.push(client);
  return client;
};

describe('examples/http-app.ts', () => {
  it('serves its app route and JSON-RPC at /rpc on one port, authorizing per method from the caller', async () => {
    running = await startApp();
    const { port } = running.app.address() as { port: number };
    expect(running.url).toBe(`ws://127.0.0.1:${port}/rpc`);
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).json()).toEqual({ ok: true });
    expect((await fetch(`http://127.0.0.1:${port}/nope`)).status).toBe(404);

    expect(await as('token-ada').request('whoami')).toEqual({ user: 'ada', role: 'admin' });
    expect(await as('token-ada').request('dropTable', { table: 't' })).toBe('dropped t');
    const { error } = await settle(as('token-bob').request('dropTable', { table: 't' }));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message]).toEqual([ErrorCodes.AccessDenied, 'bob may not dropTable']);
    expect(running.audit).toEqual(['ada whoami ok', 'ada dropTable ok', 'bob dropTable refused']);

    const anonymous = await settle(as(undefined).ready);
    expect(anonymous.error).toBeInstanceOf(ConnectionClosedError);
    expect(anonymous.error.message).toMatch(/HTTP 401 Unauthorized: unknown token$/);
  });

  it('runs as written', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'examples/http-app.ts'], { cwd: process.cwd() });
    expect(stdout).toBe(
      [
        'app route: {"ok":true}',
        "ada is { user: 'ada', role: 'admin' }",
        'dropped sessions',
        'bob: -32003 bob may not dropTable',
        'over HTTP: {"jsonrpc":"2.0","id":1,"result":{"user":"bob","role":"user"}}',
        'audit: ada whoami ok; ada dropTable ok; bob dropTable refused; bob whoami ok',
        '',
      ].join('\n'),
    );
  });
});
