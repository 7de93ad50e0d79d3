/**
 * `connect('http://…' | 'https://…')`: a client whose calls are HTTP POSTs to
 * a JSON-RPC endpoint (a callstate server's `httpUrl`, or any JSON-RPC 2.0 over
 * HTTP server). The same `Peer` (connection actor, a call actor per call,
 * timeouts, cancellation by AbortSignal, typed errors) over the HTTP transport.
 *
 * What HTTP cannot carry: the server cannot call or notify the client (there is
 * no channel back outside an answer), so client `methods`, `reconnect` and the other options that would do nothing
 * here are refused with a `TypeError` (transport-options.ts), and `on('notification')` (and `once`) throw `NotSupportedError`.
 * A call whose POST fails (HTTP error status, network error, no answer in the
 * body) fails with `HttpError`. There is no heartbeat (nothing stays open).
 */
import { Peer, type PeerOptions } from './core/peer.js';
import { errorForCall } from './core/answer-error.js';
import { HttpError, NotSupportedError } from './errors.js';
import { refusedHeader } from './transports/http-exchange.js';
import { HttpTransport } from './transports/http.js';
import type { AnyApi, PeerEvents, UntypedApi } from './types.js';
import { optionalLimit, validateCloseCode, validateHeaders } from './validate.js';

/** Most POSTs an HTTP client has in flight at once, unless `maxConnections` says otherwise. */
export const DEFAULT_MAX_CONNECTIONS = 64;

export interface HttpPeerOptions extends Omit<PeerOptions, 'openTransport' | 'alreadyOpen'> {
  /** Where the POSTs go, as given (`url` is what errors show: see `shownUrl`). */
  endpointUrl: string;
  /** Headers sent with every POST (an `Authorization` header, say). */
  headers: Record<string, string>;
  /** Largest answer body read, in bytes. */
  maxPayload: number;
  /** Most POSTs in flight at once; more wait their turn. */
  maxConnections: number;
}

/** A client of a JSON-RPC over HTTP endpoint: a `Peer` over the HTTP transport. */
export class HttpClient<RemoteApi extends AnyApi = UntypedApi> extends Peer<RemoteApi> {
  constructor(options: HttpPeerOptions) {
    const transport = HttpTransport.connect(options.endpointUrl, {
      headers: options.headers,
      maxPayload: options.maxPayload,
      maxConnections: options.maxConnections,
      // A notification has no call (nor its timeout): its POST gets the default call timeout, on the same clock.
      notifyTimeout: options.timeout,
      clock: options.clock,
      // A POST carries one call: an error in its body that did not settle it is its call's (core/answer-error.ts),
      // whatever the status (a JSON-RPC over HTTP server answers 404 for -32601, 500 for -32603), not an HttpError.
      failure: ({ message, status, body, cause, answer, id }) =>
        errorForCall(answer, id) ?? new HttpError(message, status, body, cause === undefined ? undefined : { cause }),
    });
    super({ ...options, openTransport: () => transport, alreadyOpen: false });
  }

  /** The POST failed without an answer to the call (HTTP status, network error): it fails now, unless it settled already. */
  protected override onCallFailed(id: string, reason: () => Error): void {
    this.outgoing.fail(id, reason);
  }

  /**
   * As `Peer.close`, but a client still `connecting` (until the microtask in which its transport reports open: HTTP has
   * nothing to connect) opens first, so that what was made before, `notify()` then `close()` right after `connect()`,
   * goes as it does once open (closing while connecting fails what waits in line, as a socket that never opened must).
   */
  override close(code = 1000, reason = ''): Promise<void> {
    if (this.state !== 'connecting') return super.close(code, reason);
    validateCloseCode(code, reason);
    const close = () => super.close(code, reason);
    return this.ready.then(close, close);
  }

  /** As `Peer.on`, but `notification` throws `NotSupportedError`: a server cannot notify an HTTP client. */
  override on<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): () => void {
    refuseNotifications(event);
    return super.on(event, listener);
  }

  /** As `Peer.once`, but `notification` throws `NotSupportedError`, as `on` does. */
  override once<K extends keyof PeerEvents>(event: K, listener: (payload: PeerEvents[K]) => void): () => void {
    refuseNotifications(event);
    return super.once(event, listener);
  }
}

/** Throws `NotSupportedError` for a `notification` listener: a listener that could never be called. */
function refuseNotifications(event: keyof PeerEvents): void {
  if (event === 'notification') {
    throw new NotSupportedError('servers cannot notify clients over HTTP (each call is its own request): use a ws:// URL');
  }
}

/** The HTTP half of `connect()`: `common` holds the options already validated there (and none that HTTP refuses: transport-options.ts). */
export function connectHttp<Api extends AnyApi>(
  endpointUrl: string,
  common: Omit<PeerOptions, 'openTransport' | 'alreadyOpen'>,
  options: { headers?: unknown; maxConnections?: unknown },
  maxPayload: number,
): HttpClient<Api> {
  const headers = validateHeaders(options.headers, 'options.headers');
  const refused = refusedHeader(headers);
  if (refused !== undefined) throw new TypeError(`options.headers: ${refused}: remove it`);
  const maxConnections = optionalLimit(options.maxConnections, 'options.maxConnections', DEFAULT_MAX_CONNECTIONS, 1);
  return new HttpClient<Api>({ ...common, endpointUrl, headers, maxPayload, maxConnections });
}
