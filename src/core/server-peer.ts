/**
 * A server's end of one WebSocket connection: a `Peer` that can drain, for
 * `server.close({ drain })`. Apart from `Peer` so that a client (the browser
 * build above all) carries none of it.
 */
import type { ErrorObject } from '../protocol/jsonrpc.js';
import type { AnyApi, UntypedApi } from '../types.js';
import { serverIsClosing } from './abort-reasons.js';
import { serverClosing } from './closing.js';
import { Peer } from './peer.js';

export class ServerPeer<RemoteApi extends AnyApi = UntypedApi> extends Peer<RemoteApi> {
  /** Set once the server drains: new requests are refused (-32000, server closing). */
  private draining = false;
  /** Called when the last incoming call ends, while draining. */
  private idle: (() => void) | undefined;
  /** Set once the server closes this connection (`leave`): its handlers still running abort for that reason. */
  private leaving = false;

  /** The server is closing: closes the connection (1001); handlers still running then see `the server is closing`. */
  leave(): Promise<void> {
    this.leaving = true;
    return this.close(1001, 'server closing');
  }

  protected override handlersAbortedFor(): unknown {
    return this.leaving ? serverIsClosing() : super.handlersAbortedFor();
  }

  /**
   * Refuses new requests from now on (-32000, "server closing"); resolves once no incoming call
   * runs any more (handlers answered, were cancelled, or the connection closed). Outgoing calls and
   * their answers go on: a running handler may still call the other end.
   */
  stopAcceptingCalls(): Promise<void> {
    this.draining = true;
    if (this.handlingCalls === 0 || this.state === 'closed') return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.idle = resolve;
      void this.closed.then(resolve);
    });
  }

  protected override onIdle(): void {
    this.idle?.();
  }

  protected override busy(method: string): ErrorObject | undefined {
    return this.draining ? serverClosing(method) : super.busy(method);
  }
}
