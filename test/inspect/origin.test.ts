/**
 * The inspection page's event stream admits the page's own origin (each
 * spelling of loopback) and tools that send no Origin; another website open in
 * the same browser is refused with HTTP 403.
 */
import { get as httpGet } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startInspectPage, type InspectPage } from '../../src/tools/inspect/server.js';

let page: InspectPage | undefined;

afterEach(async () => {
  await page?.close();
  page = undefined;
});

/** Opens `/events` with the given Origin: the first frame's keys, or the HTTP status of the refusal. */
function openEvents(target: InspectPage, origin?: string): Promise<{ greeting?: string[]; status?: number }> {
  const socket = new WebSocket(`ws://127.0.0.1:${target.port}/events`, origin === undefined ? {} : { origin });
  return new Promise((resolve, reject) => {
    socket.once('message', (data) => {
      resolve({ greeting: Object.keys(JSON.parse(data.toString())) });
      socket.terminate();
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode });
      socket.terminate();
    });
    socket.once('error', reject);
  });
}

describe('the inspection page event stream', () => {
  it('refuses an upgrade from another origin with 403', async () => {
    page = await startInspectPage({ traffic: false });
    expect(await openEvents(page, 'https://evil.example')).toEqual({ status: 403 });
    expect(await openEvents(page, `http://127.0.0.1:${page.port + 1}`)).toEqual({ status: 403 });
    expect(await openEvents(page, 'null')).toEqual({ status: 403 });
  });

  it("admits the page's own origin, in each loopback spelling, and requests without Origin", async () => {
    page = await startInspectPage({ traffic: false });
    for (const origin of [new URL(page.url).origin, `http://localhost:${page.port}`, `http://[::1]:${page.port}`, undefined]) {
      expect(await openEvents(page, origin)).toEqual({ greeting: ['model'] });
    }
  });
});

/** GETs `path` from the page with the given Host header: the status. */
function getWithHost(target: InspectPage, path: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpGet({ host: '127.0.0.1', port: target.port, path, headers: { host } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
  });
}

describe('the inspection page against DNS rebinding', () => {
  // A site whose name resolves to 127.0.0.1 once its page is loaded reads the page's same-origin GETs
  // (a browser sends no Origin on those): only the Host header tells them apart.
  it('refuses a request whose Host is a name other than the one it serves (403), whatever the path', async () => {
    page = await startInspectPage({ traffic: false });
    for (const path of ['/', '/model.json', '/nope']) expect(await getWithHost(page, path, `evil.example:${page.port}`)).toBe(403);
  });

  it('serves each loopback spelling and any IP address given as Host', async () => {
    page = await startInspectPage({ traffic: false });
    for (const host of [`127.0.0.1:${page.port}`, `localhost:${page.port}`, `[::1]:${page.port}`, '10.1.2.3', 'LOCALHOST']) {
      expect(await getWithHost(page, '/model.json', host)).toBe(200);
    }
  });
});
