/**
 * The page server against requests no browser sends: a request-target no URL
 * parser takes is answered 400, never thrown out of the request handler (in
 * `createInspector`, that handler runs in the application's own process).
 */
import { connect as connectTcp } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startPageServer, type PageServer } from '../../src/tools/inspect/hub.js';

let page: PageServer | undefined;
afterEach(async () => {
  await page?.close();
  page = undefined;
});

/** Sends `text` as is and resolves with the status line of the answer ('' when the connection closed without one). */
function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp(port, '127.0.0.1');
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('end', () => resolve(answer.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
    socket.end(text);
  });
}

describe('the page server against malformed requests', () => {
  it('answers 400 to a request-target that is not a URL, and goes on serving', async () => {
    page = await startPageServer();
    for (const target of ['http://[', 'http://a:99999/', '//[::1']) {
      expect(await rawRequest(page.port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).toBe(
        'HTTP/1.1 400 Bad Request',
      );
    }
    expect((await fetch(new URL('/model.json', page.url))).status).toBe(200);
  });
});
