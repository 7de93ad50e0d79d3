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
  /** Connections whose place outlives their close (`keep`) until `unkeep`: work still runs for them. */
  private readonly kept = new Set<Duplex>();
  /** Connections closed already: their uses ended with them, but a kept place. */
  private readonly closed = new WeakSet<Duplex>();

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
      socket.once('close', () => {
        this.closed.add(socket);
        if (this.kept.has(socket)) this.held.set(socket, 1);
        else this.held.delete(socket);
      });
    }
    return true;
  }

  /**
   * Takes one use of `socket` that does not end with it: its place stays held after it closes, until `unkeep`
   * (the handlers of notifications posted on it, which run on once it closes). False as `take`.
   */
  keep(socket: Duplex): boolean {
    if (this.kept.has(socket)) return true;
    if (!this.take(socket)) return false;
    this.kept.add(socket);
    return true;
  }

  /** What `keep` held ended: the place is given back (at once if `socket` has closed). */
  unkeep(socket: Duplex): void {
    if (!this.kept.delete(socket)) return;
    if (this.closed.has(socket)) this.held.delete(socket);
    else this.give(socket);
  }

  /** One use of `socket` ended (a POST answered): its place is free once none is left. */
  give(socket: Duplex): void {
    // Its uses ended with it: only a kept place is left, given back by `unkeep`.
    if (this.closed.has(socket)) return;
    const uses = this.held.get(socket);
    if (uses === undefined) return;
    if (uses > 1) this.held.set(socket, uses - 1);
    else this.held.delete(socket);
  }

  /** Why one more connection is refused (503), for its answer's body. */
  get refusal(): string {
    return `this server holds its most connections at once (maxConnections: ${this.max}; WebSocket connections, and HTTP connections with a POST in progress or a notification's handler running)`;
  }
}
