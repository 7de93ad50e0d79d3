/**
 * The browser build of callstate, chosen by the `browser` export condition:
 * `connect()` over the global `WebSocket`, with the same client API, options,
 * errors and types as in Node, and no Node built-ins (no `ws`, no server, no NATS).
 *
 * Options a browser cannot honour are refused with a TypeError: `headers` (a
 * browser sets the upgrade's headers itself), `subject` (NATS) and `tls` (a page
 * cannot choose the CAs, a client certificate or to skip verification).
 * `heartbeat` is kept, but sent as an application-level request instead of ping
 * frames, and `maxPayload` is checked once a frame has arrived, as a browser
 * cannot refuse it at its header: see transports/browser-ws.ts. The page's
 * `offline` event drops the socket (unless to a loopback host), and its `online`
 * event ends a reconnecting client's backoff wait.
 */
import { resolveClientOptions, type ClientOptions } from './client-options.js';
import { Peer } from './core/peer.js';
import { BrowserWsTransport, globalWebSocket, watchOnline } from './transports/browser-ws.js';
import type { AnyApi, UntypedApi } from './types.js';
import { isNatsUrl, validateUrl } from './urls.js';
import { refuseOptions } from './validate.js';

export type { ClientOptions } from './client-options.js';
export type Client<Api extends AnyApi = UntypedApi> = Peer<Api>;

/** Options of the Node client that a browser cannot honour, and why. */
const REFUSED: Partial<Record<keyof ClientOptions, string>> = {
  headers: 'a browser sets the headers of the upgrade request itself',
  subject: 'NATS needs the Node build',
  inboxPrefix: 'NATS needs the Node build',
  tls: 'a browser verifies TLS with its own trust store and certificates',
  maxConnections: 'HTTP URLs need the Node build',
};

/**
 * Opens a connection to a callstate (or any JSON-RPC 2.0 over WebSocket)
 * server through the browser's `WebSocket`. Calls made before it opens wait in `queued`.
 *
 * @typeParam Api the server's methods.
 * @typeParam LocalApi the methods this client exposes to the server.
 */
export function connect<Api extends AnyApi = UntypedApi, LocalApi extends AnyApi = UntypedApi>(
  url: string,
  options: ClientOptions<LocalApi, Api> = {},
): Client<Api> {
  if (isNatsUrl(url))
    throw new TypeError('nats:// URLs need the Node build of callstate: the browser build connects to ws:// and wss:// URLs');
  // validateUrl's message lists every scheme the Node build takes: say why these two are not taken here. By scheme
  // alone: the Node build's checks of an HTTP URL (and their messages) have no use in this bundle.
  if (typeof url === 'string' && /^https?:\/\//i.test(url))
    throw new TypeError(
      'http:// and https:// URLs need the Node build of callstate (JSON-RPC over HTTP POST): the browser build connects to ws:// and wss:// URLs',
    );
  validateUrl(url);
  // Before the options are validated: a value the Node build would refuse (maxPayload: 0) is still not supported here.
  refuseOptions(
    options ?? {},
    Object.keys(REFUSED),
    (name) => `is not supported in the browser build: ${REFUSED[name as keyof ClientOptions]!}`,
  );
  const { common, reconnect, handshakeTimeout, maxPayload } = resolveClientOptions(url, options);
  if (options.engine === 'xstate')
    throw new TypeError(
      "options.engine 'xstate' is not supported in the browser build: it bundles no XState (the light engine runs every actor)",
    );
  if (!globalWebSocket()) throw new TypeError('the browser build of callstate needs a global WebSocket');
  return new Peer<Api>({
    ...common,
    openTransport: () => BrowserWsTransport.connect(url, { handshakeTimeout, maxPayload }),
    reconnect,
    watchNetwork: watchOnline,
    alreadyOpen: false,
    xstate: undefined,
    connectionEngine: 'light',
  });
}

export * from './client-exports.js';
