/**
 * Who is calling: `authenticate` may accept with `{ data }`, and every server-side connection
 * (`peer.connection`) and every handler (`ctx.connection`) sees the upgrade request's address,
 * headers and URL and that data; on NATS, each message's headers and subject. Handlers authorize
 * per method from it.
 */
import { describe, expect, it } from 'vitest';
import {
  connect,
  serve,
  ErrorCodes,
  RemoteError,
  RpcError,
  type Authenticate,
  type ConnectionInfo,
  type HandlerContext,
  type Peer,
} from '../../src/index.js';
import { closeTrackedAfterEach, settle } from '../helpers.js';
import { useNatsServer } from '../nats-helpers.js';

const track = closeTrackedAfterEach();

const nats = useNatsServer();

/** Tokens and their roles; a real app would verify a signed token. */
const tokens: Record<string, string> = { 'admin-token': 'admin', 'user-token': 'user' };

const authenticate: Authenticate = (request) => {
  const role = tokens[String(request.headers.authorization).replace(/^Bearer /, '')];
  return role === undefined ? { status: 401, reason: 'unknown token' } : { data: { role } };
};

/** `drop` is for admins only: the handler reads the role `authenticate` attached. */
const methods = {
  whoami: (_params: unknown, ctx: HandlerContext) => ctx.connection,
  drop: (params: { table: string }, ctx: HandlerContext) => {
    const { role } = ctx.connection.data as { role: string };
    if (role !== 'admin') throw new RpcError(ErrorCodes.AccessDenied, `"${role}" may not call drop`, { role });
    return `dropped ${params.table}`;
  },
};

describe('caller context over WebSocket', () => {
  it('gives every connection and handler the upgrade request and what authenticate attached, and authorizes per method', async () => {
    const server = track(await serve({ path: '/rpc', authenticate, methods }));
    const peers: Peer[] = [];
    server.on('connection', (peer) => peers.push(peer));
    const admin = track(connect(`${server.url}?tenant=7`, { headers: { Authorization: 'Bearer admin-token' } }));
    const user = track(connect(server.url, { headers: { Authorization: 'Bearer user-token' } }));

    const seen = (await admin.request('whoami')) as ConnectionInfo;
    expect(seen).toMatchObject({ transport: 'ws', remoteAddress: '127.0.0.1', url: '/rpc?tenant=7', data: { role: 'admin' } });
    expect(seen.headers.authorization).toBe('Bearer admin-token');
    expect(await admin.request('drop', { table: 'users' })).toBe('dropped users');

    const { error } = await settle(user.request('drop', { table: 'users' }));
    expect(error).toBeInstanceOf(RemoteError);
    expect([error.code, error.message, error.data]).toEqual([-32003, '"user" may not call drop', { role: 'user' }]);

    await user.ready;
    expect(peers.map((peer) => peer.connection.data)).toEqual([{ role: 'admin' }, { role: 'user' }]);
    expect(peers[0]!.connection.url).toBe('/rpc?tenant=7');
  });

  it('gives data undefined when authenticate answers true, and when there is none', async () => {
    const server = track(await serve({ authenticate: () => true, methods }));
    const client = track(connect(server.url));
    expect(await client.request('whoami')).toMatchObject({ transport: 'ws', url: '/', remoteAddress: '127.0.0.1' });
    expect(((await client.request('whoami')) as ConnectionInfo).data).toBeUndefined();
  });

  it('refuses an answer that has data beside a status or reason (ambiguous: it fails closed)', async () => {
    const server = track(await serve({ authenticate: () => ({ data: { role: 'admin' }, status: 403 }) as never, methods }));
    const client = track(connect(server.url));
    expect((await settle(client.ready)).error.message).toMatch(/refused the connection with HTTP 403 Forbidden: Forbidden$/);
  });
});

describe('caller context over NATS', () => {
  it("gives each call its message's headers and subject and what authenticate attached, and authorizes per method", async () => {
    const subject = 'context.svc';
    track(await serve({ nats: nats.url, subject, authenticate, methods }));
    const admin = track(connect(nats.url, { subject, headers: { Authorization: 'Bearer admin-token' } }));
    const user = track(connect(nats.url, { subject, headers: { Authorization: 'Bearer user-token' } }));

    expect(await admin.request('whoami')).toEqual({
      transport: 'nats',
      remoteAddress: undefined,
      headers: { authorization: 'Bearer admin-token' },
      url: subject,
      data: { role: 'admin' },
    });
    expect(await admin.request('drop', { table: 't' })).toBe('dropped t');
    const { error } = await settle(user.request('drop', { table: 't' }));
    expect([error.code, error.message]).toEqual([-32003, '"user" may not call drop']);
    // Each message is its own caller: the user's data never leaks into the admin's calls.
    expect(((await admin.request('whoami')) as ConnectionInfo).data).toEqual({ role: 'admin' });
    const concurrent = await Promise.all([user.request('whoami'), admin.request('whoami')]);
    expect(concurrent.map((info) => (info as ConnectionInfo).data)).toEqual([{ role: 'user' }, { role: 'admin' }]);
  });

  it('gives the headers and no data without authenticate', async () => {
    const subject = 'context.open';
    track(await serve({ nats: nats.url, subject, methods }));
    const client = track(connect(nats.url, { subject, headers: { 'X-Trace': 'abc' } }));
    expect(await client.request('whoami')).toEqual({
      transport: 'nats',
      remoteAddress: undefined,
      headers: { 'x-trace': 'abc' },
      url: subject,
      data: undefined,
    });
  });
});
