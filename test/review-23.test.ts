/**
 * Review of session 23's change: what it got wrong, each with the test that shows it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Client } from '../src/index.js';

const made: Client[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((client) => client.close().catch(() => {})));
});

describe('connect() tells wss:// from ws:// as the WebSocket transport does', () => {
  // URL parsing (the transport's, and validateUrl's) drops leading spaces and control characters and any tab or
  // newline: each of these is a wss:// URL, which takes `tls`.
  it.each([' wss://127.0.0.1:1', '\twss://127.0.0.1:1', '\nwss://127.0.0.1:1', 'w\nss://127.0.0.1:1', 'WSS://127.0.0.1:1'])(
    'takes tls for %j',
    (url) => {
      expect(() => made.push(connect(url, { tls: { rejectUnauthorized: false } }))).not.toThrow();
    },
  );

  it('still refuses tls for a ws:// URL written the same ways', () => {
    for (const url of [' ws://127.0.0.1:1', 'w\ns://127.0.0.1:1'])
      expect(() => made.push(connect(url, { tls: { rejectUnauthorized: false } }))).toThrow(
        new TypeError('options.tls applies to wss:// URLs only (a ws:// connection has no TLS)'),
      );
  });
});
