/**
 * What the inspection page shows, and the one function that updates it from
 * the compact events the page server streams. `applyEvent` runs on both ends:
 * in Node (to greet a new page with the current model) and in the page, where
 * its source is inlined as is. So it is self-contained: no imports, no
 * module-level names, plain JavaScript once its types are erased.
 */

export type Side = 'client' | 'server';

/** One compact event on the page's stream, derived from an XState inspection event. */
export type PageEvent =
  | {
      k: 'connection';
      side: Side;
      /** The connection actor's sessionId (prefixed by its source when streamed from another process). */
      sid?: string;
      state: string;
      /** True once the connection actor is in a final state. */
      done?: boolean;
      at: number;
    }
  | {
      k: 'call';
      side: Side;
      /** The call actor's sessionId (prefixed by its source when streamed from another process). */
      sid: string;
      method: string;
      /** The JSON-RPC id, as text. */
      id: string;
      /** The leaf state: queued, sent, awaiting, resolved, ... (or handling, replied, ... on the server). */
      state: string;
      /** The type of the event that moved the call into `state`. */
      cause?: string;
      /** True once the actor is in a final state. */
      done: boolean;
      at: number;
    }
  /** Events a streaming application dropped (the page or the link was too slow), counted at the source. */
  | { k: 'dropped'; n: number };

export interface CallView {
  sid: string;
  side: Side;
  method: string;
  id: string;
  state: string;
  /** Every state the call entered, in order (the last 50: a call moving back and forth forgets the oldest). */
  path: string[];
  /** When it entered each state of `path` (ms since the epoch). */
  times: number[];
  /** The event that moved it into each state of `path`. */
  causes: string[];
  started: number;
  ended?: number;
}

export interface PageModel {
  /** The latest state of a connection on each side. */
  connections: Record<Side, string>;
  /** Connections not yet closed, per side, by sessionId: their state. */
  live: Record<Side, Record<string, string>>;
  /** Calls not yet in a final state, by sessionId (at most 5,000: the oldest is forgotten past that). */
  inflight: Record<string, CallView>;
  /** How many calls ended in each final state, per side. */
  counts: Record<Side, Record<string, number>>;
  /** The most recently ended calls of both sides, newest first (at most 500). */
  recent: CallView[];
  /** How many entries `inflight` holds (kept, so that bounding it costs no scan). */
  inflightCount: number;
  /** Events streaming applications dropped instead of sending (a slow page or link). */
  dropped: number;
}

export function emptyModel(): PageModel {
  return {
    connections: { client: 'none', server: 'none' },
    live: { client: {}, server: {} },
    inflight: {},
    counts: { client: { resolved: 0, failed: 0, timedOut: 0, cancelled: 0 }, server: { replied: 0, failed: 0, cancelled: 0 } },
    recent: [],
    inflightCount: 0,
    dropped: 0,
  };
}

/** Applies one event to the model, in place. */
export function applyEvent(model: PageModel, event: PageEvent): void {
  const MAX_RECENT = 500;
  const MAX_INFLIGHT = 5_000;
  const MAX_LIVE = 1_000;
  // A call moves back and forth only on a re-sent retry; a streamed batch can do it forever.
  const MAX_PATH = 50;
  /**
   * The keys of a bounded table in the order they came, beside it (under a symbol: not in its JSON, and rebuilt once
   * where the model arrives as JSON, in the page): its oldest key and its size without listing its keys. Once keys
   * have been deleted the table is a dictionary, whose first key a `for…in` finds only by listing all 5,000 of them.
   */
  const ORDER = Symbol.for('callstate.inspect.order');
  const orderOf = (table: Record<string, unknown>): Set<string> => {
    const held = table as unknown as Record<symbol, Set<string> | undefined>;
    let order = held[ORDER];
    if (order === undefined) {
      order = new Set(Object.keys(table));
      Object.defineProperty(table, ORDER, { value: order });
    }
    return order;
  };
  /** Adds `key` (if new) to a table holding at most `max` keys, forgetting the oldest one to make room. */
  const admit = (table: Record<string, unknown>, key: string, max: number) => {
    const order = orderOf(table);
    if (order.has(key)) return;
    if (order.size >= max) {
      const oldest = order.values().next().value!;
      order.delete(oldest);
      delete table[oldest];
    }
    order.add(key);
  };
  const forget = (table: Record<string, unknown>, key: string) => {
    orderOf(table).delete(key);
    delete table[key];
  };
  if (event.k === 'dropped') {
    // Each streamed count is a safe integer; their sum is kept one too (a process may send any), exact as a JSON number.
    model.dropped = Math.min(model.dropped + event.n, Number.MAX_SAFE_INTEGER);
    return;
  }
  if (event.k === 'connection') {
    model.connections[event.side] = event.state;
    if (event.sid === undefined) return;
    const live = model.live[event.side];
    if (event.done) {
      forget(live, event.sid);
      return;
    }
    admit(live, event.sid, MAX_LIVE);
    live[event.sid] = event.state;
    return;
  }
  let call = model.inflight[event.sid];
  if (!call) {
    admit(model.inflight, event.sid, MAX_INFLIGHT);
    model.inflightCount = orderOf(model.inflight).size;
    call = {
      sid: event.sid,
      side: event.side,
      method: event.method,
      id: event.id,
      state: event.state,
      path: [],
      times: [],
      causes: [],
      started: event.at,
    };
    model.inflight[event.sid] = call;
  }
  call.state = event.state;
  if (call.path[call.path.length - 1] !== event.state) {
    call.path.push(event.state);
    call.times.push(event.at);
    call.causes.push(event.cause || '');
    if (call.path.length > MAX_PATH) {
      call.path.shift();
      call.times.shift();
      call.causes.shift();
    }
  }
  if (!event.done) return;
  call.ended = event.at;
  forget(model.inflight, event.sid);
  model.inflightCount = orderOf(model.inflight).size;
  const counts = model.counts[event.side];
  counts[event.state] = (counts[event.state] || 0) + 1;
  model.recent.unshift(call);
  if (model.recent.length > MAX_RECENT) model.recent.length = MAX_RECENT;
}
