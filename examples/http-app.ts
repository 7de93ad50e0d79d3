/**
 * callstate mounted on an existing `node:http` app: the app keeps its own routes, JSON-RPC over
 * WebSocket lives at `/rpc` on the same port, `authenticate` turns the caller's token into a role,
 * and handlers authorize per method from `ctx.connection.data`.
 * Run: npx tsx examples/http-app.ts
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { connect, serve, ErrorCodes, RemoteError, RpcError, type HandlerContext, type Server } from '../src/index.js';

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

/** Starts the app on `port` (0: any free port); resolves once it listens. */
export async function startApp(port = 0): Promise<{ app: HttpServer; rpc: Server; url: string; close(): Promise<void> }> {
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
    methods: {
      whoami: (_params, ctx) => caller(ctx),
      dropTable: ({ table }, ctx) => {
        const { user, role } = caller(ctx);
        if (role !== 'admin') throw new RpcError(ErrorCodes.AccessDenied, `${user} may not drop tables`);
        return `dropped ${table}`;
      },
    },
  });

  await new Promise<void>((resolve) => app.listen(port, '127.0.0.1', resolve));
  return {
    app,
    rpc,
    url: rpc.url,
    close: async () => {
      await rpc.close({ drain: 5_000 }); // running calls may answer first
      await new Promise((resolve) => app.close(resolve)); // the app's server is the app's to close
    },
  };
}

// Run as a script: start the app, call it as an admin and as a user, then stop.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { url, close, app } = await startApp();
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
  await Promise.all([ada.close(), bob.close()]);
  await close();
}
