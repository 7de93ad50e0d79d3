/**
 * callstate mounted on an existing `node:http` app: the app keeps its own routes, JSON-RPC over
 * WebSocket (and over HTTP POST) lives at `/rpc` on the same port, `authenticate` turns the caller's
 * token into a role, a middleware authorizes per method from `ctx.connection.data`, another keeps
 * an audit trail, and `onError` sees every error a handler throws.
 * Run: npx tsx examples/http-app.ts
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { connect, serve, ErrorCodes, RemoteError, RpcError, type HandlerContext, type Middleware, type Server } from '../src/index.js';

/** Who the caller is, as `authenticate` attached it. */
interface Caller {
  user: string;
  role: 'admin' | 'user';
}

/** Tokens a real app would verify (a signed JWT, a session): here a fixed table. */
const TOKENS: Record<string, Caller> = {
  'token-ada': { user: 'ada', role: 'admin' },
  'token-bob': { user: 'bob', role: 'user' },
};

export interface Api {
  whoami(): Caller;
  dropTable(params: { table: string }): string;
}

const caller = (ctx: HandlerContext) => ctx.connection.data as Caller;

/** Methods only admins may call: checked by a middleware, before any handler runs. */
const ADMIN_ONLY = new Set(['dropTable']);

/** One line per call: who called what, and how it ended. */
export type AuditEntry = `${string} ${string} ${'ok' | 'refused'}`;

/** Starts the app on `port` (0: any free port); resolves once it listens. */
export async function startApp(
  port = 0,
): Promise<{ app: HttpServer; rpc: Server; url: string; audit: AuditEntry[]; close(): Promise<void> }> {
  const audit: AuditEntry[] = [];
  // Around every handler, in order: the audit trail outermost, so it sees refusals too.
  const auditTrail: Middleware = async (ctx, next) => {
    const { user } = caller(ctx);
    try {
      const result = await next();
      audit.push(`${user} ${ctx.method} ok`);
      return result;
    } catch (error) {
      audit.push(`${user} ${ctx.method} refused`);
      throw error;
    }
  };
  const authorize: Middleware = (ctx, next) => {
    const { user, role } = caller(ctx);
    if (ADMIN_ONLY.has(ctx.method) && role !== 'admin') throw new RpcError(ErrorCodes.AccessDenied, `${user} may not ${ctx.method}`);
    return next();
  };

  // The app's own routes: anything the app already serves.
  const app = createServer((request, response) => {
    if (request.url === '/health') return void response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
    response.writeHead(404).end('not found');
  });

  const rpc = await serve<Api>({
    server: app,
    path: '/rpc',
    // Accept with the caller attached, or refuse with 401 before any socket exists.
    authenticate: (request) => {
      const header = request.headers.authorization;
      const known = typeof header === 'string' ? TOKENS[header.replace(/^Bearer /, '')] : undefined;
      return known ? { data: known } : { status: 401, reason: 'unknown token' };
    },
    use: [auditTrail, authorize],
    // Errors that are not deliberate refusals are bugs: a real app would log them with its logger.
    onError: (error, { method }) => {
      if (!(error instanceof RpcError)) console.error(`${method} failed:`, error);
    },
    methods: {
      whoami: (_params, ctx) => caller(ctx),
      dropTable: ({ table }) => `dropped ${table}`,
    },
  });

  await new Promise<void>((resolve) => app.listen(port, '127.0.0.1', resolve));
  return {
    app,
    rpc,
    url: rpc.url,
    audit,
    close: async () => {
      await rpc.close({ drain: 5_000 }); // running calls may answer first
      await new Promise((resolve) => app.close(resolve)); // the app's server is the app's to close
    },
  };
}

// Run as a script: start the app, call it as an admin and as a user, then stop.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { url, close, app, audit, rpc } = await startApp();
  const { port } = app.address() as { port: number };
  console.log('app route:', await (await fetch(`http://127.0.0.1:${port}/health`)).text());

  const ada = connect<Api>(url, { headers: { Authorization: 'Bearer token-ada' } });
  console.log('ada is', await ada.request('whoami'));
  console.log(await ada.request('dropTable', { table: 'sessions' }));

  const bob = connect<Api>(url, { headers: { Authorization: 'Bearer token-bob' } });
  try {
    await bob.request('dropTable', { table: 'sessions' });
  } catch (error) {
    if (error instanceof RemoteError) console.log(`bob: ${error.code} ${error.message}`);
  }
  // The same methods over HTTP POST at /rpc, with the same token check.
  const posted = await fetch(rpc.httpUrl, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Bearer token-bob' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'whoami' }),
  });
  console.log('over HTTP:', await posted.text());
  console.log('audit:', audit.join('; '));
  await Promise.all([ada.close(), bob.close()]);
  await close();
}
