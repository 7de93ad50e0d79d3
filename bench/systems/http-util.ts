/** Small `node:http` and `fetch` helpers shared by the systems that run JSON-RPC over HTTP POST (the HTTP section). */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 with `answer(body, respond)` for every POST; its URL is `http://127.0.0.1:PORT/`. */
export async function listenHttp(
  answer: (body: string, respond: (status: number, text: string) => void) => void,
): Promise<{ server: Server; url: string }> {
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () =>
      answer(Buffer.concat(chunks).toString('utf8'), (status, text) => {
        if (status === 204) response.writeHead(204).end();
        else response.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

export function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** One POST of `body` with fetch (undici, keep-alive), timed out after `timeout` ms; resolves with the answer's text. */
export async function postJson(url: string, body: string, timeout: number): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    signal: AbortSignal.timeout(timeout),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  return response.text();
}
