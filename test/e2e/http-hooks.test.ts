/**
 * Over HTTP POST the same hooks and caller context apply as over WebSocket: what `authenticate`
 * attaches reaches `ctx.connection.data`, middleware runs around handlers, `onError` hears handler
 * and protocol errors, and a notification runs its method. Real HTTP on 127.0.0.1.
 */
import { afterEach, expect, it } from 'vitest';
import { ErrorCodes, RpcError, serve, type ConnectionInfo, type ErrorInfo, type Server } from '../../src/index.js';

let server: Server | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

type Answer = { result?: unknown; error: { code: number; message: string } };

const answer = async (response: Promise<Response>) => (await (await response).json()) as Answer;

const post = (url: string, body: unknown, token: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });

it('gives handlers and middleware the POST as ctx.connection, with what authenticate attached, and reports errors to onError', async () => {
  const seen: ConnectionInfo[] = [];
  const errors: { error: unknown; info: ErrorInfo }[] = [];
  const ran: string[] = [];
  server = await serve({
    authenticate: ({ headers }) => {
      const role = { 'Bearer ada': 'admin', 'Bearer bob': 'user' }[String(headers.authorization)];
      return role === undefined ? false : { data: { role } };
    },
    use: [
      async (ctx, next) => {
        seen.push(ctx.connection);
        if (ctx.method === 'drop' && (ctx.connection.data as { role: string }).role !== 'admin') {
          throw new RpcError(ErrorCodes.AccessDenied, 'admins only');
        }
        return next();
      },
    ],
    onError: (error, info) => errors.push({ error, info }),
    methods: {
      drop: () => 'dropped',
      fail: () => {
        throw new Error('secret internals');
      },
      note: ([text]: [string]) => void ran.push(text),
    },
  });
  const url = server.httpUrl;

  expect(await (await post(url, { jsonrpc: '2.0', id: 1, method: 'drop' }, 'ada')).json()).toEqual({
    jsonrpc: '2.0',
    id: 1,
    result: 'dropped',
  });
  const refused = await answer(post(url, { jsonrpc: '2.0', id: 2, method: 'drop' }, 'bob'));
  expect(refused.error).toMatchObject({ code: ErrorCodes.AccessDenied, message: 'admins only' });
  expect((await post(url, { jsonrpc: '2.0', id: 3, method: 'drop' }, 'eve')).status).toBe(401);

  expect(seen[0]).toMatchObject({ transport: 'http', remoteAddress: '127.0.0.1', url: '/', data: { role: 'admin' } });
  expect(seen[0]!.headers.authorization).toBe('Bearer ada');
  expect(seen[1]!.data).toEqual({ role: 'user' });

  const failed = await answer(post(url, { jsonrpc: '2.0', id: 4, method: 'fail' }, 'ada'));
  expect(failed.error.message).toBe('secret internals');
  const notFound = await answer(post(url, { jsonrpc: '2.0', id: 5, method: 'nope' }, 'ada'));
  expect(notFound.error.code).toBe(ErrorCodes.MethodNotFound);
  const handlerError = errors.find((e) => e.info.method === 'fail');
  expect((handlerError?.error as Error).message).toBe('secret internals');
  expect(handlerError?.info).toMatchObject({ id: 4, connection: { transport: 'http', data: { role: 'admin' } } });
  expect(errors.some((e) => e.info.method === 'nope' && e.info.id === 5)).toBe(true);

  // A notification runs its method (answered 204), through the middleware.
  const noted = await post(url, { jsonrpc: '2.0', method: 'note', params: ['hello'] }, 'bob');
  expect(noted.status).toBe(204);
  await expect.poll(() => ran).toEqual(['hello']);
  expect(seen.at(-1)).toMatchObject({ transport: 'http', data: { role: 'user' } });
});
