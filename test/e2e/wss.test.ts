/**
 * `wss://` end to end: a self-signed certificate made for 127.0.0.1 by openssl in the test, the app's
 * `https.Server` with `serve({ server })`, and `connect('wss://…', { tls: { ca } })` trusting it.
 */
import { once } from 'node:events';
import { createServer, get as httpsGet, type Server as HttpsServer } from 'node:https';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, serve, ConnectionClosedError, type Client, type Server } from '../../src/index.js';
import { settle } from '../helpers.js';
import { selfSignedCert } from '../tls-cert.js';

let cert = '';
let key = '';
let app: HttpsServer | undefined;
let server: Server | undefined;
let client: Client | undefined;

beforeAll(() => {
  ({ cert, key } = selfSignedCert());
});

afterEach(async () => {
  await client?.close();
  await server?.close();
  if (app?.listening) await new Promise((resolve) => app!.close(resolve));
  app = server = client = undefined;
});

async function httpsApp(): Promise<HttpsServer> {
  const made = createServer({ cert, key }, (_request, response) => response.end('app over TLS'));
  made.listen(0, '127.0.0.1');
  await once(made, 'listening');
  return made;
}

describe('wss://', () => {
  it('serves calls over TLS on an https.Server, to a client that trusts its certificate', async () => {
    app = await httpsApp();
    server = await serve({
      server: app,
      path: '/rpc',
      authenticate: (request) => ({ data: { encrypted: (request.headers['x-check'] ?? '') === 'yes' } }),
      methods: { whoami: (_p: unknown, ctx) => ctx.connection.data },
    });
    const { port } = app.address() as { port: number };
    expect(server.url).toBe(`wss://127.0.0.1:${port}/rpc`);
    client = connect(server.url, { tls: { ca: cert }, headers: { 'X-Check': 'yes' } });
    expect(await client.request('whoami')).toEqual({ encrypted: true });
    // The app's own HTTPS routes are untouched.
    const body = await new Promise<string>((resolve, reject) => {
      httpsGet(`https://127.0.0.1:${port}/`, { ca: cert }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve(text));
      }).on('error', reject);
    });
    expect(body).toBe('app over TLS');
  });

  it('fails to connect when the certificate is not trusted', async () => {
    app = await httpsApp();
    server = await serve({ server: app, methods: {} });
    client = connect(server.url);
    const { error } = await settle(client.ready);
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toMatch(/self-signed certificate/);
  });

  it('refuses a tls option it does not pass on', () => {
    expect(() => connect('wss://127.0.0.1:1', { tls: { ciphers: 'x' } as never })).toThrow(
      new TypeError('options.tls.ciphers is not a TLS option callstate passes on (ca, cert, key, rejectUnauthorized, servername)'),
    );
    expect(() => connect('wss://127.0.0.1:1', { tls: { ca: 42 } as never })).toThrow(
      new TypeError('options.tls.ca must be a PEM string or Buffer, or an array of them'),
    );
    expect(() => connect('nats://127.0.0.1:1', { subject: 's', tls: { ca: 'x' } })).toThrow(
      new TypeError('options.tls applies to wss:// URLs only'),
    );
  });
});
