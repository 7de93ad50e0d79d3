/**
 * Middleware, onError/logger, a schema-checked method, notifications that run methods,
 * and the typed proxy: the example of docs/hooks.md.
 * Run: node --import tsx examples/hooks.ts
 */
import { z } from 'zod';
import { connect, method, RpcError, serve, type Middleware } from '../src/index.js';

// Middleware: onion-style, in order, around every handler (and every notification that runs one).
const timing: Middleware = async (ctx, next) => {
  const started = performance.now();
  try {
    return await next();
  } finally {
    console.log(`${ctx.method} took ${(performance.now() - started).toFixed(1)} ms`);
  }
};
const onlyAdmins: Middleware = (ctx, next) => {
  if (ctx.method.startsWith('admin.') && ctx.connection.data !== 'admin') throw new RpcError(-32003, 'admins only');
  return next();
};

const methods = {
  // Params checked by any Standard Schema (zod here): invalid ones are answered -32602 with the issues in data.
  add: method({ params: z.tuple([z.number(), z.number()]), handler: ([a, b]) => a + b }),
  'admin.reset': () => 'reset',
  log: (params: { line: string }) => console.log('log:', params.line),
  boom: () => {
    throw new Error('secret internals');
  },
};

// Any pino-style logger (pino, or this one): handler bugs at error, protocol errors at warn, refusals at debug.
const line = (level: string) => (_fields: object, message: string) => console.log(`[${level}] ${message}`);
const logger = { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };

const server = await serve({
  port: 0,
  methods,
  use: [timing, onlyAdmins],
  onError: (error, { method, id, kind }) =>
    console.log(`onError: ${kind} error in ${method} (id ${String(id)}):`, (error as Error).message),
  logger,
  exposeErrors: false, // the client gets "internal error"; onError and the logger see the message
});

const client = connect<typeof methods>(server.url);
console.log(await client.call.add([1, 2])); // 3, typed from the schema and the handler
console.log(await client.request('add', [1, 2], { timeout: 500 })); // the same call
await client.call.add({ a: 1 } as never).catch((error) => console.log(error.code, error.data.issues)); // -32602 [...]
await client.call['admin.reset']().catch((error) => console.log(error.code, error.message)); // -32003 admins only
await client.call.boom().catch((error) => console.log(error.code, error.message)); // -32603 internal error
client.notify('log', { line: 'a notification runs the method of its name' });
await client.close();
await server.close();
