/**
 * `connect()`: a client connection over WebSocket, over HTTP POST (`http://`,
 * see http-client.ts) or to the responders of a NATS subject (`nats://`, see
 * nats-client.ts). The returned object is the connection's `Peer`, typed by
 * the server's API. Options are resolved in client-options.ts, shared with the
 * browser build (browser.ts); those that have no effect over the URL's transport are refused (transport-options.ts).
 */
import type { Actor } from 'xstate';
import type { connectionMachine } from '../machines/connection.machine.js';
import { resolveClientOptions, type ClientOptions } from './client-options.js';
import { Peer } from './core/peer.js';
import { connectHttp } from './http-client.js';
import { connectNats } from './nats-client.js';
import { XSTATE } from './engine/xstate.js';
import { WsTransport } from './transports/ws.js';
import type { AnyApi, UntypedApi } from './types.js';
import { validateHeaders, validateTls } from './validate.js';
import { isHttpUrl, isNatsUrl, validateUrl } from './urls.js';
import { refuseNoEffectOptions } from './transport-options.js';

export type { ClientOptions } from './client-options.js';

/** A client of the Node build: its connection actor (`client.actor`) is an XState actor, whole. */
export type Client<Api extends AnyApi = UntypedApi> = Peer<Api> & { readonly actor: Actor<typeof connectionMachine> };

/**
 * Opens a connection to a callstate (or any JSON-RPC 2.0 over WebSocket)
 * server; with an `http://` URL, calls it by HTTP POST; with a `nats://` URL
 * and `options.subject`, calls the responders of that subject. Calls made
 * before it opens wait in `queued`.
 *
 * @typeParam Api the server's methods, e.g. `interface Api { add(p: [number, number]): number }`.
 * @typeParam LocalApi the methods this client exposes to the server.
 */
export function connect<Api extends AnyApi = UntypedApi, LocalApi extends AnyApi = UntypedApi>(
  url: string,
  options: ClientOptions<LocalApi, Api> = {},
): Client<Api> {
  if (!isNatsUrl(url) && !isHttpUrl(url)) validateUrl(url);
  // Before their values are checked: an option that does nothing over this transport is refused whatever it holds.
  if (typeof options === 'object' && options !== null) refuseNoEffectOptions(url, options);
  const resolved = resolveClientOptions(url, options);
  const { reconnect, handshakeTimeout, maxPayload } = resolved;
  // The Node build runs a client's connection actor on XState (`client.actor`), and offers it to the calls (engine: 'xstate', inspection).
  const common = { ...resolved.common, xstate: XSTATE, connectionEngine: 'xstate' as const };

  // The transport seam: nats:// goes to the responders of a subject, http:// to fetch, anything else is a WebSocket.
  if (isNatsUrl(url)) return onXState(connectNats<Api>(url, common, options, handshakeTimeout));
  if (isHttpUrl(url)) return onXState(connectHttp<Api>(url, common, options, maxPayload));
  const socketOptions = {
    maxPayload,
    headers: validateHeaders(options.headers, 'options.headers'),
    handshakeTimeout,
    closeTimeout: common.closeTimeout,
    tls: validateTls(options.tls, 'options.tls'),
  };
  return onXState(
    new Peer<Api>({ ...common, openTransport: () => WsTransport.connect(url, socketOptions), reconnect, alreadyOpen: false }),
  );
}

/** A client made with `connectionEngine: 'xstate'` (as every client of this build is): its `actor` is XState's own. */
function onXState<Api extends AnyApi>(client: Peer<Api>): Client<Api> {
  return client as unknown as Client<Api>;
}
