/**
 * connect() refuses, per transport, the options that have no effect over it (docs/options.md, docs/http.md,
 * docs/nats.md), with a TypeError that names the option and says why; an option set to undefined is not given, and
 * the values that turn an option off (`heartbeat: 0`, `reconnect: false`, `methods: {}`) are taken everywhere. Nothing here opens a connection: a refusal is synchronous, and the clients that are accepted (their
 * URLs on ports nothing listens on) are closed at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, type Client, type ClientOptions } from '../src/index.js';

const WS = 'ws://127.0.0.1:1';
const WSS = 'wss://127.0.0.1:1';
const HTTP = 'http://127.0.0.1:2/';
const HTTPS = 'https://127.0.0.1:2/';
const NATS = 'nats://127.0.0.1:1';
/** What a URL needs besides the option under test (a NATS client needs its subject). */
const base = (url: string): ClientOptions => (url.startsWith('nats') ? { subject: 'connect.options.23' } : {});

const made: Client[] = [];
afterEach(async () => {
  await Promise.all(made.splice(0).map((client) => client.close().catch(() => {})));
});
const accepted = (url: string, options: ClientOptions) => void made.push(connect(url, { ...base(url), ...options }));
const refusal = (url: string, options: ClientOptions) => () => made.push(connect(url, { ...base(url), ...options }));

/** The limits on calls from the server, each with a value it would otherwise take. */
const serverCallLimits: ClientOptions = {
  handlerTimeout: 1_000,
  maxBatch: 10,
  maxDepth: 8,
  maxInFlightPerConnection: 4,
  maxInFlightBytesPerConnection: 1_024,
};

describe('connect() over HTTP refuses the options that have no effect there', () => {
  it.each([HTTP, HTTPS])('%s: heartbeat (but 0, off), saying nothing stays open', (url) => {
    for (const heartbeat of [30_000, 1]) {
      expect(refusal(url, { heartbeat })).toThrow(
        new TypeError(
          'options.heartbeat has no effect over HTTP: nothing stays open between calls for it to watch (each call is its own POST, bounded by its timeout)',
        ),
      );
    }
  });

  it.each([HTTP, HTTPS])('%s: handshakeTimeout, saying there is nothing to open', (url) => {
    expect(refusal(url, { handshakeTimeout: 5_000 })).toThrow(
      new TypeError(
        'options.handshakeTimeout has no effect over HTTP: there is no connection to open (each call is its own POST, bounded by its timeout)',
      ),
    );
  });

  it.each(Object.entries(serverCallLimits))('%s (a limit on calls from the server)', (name, value) => {
    expect(refusal(HTTP, { [name]: value })).toThrow(
      new TypeError(`options.${name} has no effect over HTTP: it bounds calls from the server, and a server cannot call an HTTP client`),
    );
  });

  it('methods and reconnect, and takes their off values: no methods ({}), reconnect: false, heartbeat: 0', () => {
    expect(refusal(HTTP, { methods: { ping: () => 'pong' } })).toThrow(
      new TypeError('options.methods applies to ws:// and wss:// URLs only: a server cannot call an HTTP client'),
    );
    expect(refusal(HTTP, { reconnect: true })).toThrow(
      new TypeError('options.reconnect applies to ws:// and wss:// URLs only: over HTTP each call is its own request'),
    );
    // What an HTTP client does anyway: options shared by code that connects to any URL may say so.
    for (const url of [HTTP, HTTPS]) accepted(url, { methods: {}, reconnect: false, heartbeat: 0 });
    expect(made).toHaveLength(2);
  });

  it('refuses before checking the value: a bad value of a refused option is refused as having no effect', () => {
    expect(refusal(HTTP, { heartbeat: -1 })).toThrow(/^options\.heartbeat has no effect over HTTP/);
  });
});

describe('connect() over NATS refuses the options that have no effect there', () => {
  it('methods, saying a responder cannot call a client', () => {
    expect(refusal(NATS, { methods: { ping: () => 'pong' } })).toThrow(
      new TypeError(
        'options.methods has no effect over NATS: a responder cannot call a client (a request published to its inbox runs nothing)',
      ),
    );
  });

  it.each(Object.entries(serverCallLimits))('%s (a limit on calls from the server)', (name, value) => {
    expect(refusal(NATS, { [name]: value })).toThrow(
      new TypeError(`options.${name} has no effect over NATS: it bounds calls from the server, and a responder cannot call a client`),
    );
  });

  it('maxPayload (nats-server sets max_payload), tls, maxConnections and reconnect, as before', () => {
    expect(refusal(NATS, { maxPayload: 1_024 })).toThrow(
      new TypeError('options.maxPayload applies to WebSocket and HTTP URLs only (nats-server sets max_payload)'),
    );
    expect(refusal(NATS, { tls: {} })).toThrow(new TypeError('options.tls applies to wss:// URLs only'));
    expect(refusal(NATS, { maxConnections: 2 })).toThrow(/^options\.maxConnections applies to http:\/\/ and https:\/\/ URLs only/);
    expect(refusal(NATS, { reconnect: { maxAttempts: 3 } })).toThrow(/^options\.reconnect applies to WebSocket URLs only/);
  });

  it('takes the off values of methods and reconnect', () => {
    accepted(NATS, { methods: {}, reconnect: false });
    expect(made).toHaveLength(1);
  });
});

describe('connect() over WebSocket refuses the options of other transports', () => {
  it('tls over ws:// (no TLS there), not over wss://', () => {
    expect(refusal(WS, { tls: {} })).toThrow(new TypeError('options.tls applies to wss:// URLs only (a ws:// connection has no TLS)'));
    accepted(WSS, { tls: {} });
  });

  it.each([WS, WSS])('%s: subject, inboxPrefix and maxConnections', (url) => {
    expect(refusal(url, { subject: 's' })).toThrow(new TypeError('options.subject applies to nats:// URLs only'));
    expect(refusal(url, { inboxPrefix: 'p' })).toThrow(new TypeError('options.inboxPrefix applies to nats:// URLs only'));
    expect(refusal(url, { maxConnections: 2 })).toThrow(
      new TypeError('options.maxConnections applies to http:// and https:// URLs only (POSTs in flight at once)'),
    );
  });
});

describe('connect() takes what applies, and an option set to undefined as not given', () => {
  it.each([WS, WSS, HTTP, HTTPS, NATS])('%s: every option set to undefined is accepted', (url) => {
    const allUndefined = Object.fromEntries(
      [
        'heartbeat',
        'handshakeTimeout',
        'methods',
        'reconnect',
        'tls',
        'maxPayload',
        'maxConnections',
        'inboxPrefix',
        ...Object.keys(serverCallLimits),
      ].map((name) => [name, undefined]),
    );
    accepted(url, allUndefined);
    expect(made).toHaveLength(1);
  });

  it('heartbeat and handshakeTimeout over WebSocket and NATS; server-call limits and methods over WebSocket', () => {
    for (const url of [WS, NATS]) accepted(url, { heartbeat: 5_000, handshakeTimeout: 5_000 });
    accepted(WS, { ...serverCallLimits, methods: { ping: () => 'pong' } });
    expect(made).toHaveLength(3);
  });
});
