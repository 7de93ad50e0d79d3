/**
 * Review of session 25's attach changes, as an app drives them: `serve({ server, path })` on an app's
 * `http.Server` whose 'checkContinue' listeners change while callstate is attached. Real sockets on 127.0.0.1.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, TimeoutError, type Server } from '../../src/index.js';
import { abortWatcher, rawHttp, settle, until } from '../helpers.js';

const closes: Array<() => Promise<unknown>> = [];

afterEach(async () => {
  for (const close of closes.splice(0).reverse()) await close();
});

/** callstate attached to `app` on /rpc, then `app` listening on 127.0.0.1 (both closed after the test); its port. */
async function attachAndListen(app: HttpServer): Promise<number> {
  const rpc: Server = await serve({ server: app, path: '/rpc', methods: { echo: (p: unknown) => p } });
  closes.push(() => rpc.close());
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  closes.push(() => new Promise((resolve) => (app.closeAllConnections(), app.close(resolve))));
  return (app.address() as { port: number }).port;
}

/** A JSON-RPC POST to `path` with `Expect: <expect>`, its body sent at once (closes after the answer). */
function postExpecting100(path: string, expect = '100-continue'): string {
  const body = '{"jsonrpc":"2.0","id":1,"method":"echo","params":[1]}';
  const head = [`POST ${path} HTTP/1.1`, 'Host: x', 'Content-Type: application/json', `Expect: ${expect}`];
  return [...head, `Content-Length: ${body.length}`, 'Connection: close', '', body].join('\r\n');
}

describe("serve({ server }) and a 'checkContinue' listener the app adds while attached", () => {
  it("leaves a request on the app's path to that listener alone, as Node would (no 100, no 'request' as well)", async () => {
    const requests: string[] = [];
    const app = createServer((request, response) => {
      requests.push(request.url!);
      response.end('app');
    });
    const port = await attachAndListen(app);
    const thrown: unknown[] = [];
    // Added after callstate attached: the server calls it itself, next to callstate's own listener.
    app.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => {
      try {
        response.writeHead(417).end(`refused ${request.url}`);
      } catch (error) {
        thrown.push(error);
      }
    });
    // Callstate's listener took the request for one on an app with no checkContinue listener: it wrote 100 and
    // answered through the app's request listener, then the app's own listener wrote over the answer
    // (ERR_HTTP_HEADERS_SENT, thrown in the app's listener).
    const answer = await rawHttp(port, postExpecting100('/other'));
    expect(answer).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n[^]*\r\n\r\ne\r\nrefused \/other\r\n0\r\n\r\n$/);
    expect(thrown).toEqual([]);
    expect(requests).toEqual([]);
  });
});

describe('serve({ server }) and an Expect that Node reads as 100-continue', () => {
  it('tells the client to send its body whenever Node took the request for one that waits to be told', async () => {
    const app = createServer((_request, response) => void response.end('app'));
    const port = await attachAndListen(app);
    // Node dispatches on /(?:^|\W)100-continue(?:$|\W)/i: this comes to callstate's 'checkContinue' listener, which
    // sent no 100 (it took only the exact value): a client that waits for it, as it may, waited until upgradeTimeout.
    // Before attach took 'checkContinue', Node had sent the 100 itself.
    const answer = await rawHttp(port, postExpecting100('/rpc', '100-continue, x-trace'));
    expect(answer).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n\{"jsonrpc":"2\.0","id":1,"result":\[1\]\}$/);
  });
});

describe('a retry call that timed out waiting to be sent again', () => {
  it('says it was sent on a connection since lost, not that it was never sent: the server may have run it', async () => {
    const clock = new SimulatedClock();
    const { handler, entered, aborted } = abortWatcher();
    const server = await serve({ methods: { charge: handler } });
    closes.push(() => server.close());
    const client = connect(server.url, { reconnect: true, timeout: 1_000, clock });
    closes.push(() => client.close());
    await client.ready;
    const reconnecting: number[] = [];
    client.on('reconnecting', ({ attempt }) => reconnecting.push(attempt));
    const call = settle(client.request('charge', [5], { retry: true }));
    // The server has it, and runs it, when its connection goes.
    await entered;
    await server.close();
    expect(await aborted).toBe(true);
    await until(() => reconnecting.length > 0, 'the loss seen');
    clock.increment(1_000);
    const { error } = await call;
    expect(error).toBeInstanceOf(TimeoutError);
    // It said "it was not sent, still waiting in queued": a caller would take it that the server never had it.
    expect(error.message).toMatch(
      /^call "charge" \(id \S+\) got no response within 1000 ms: it was sent on a connection since lost \(the server may have run it\) and not sent again, still waiting in queued \(the connection was lost and not yet open again\)$/,
    );
  });
});
