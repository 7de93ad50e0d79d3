/**
 * The listener's seam for plain (non-upgrade) requests on its path, which the HTTP endpoint plugs
 * into: in each mode a POST on `path` reaches `onRequest`, and everything else goes where it went
 * before (the app's own listeners when attached, 404 on the own listener).
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionSlots } from '../../src/transports/connection-slots.js';
import { listenWs, type WsListener } from '../../src/transports/ws-listener.js';

let listener: WsListener | undefined;
let app: HttpServer | undefined;

afterEach(async () => {
  await listener?.close(100);
  if (app?.listening) await new Promise((resolve) => app!.close(resolve));
  listener = app = undefined;
});

const onRequest = (request: IncomingMessage, response: ServerResponse) => response.end(`callstate ${request.method} ${request.url}`);
const base = { path: '/rpc', maxPayload: 1_000, upgradeTimeout: 1_000, slots: new ConnectionSlots(100), closeTimeout: 1_000, onRequest };

async function post(port: number, path: string): Promise<[number, string]> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: '{}' });
  return [response.status, await response.text()];
}

describe('plain requests on the listener path', () => {
  it('reach onRequest on the own listener; other paths get 404', async () => {
    listener = await listenWs({ ...base, mode: { kind: 'own', port: 0, host: '127.0.0.1' } });
    expect(await post(listener.port, '/rpc?x=1')).toEqual([200, 'callstate POST /rpc?x=1']);
    expect((await post(listener.port, '/other'))[0]).toBe(404);
  });

  it('reach onRequest on an attached server, whose own request listeners get everything else, and are given back on close', async () => {
    const appListener = (_request: IncomingMessage, response: ServerResponse) => response.end('app');
    app = createServer(appListener);
    listener = await listenWs({ ...base, mode: { kind: 'attached', server: app } });
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    const { port } = app.address() as { port: number };
    expect(await post(port, '/rpc')).toEqual([200, 'callstate POST /rpc']);
    expect(await post(port, '/other')).toEqual([200, 'app']);
    await listener.close(100);
    listener = undefined;
    expect(app.listeners('request')).toEqual([appListener]);
    expect(await post(port, '/rpc')).toEqual([200, 'app']);
  });

  it('reach onRequest through handleRequest without a server', async () => {
    const noServer = await listenWs({ ...base, path: undefined, mode: { kind: 'noServer' } });
    listener = noServer;
    app = createServer((request, response) => noServer.handleRequest(request, response));
    app.listen(0, '127.0.0.1');
    await once(app, 'listening');
    expect(await post((app.address() as { port: number }).port, '/anywhere')).toEqual([200, 'callstate POST /anywhere']);
  });
});
