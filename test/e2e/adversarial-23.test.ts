/**
 * Adversarial review 23 of the session's changes, end to end: `connect()`'s refusal of options that have no effect over
 * the URL's transport reads the scheme as the socket does (a wss:// URL the URL parser takes, with leading spaces or a
 * tab in its scheme, is still wss://, and takes `tls`).
 */
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, serve } from '../../src/index.js';
import { selfSignedCert } from '../tls-cert.js';

const { cert, key } = selfSignedCert();
/** What each test opened, closed after it: the client first, then the server, then the https.Server under it. */
const opened: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

/** An https.Server on 127.0.0.1 with `serve()` on its path /rpc, answering ping; its port. */
async function wssServer(): Promise<number> {
  const app = createServer({ cert, key });
  app.listen(0, '127.0.0.1');
  await once(app, 'listening');
  opened.push(() => new Promise((resolve) => app.close(resolve)));
  const server = await serve({ server: app, path: '/rpc', methods: { ping: () => 'pong' } });
  opened.push(() => server.close());
  return (app.address() as AddressInfo).port;
}

describe('connect() reads a wss:// URL as the socket does when it refuses options', () => {
  it.each([
    ['leading spaces', (port: number) => `  wss://127.0.0.1:${port}/rpc`],
    ['a tab in its scheme', (port: number) => `w\tss://127.0.0.1:${port}/rpc`],
    ['an upper-case scheme', (port: number) => `WSS://127.0.0.1:${port}/rpc`],
  ])('takes tls for a wss:// URL with %s, and calls over TLS with it', async (_what, url) => {
    const client = connect(url(await wssServer()), { tls: { ca: cert } });
    opened.push(() => client.close());
    expect(await client.request('ping')).toBe('pong');
  });

  it('still refuses tls for a ws:// URL with leading spaces', () => {
    expect(() => connect('  ws://127.0.0.1:9999/rpc', { tls: { ca: cert } })).toThrow(
      new TypeError('options.tls applies to wss:// URLs only (a ws:// connection has no TLS)'),
    );
  });
});
