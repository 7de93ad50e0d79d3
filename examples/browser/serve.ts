/**
 * A page in your browser calling a callstate server: starts the server, bundles
 * the browser build of the client (esbuild, as any bundler would through the
 * `browser` export condition) and serves the page that uses it.
 * Run: npx tsx examples/browser/serve.ts   then open the printed URL.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleForBrowser } from '../../scripts/browser-bundle.js';
import { serve, type Server } from '../../src/index.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The browser build of `connect()` bundled for a page (minified ESM), and the files it was made of. */
export async function bundleBrowserClient(): Promise<{ code: string; inputs: string[] }> {
  const { code, inputs } = await bundleForBrowser("export * from './src/browser.ts';", fileURLToPath(new URL('../..', import.meta.url)));
  return { code: new TextDecoder().decode(code), inputs: Object.keys(inputs) };
}

/** Serves `files` (path → [content type, body, Cache-Control: 'no-store' unless given]) on 127.0.0.1, port 0 unless given. */
export async function servePage(files: Record<string, [string, string, string?]>, port = 0): Promise<{ url: string; http: HttpServer }> {
  const http = createServer((request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://x').pathname];
    if (!file) return void response.writeHead(404).end();
    response.writeHead(200, { 'Content-Type': file[0], 'Cache-Control': file[2] ?? 'no-store' }).end(file[1]);
  });
  await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`, http };
}

/** The example: a server with two methods, and the page at `url` that calls it. */
export async function startExample(pagePort = 0): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = await serve({
    port: 0,
    host: '127.0.0.1',
    methods: {
      add: ([a, b]: [number, number]) => a + b,
      // The server calls the page back: the page offers `whoami` in its `methods`.
      greet: async (_params: unknown, ctx) => `hello, ${String(await ctx.peer.request('whoami'))}`,
    },
  });
  const { code } = await bundleBrowserClient();
  const { url, http } = await servePage(
    {
      '/': ['text/html; charset=utf-8', await readFile(`${here}index.html`, 'utf8')],
      '/callstate.js': ['text/javascript', code],
      '/config.js': ['text/javascript', `export const serverUrl = ${JSON.stringify(server.url)};`],
    },
    pagePort,
  );
  const close = async () => {
    await new Promise((resolve) => (http.close(resolve), http.closeAllConnections()));
    await server.close();
  };
  return { url, server, close };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { url, server } = await startExample(Number(process.env.PORT ?? 8080));
  console.log(`callstate server on ${server.url}\nopen ${url} in your browser (Ctrl-C to stop)`);
}
