/**
 * `connect('nats://…', { subject })`: a client whose calls go to the responders
 * of a NATS subject. The same `Peer` (connection actor, call actors, timeouts,
 * cancellation, unmatched reports) over a NATS transport; what NATS adds is the
 * 503 status that says no responder is subscribed, turned into `NoRespondersError`.
 */
import { NoRespondersError, RemoteError } from './errors.js';
import { Peer, type PeerOptions } from './peer.js';
import { NatsClientTransport, NO_RESPONDERS_CODE } from './transports/nats.js';
import type { ClientOptions } from './client.js';
import type { AnyApi, MethodName, RequestArgs, ResultOf, UntypedApi } from './types.js';
import { validateNatsUrl, validateSubject } from './validate.js';

/** How many call ids answered by a 503 are kept until their caller's promise turns them into `NoRespondersError`. */
const NO_RESPONDERS_MEMORY = 1_000;

export interface NatsPeerOptions extends Omit<PeerOptions, 'transport' | 'alreadyOpen'> {
  subject: string;
  /** How long connecting to nats-server may take, in ms. */
  handshakeTimeout: number;
}

/**
 * A client of a NATS subject. The transport turns a 503 into an error response
 * for the call's id, which the peer routes like any other (the call ends
 * `failed`); `request()` then rejects with `NoRespondersError` instead.
 */
export class NatsClient<RemoteApi extends AnyApi = UntypedApi> extends Peer<RemoteApi> {
  /** The service subject calls are published to. */
  readonly subject: string;
  /** Ids of calls NATS answered with 503, until `request()` has translated their error. */
  private readonly noResponders: Set<string>;

  constructor(options: NatsPeerOptions) {
    const noResponders = new Set<string>();
    const transport = NatsClientTransport.connect(options.url, {
      subject: options.subject,
      timeout: options.handshakeTimeout,
      onNoResponders: (id) => {
        noResponders.add(id);
        if (noResponders.size > NO_RESPONDERS_MEMORY) noResponders.delete(noResponders.values().next().value!);
      },
    });
    super({ ...options, transport, alreadyOpen: false });
    this.subject = options.subject;
    this.noResponders = noResponders;
  }

  override request<M extends MethodName<RemoteApi>>(method: M, ...args: RequestArgs<RemoteApi[M]>): Promise<ResultOf<RemoteApi[M]>> {
    return super.request(method, ...args).catch((error: unknown) => {
      if (
        error instanceof RemoteError &&
        error.code === NO_RESPONDERS_CODE &&
        typeof (error.data as { id?: unknown } | undefined)?.id === 'string' &&
        this.noResponders.delete((error.data as { id: string }).id)
      ) {
        throw new NoRespondersError(method, this.subject);
      }
      throw error;
    });
  }
}

/** The NATS half of `connect()`: `common` holds the options already validated there. */
export function connectNats<Api extends AnyApi>(
  common: Omit<PeerOptions, 'transport' | 'alreadyOpen'>,
  options: ClientOptions<any>,
  handshakeTimeout: number,
): NatsClient<Api> {
  validateNatsUrl(common.url, 'url');
  const subject = validateSubject(options.subject, 'options.subject');
  if (options.headers !== undefined) throw new TypeError('options.headers applies to WebSocket URLs only');
  if (options.maxPayload !== undefined) throw new TypeError('options.maxPayload applies to WebSocket URLs only (nats-server sets max_payload)');
  return new NatsClient<Api>({ ...common, subject, handshakeTimeout });
}
