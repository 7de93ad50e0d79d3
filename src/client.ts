/**
 * `connect()`: a client connection over WebSocket, or to the responders of a
 * NATS subject (`nats://`, see nats-client.ts). The returned object is the
 * connection's `Peer`, typed by the server's API. Options are resolved in
 * client-options.ts, shared with the browser build (browser.ts).
 */
import { resolveClientOptions, type ClientOptions } from './client-options.js';
import { Peer } from './core/peer.js';
import { connectNats } from './nats-client.js';
import { WsTransport } from './transports/ws.js';
import type { AnyApi, UntypedApi } from './types.js';
import { isNatsUrl, validateHeaders, validateUrl } from './validate.js';

export type { ClientOptions } from './client-options.js';

export type Client<Api extends AnyApi = UntypedApi> = Peer<Api>;

/**
 * Opens a connection to a callstate (or any JSON-RPC 2.0 over WebSocket)
 * server, or with a `nats://` URL and `options.subject`, to the responders of
 * that subject. Calls made before it opens wait in `queued`.
 *
 * @typeParam Api the server's methods, e.g. `interface Api { add(p: [number, number]): number }`.
 * @typeParam LocalApi the methods this client exposes to the server.
 */
export function connect<Api extends AnyApi = UntypedApi, LocalApi extends AnyApi = UntypedApi>(
  url: string,
  options: ClientOptions<LocalApi> = {},
): Client<Api> {
  if (!isNatsUrl(url)) validateUrl(url);
  const { common, reconnect, handshakeTimeout, maxPayload } = resolveClientOptions(url, options);

  // The transport seam: nats:// goes to the responders of a subject, anything else is a WebSocket.
  if (isNatsUrl(url)) {
    if (reconnect)
      throw new TypeError('options.reconnect applies to WebSocket URLs only (the NATS client reconnects to nats-server itself)');
    return connectNats<Api>(common, options, handshakeTimeout);
  }
  if (options.subject !== undefined) throw new TypeError('options.subject applies to nats:// URLs only');
  const socketOptions = { maxPayload, headers: validateHeaders(options.headers, 'options.headers'), handshakeTimeout };
  return new Peer<Api>({ ...common, openTransport: () => WsTransport.connect(url, socketOptions), reconnect, alreadyOpen: false });
}
