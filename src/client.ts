/**
 * `connect()`: a client connection over WebSocket, over HTTP POST (`http://`,
 * see http-client.ts) or to the responders of a NATS subject (`nats://`, see
 * nats-client.ts). The returned object is the connection's `Peer`, typed by
 * the server's API. Options are resolved in client-options.ts, shared with the
 * browser build (browser.ts).
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
  if (options?.maxConnections !== undefined && !isHttpUrl(url))
    throw new TypeError('options.maxConnections applies to http:// and https:// URLs only (POSTs in flight at once)');
  const resolved = resolveClientOptions(url, options);
  const { reconnect, handshakeTimeout, maxPayload } = resolved;
  // The Node build runs a client's connection actor on XState (`client.actor`), and offers it to the calls (engine: 'xstate', inspection).
  const common = { ...resolved.common, xstate: XSTATE, connectionEngine: 'xstate' as const };

  // The transport seam: nats:// goes to the responders of a subject, http:// to fetch, anything else is a WebSocket.
  if (isNatsUrl(url)) {
    if (reconnect)
      throw new TypeError(
        'options.reconnect applies to WebSocket URLs only (a nats:// client does not reconnect: when nats-server goes away, its calls fail with ConnectionClosedError)',
      );
    return onXState(connectNats<Api>(url, common, options, handshakeTimeout));
  }
  for (const name of ['subject', 'inboxPrefix'] as const)
    if (options[name] !== undefined) throw new TypeError(`options.${name} applies to nats:// URLs only`);
  if (isHttpUrl(url)) {
    if (options.tls !== undefined)
      throw new TypeError(
        'options.tls applies to wss:// URLs only (fetch takes no certificate options: use NODE_EXTRA_CA_CERTS for https://)',
      );
    return onXState(connectHttp<Api>(url, common, options, maxPayload));
  }
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
