/**
 * Which options of `connect()` apply over which transport: one table, read by `connect()` before anything else is
 * validated. An option given (not undefined) where it has no effect is refused with a TypeError that names it and
 * says why, as `serve()` refuses an option of the other kind of server (server.ts): taken silently, it would look
 * like it held (a heartbeat watching an HTTP client, limits on calls no server can make). Node only: the browser
 * build connects to ws:// and wss:// alone, and refuses what it cannot carry itself (browser.ts).
 */
import type { ClientOptions } from './client-options.js';
import { isHttpUrl, isNatsUrl } from './urls.js';
import { refuseOptions } from './validate.js';

/** A transport of `connect()`, by its URL's scheme: ws://, wss://, http:// and https://, nats://. */
type Carrier = 'ws' | 'wss' | 'http' | 'nats';

type Refusals = Partial<Record<keyof ClientOptions, string>>;

const TLS = 'applies to wss:// URLs only';
/** What only a NATS client takes, refused over every other transport. */
const NATS_ONLY: Refusals = { subject: 'applies to nats:// URLs only', inboxPrefix: 'applies to nats:// URLs only' };
const HTTP_ONLY = 'applies to http:// and https:// URLs only (POSTs in flight at once)';

/** The options of `connect()` that bound calls from the server, which neither an HTTP nor a NATS client takes. */
const SERVER_CALL_LIMITS = ['handlerTimeout', 'maxBatch', 'maxDepth', 'maxInFlightPerConnection', 'maxInFlightBytesPerConnection'] as const;

/** `why` for each of the limits on calls from the server. */
const limitsOnCalls = (why: string): Refusals => Object.fromEntries(SERVER_CALL_LIMITS.map((name) => [name, why]));

/**
 * Per transport, the options of `connect()` that have no effect over it, and why (the TypeError's message after
 * `options.<name> `). Every option not listed applies over every transport.
 */
const WSS: Refusals = { ...NATS_ONLY, maxConnections: HTTP_ONLY };
const NO_EFFECT: Record<Carrier, Refusals> = {
  wss: WSS,
  ws: { ...WSS, tls: `${TLS} (a ws:// connection has no TLS)` },
  http: {
    ...NATS_ONLY,
    tls: `${TLS} (fetch takes no certificate options: use NODE_EXTRA_CA_CERTS for https://)`,
    methods: 'applies to ws:// and wss:// URLs only: a server cannot call an HTTP client',
    reconnect: 'applies to ws:// and wss:// URLs only: over HTTP each call is its own request',
    heartbeat:
      'has no effect over HTTP: nothing stays open between calls for it to watch (each call is its own POST, bounded by its timeout)',
    handshakeTimeout: 'has no effect over HTTP: there is no connection to open (each call is its own POST, bounded by its timeout)',
    ...limitsOnCalls('has no effect over HTTP: it bounds calls from the server, and a server cannot call an HTTP client'),
  },
  nats: {
    tls: TLS,
    maxPayload: 'applies to WebSocket and HTTP URLs only (nats-server sets max_payload)',
    maxConnections: HTTP_ONLY,
    reconnect:
      'applies to WebSocket URLs only (a nats:// client does not reconnect: when nats-server goes away, its calls fail with ConnectionClosedError)',
    methods: 'has no effect over NATS: a responder cannot call a client (a request published to its inbox runs nothing)',
    ...limitsOnCalls('has no effect over NATS: it bounds calls from the server, and a responder cannot call a client'),
  },
};

/**
 * Values that turn an option off, asking for what every transport without it does already: taken over every transport,
 * so that options shared by code that connects to any URL may say so (`reconnect: false`, `heartbeat: 0`, no methods).
 */
const isOff: Partial<Record<keyof ClientOptions, (value: unknown) => boolean>> = {
  reconnect: (value) => value === false,
  heartbeat: (value) => value === 0,
  methods: (value) => typeof value === 'object' && value !== null && Object.keys(value).length === 0,
};

/**
 * Whether a WebSocket URL is wss://, as the transport reads it: URL parsing drops leading spaces and control characters
 * and any tab or newline (' wss://host' connects with TLS), which a test of the text's start would miss.
 */
function isWss(url: string): boolean {
  try {
    return new URL(url).protocol === 'wss:';
  } catch {
    return false;
  }
}

/** Throws a TypeError for the first option of `options` that has no effect over `url`'s transport (and is not off). */
export function refuseNoEffectOptions(url: string, options: object): void {
  const refusals = NO_EFFECT[isNatsUrl(url) ? 'nats' : isHttpUrl(url) ? 'http' : isWss(url) ? 'wss' : 'ws'];
  refuseOptions(
    options,
    Object.keys(refusals),
    (name) => refusals[name as keyof ClientOptions]!,
    (name, value) => isOff[name as keyof ClientOptions]?.(value) === true,
  );
}
