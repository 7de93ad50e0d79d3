/**
 * The TCP connections a server holds for callstate at once (`maxConnections`): each WebSocket connection (its
 * upgrade under way included) and each HTTP connection while a POST on it is in progress or the handler of a
 * notification posted on it runs, counted once however many POSTs it carries (keep-alive, pipelined). A POST whose handler runs holds its connection as long as the
 * handler runs (`handlerTimeout` has no default), so POSTs spread over many connections would otherwise hold
 * sockets, bodies and handlers without bound, as WebSocket connections did before `maxConnections`.
 */
import type { Duplex } from 'node:stream';

export class ConnectionSlots {
  /** Each connection holding a place, and how many uses (a WebSocket, POSTs in progress) hold it. */
  private readonly held = new Map<Duplex, number>();
  /** Connections whose 'close' frees their place: listened to once each, however often a place is taken. */
  private readonly watched = new WeakSet<Duplex>();

  constructor(readonly max: number) {}

  /** Connections holding a place. */
  get size(): number {
    return this.held.size;
  }

  /** Takes a place for one more use of `socket`: false when `max` other connections hold theirs. */
  take(socket: Duplex): boolean {
    const uses = this.held.get(socket);
    if (uses !== undefined) {
      this.held.set(socket, uses + 1);
      return true;
    }
    if (this.held.size >= this.max) return false;
    this.held.set(socket, 1);
    if (!this.watched.has(socket)) {
      this.watched.add(socket);
      socket.once('close', () => this.held.delete(socket));
    }
    return true;
  }

  /** One use of `socket` ended (a POST answered): its place is free once none is left. */
  give(socket: Duplex): void {
    const uses = this.held.get(socket);
    if (uses === undefined) return;
    if (uses > 1) this.held.set(socket, uses - 1);
    else this.held.delete(socket);
  }

  /** Why one more connection is refused (503), for its answer's body. */
  get refusal(): string {
    return `this server holds its most connections at once (maxConnections: ${this.max}; WebSocket connections, and HTTP connections with a POST in progress)`;
  }
}
