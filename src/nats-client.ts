/**
 * `connect('nats://…', { subject })`: a client whose calls go to the responders
 * of a NATS subject. The same `Peer` (connection actor, call actors, timeouts,
 * cancellation, unmatched reports) over a NATS transport; what NATS adds is the
 * 503 status that says no responder is subscribed, turned into `NoRespondersError`.
 */
import { errorForCall } from './core/answer-error.js';
import { describeUnmatched } from './core/inbound.js';
import { Peer, type PeerOptions } from './core/peer.js';
import { NoRespondersError, ProtocolError } from './errors.js';
import { NatsClientTransport } from './transports/nats.js';
import { noAnswerIn } from './transports/transport.js';
import { quotedText } from './core/peer-text.js';
import { checkClientLines } from './transports/nats-lines.js';
import type { AnyApi, UntypedApi } from './types.js';
import { validateHeaders, validateSubject } from './validate.js';
import { validateNatsUrl } from './urls.js';

export interface NatsPeerOptions extends Omit<PeerOptions, 'openTransport' | 'alreadyOpen'> {
  /** The nats-server URL(s) to connect to, credentials and all (`url` is what errors show: see `shownUrl`). */
  serverUrl: string;
  subject: string;
  /** How long connecting to nats-server may take, in ms. */
  handshakeTimeout: number;
  /** NATS headers sent with every message: what a responder's `authenticate` sees. */
  headers: Record<string, string>;
  /** The prefix of the client's inbox (nats.js's default `_INBOX` when undefined). */
  inboxPrefix: string | undefined;
}

/** Bytes published between two requests to nats-server to confirm what it read (see NatsClientTransport.bufferedAmount). */
const CONFIRM_EVERY = 64 * 1024;

/** What a NATS client answers calls with: nothing (a request is answered -32601, which has nowhere to go). */
const NO_METHODS = Object.freeze({});

/**
 * A client of a NATS subject: a `Peer` over the NATS transport. A 503 status
 * fails its call at once with `NoRespondersError`.
 */
export class NatsClient<RemoteApi extends AnyApi = UntypedApi> extends Peer<RemoteApi> {
  /** The service subject calls are published to. */
  readonly subject: string;

  constructor(options: NatsPeerOptions) {
    // The transport is made before this client is (see super below): it reaches the calls once they exist.
    let calls: NatsClient<RemoteApi>['outgoing'] | undefined;
    const transport = NatsClientTransport.connect(options.serverUrl, {
      subject: options.subject,
      timeout: options.handshakeTimeout,
      headers: options.headers,
      inboxPrefix: options.inboxPrefix,
      timeLeftOf: (id) => calls?.timeLeftOf(id),
      // Every 64 KiB: a PING per few hundred small calls, not per call; never more than highWaterMark, which it must free.
      confirmAt: Math.min(CONFIRM_EVERY, options.send.highWaterMark),
    });
    // No responder calls a NATS client (it has no way to), but anyone who learns its inbox (every reply subject shows
    // it) can publish there: with the client's methods, a request or notification from them would run one.
    super({ ...options, methods: NO_METHODS, openTransport: () => transport, alreadyOpen: false, sendsTimeLeft: true });
    calls = this.outgoing;
    this.subject = options.subject;
  }

  /**
   * A WebSocket server aborts the handlers of a client whose connection closes; a responder sees no connection of its
   * caller close, and would run them on for nobody (one that never settles, holding a slot of its maxInFlight for
   * good). So the calls in flight are cancelled first, while the connection still takes frames; the drain that
   * close() starts sends them. `terminate()` drops the connection at once, and a crash tells nobody: only the
   * responder's `handlerTimeout` bounds those.
   */
  override close(code?: number, reason?: string): Promise<void> {
    if (this.state === 'open') this.outgoing.cancelWritten();
    return super.close(code, reason);
  }

  /**
   * nats.js would not publish the call's request (larger than nats-server's max_payload); the connection is up.
   * The call fails now, with why: no answer can come for a request that was never sent.
   */
  protected override onCallFailed(id: string, reason: () => Error): void {
    this.outgoing.fail(id, (method) => {
      const cause = reason();
      return new ProtocolError(`call "${method}" (id ${id}) was not sent: ${cause.message}`, { cause });
    });
  }

  /**
   * An answer came on the reply subject of the call `id` and did not settle it: one the responder gave no id (it could
   * not read the request's, or is a JSON-RPC 1.0 server writing none) is that call's error all the same, as over HTTP
   * (core/answer-error.ts); anything else there (not UTF-8, not JSON, not a response, another call's id) fails it with
   * a `ProtocolError` saying so, as an HTTP body does with an `HttpError` (its `status` and `body` are HTTP's): the
   * responder answered, and the call would otherwise wait for its timeout. The dispatcher has reported the message
   * (`unmatched`) already. Read again only then: an answer that settled its call (every other) costs a lookup; one for
   * a call settled already (late, a duplicate) fails nothing.
   */
  protected override onAnswered(id: string, text: string | undefined): void {
    if (!this.outgoing.has(id)) return;
    const error = errorForCall(text, id);
    if (error) return void this.outgoing.fail(id, () => error);
    const shown = text === undefined || text === '' ? '' : `: ${quotedText(text)}`;
    this.outgoing.fail(
      id,
      (method) =>
        new ProtocolError(`call "${method}" (id ${id}) was answered on its reply subject with ${noAnswerIn(text, 'payload')}${shown}`),
      true,
    );
  }

  /** The channel says no one listens (NATS's 503): the call fails now, as an answer would settle it. */
  protected override onNoResponders(id: string, subject: string): void {
    const reason = this.outgoing.fail(id, (method) => new NoRespondersError(method, subject));
    if (reason) this.inbound.report(reason, { id, status: 503 }, id, describeUnmatched(reason));
  }
}

/** The NATS half of `connect()`: `common` holds the options already validated there (and none that NATS refuses: transport-options.ts). */
export function connectNats<Api extends AnyApi>(
  url: string,
  common: Omit<PeerOptions, 'openTransport' | 'alreadyOpen'>,
  options: { subject?: unknown; inboxPrefix?: unknown; headers?: unknown },
  handshakeTimeout: number,
): NatsClient<Api> {
  const serverUrl = validateNatsUrl(url, 'url');
  const subject = validateSubject(options.subject, 'options.subject');
  const headers = validateHeaders(options.headers, 'options.headers', 'nats');
  const inboxPrefix = options.inboxPrefix === undefined ? undefined : validateSubject(options.inboxPrefix, 'options.inboxPrefix');
  checkClientLines(subject, inboxPrefix);
  return new NatsClient<Api>({ ...common, serverUrl, subject, handshakeTimeout, headers, inboxPrefix });
}
