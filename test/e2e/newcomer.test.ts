/**
 * What a developer new to callstate meets first, over real sockets: the answers the endpoint gives to
 * someone trying it by hand (a browser, curl), which must say what the endpoint takes.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { serve, type Server } from '../../src/index.js';
import { closeAfterEach } from '../helpers.js';

let server: Server | undefined;
let app: HttpServer | undefined;
closeAfterEach(() => [server, app && { close: () => new Promise<void>((resolve) => app!.close(() => resolve())) }]);

const GET_REASON =
  'Upgrade Required: this path takes WebSocket upgrades (ws://) and JSON-RPC 2.0 requests by POST with Content-Type: application/json';

describe('an endpoint opened by hand', () => {
  it('answers a GET 426 saying that the path takes WebSocket upgrades and JSON-RPC POSTs, not a bare "Upgrade Required"', async () => {
    server = await serve({ path: '/rpc', methods: { add: ([a, b]: [number, number]) => a + b } });
    const get = await fetch(server.httpUrl);
    expect(get.status).toBe(426);
    expect(get.headers.get('upgrade')).toBe('websocket');
    expect(await get.text()).toBe(GET_REASON);
    // What it says to do works.
    const post = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{"jsonrpc":"2.0","id":1,"method":"add","params":[2,3]}',
    });
    expect(await post.json()).toEqual({ jsonrpc: '2.0', id: 1, result: 5 });
  });

  it("says the same on an app's server it is attached to, where the app's other paths stay the app's", async () => {
    app = createServer((_request, response) => response.end('app'));
    server = await serve({ server: app, path: '/rpc', methods: {} });
    await new Promise<void>((resolve) => app!.listen(0, '127.0.0.1', resolve));
    const { port } = app.address() as AddressInfo;
    const get = await fetch(`http://127.0.0.1:${port}/rpc`);
    expect(get.status).toBe(426);
    expect(await get.text()).toBe(GET_REASON);
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe('app');
  });
});
