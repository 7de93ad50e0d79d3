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
  | { k: 'connection'; side: Side; state: string; at: number }
  | {
      k: 'call';
      side: Side;
      /** The call actor's sessionId. */
      sid: string;
      method: string;
      /** The JSON-RPC id, as text. */
      id: string;
      /** The leaf state: queued, sent, awaiting, resolved, ... (or handling, replied, ... on the server). */
      state: string;
      /** True once the actor is in a final state. */
      done: boolean;
      at: number;
    };

export interface CallView {
  sid: string;
  side: Side;
  method: string;
  id: string;
  state: string;
  /** Every state the call entered, in order. */
  path: string[];
  started: number;
  ended?: number;
}

export interface PageModel {
  /** The latest state of the connection on each side. */
  connections: Record<Side, string>;
  /** Calls not yet in a final state, by sessionId. */
  inflight: Record<string, CallView>;
  /** How many calls ended in each final state, per side. */
  counts: Record<Side, Record<string, number>>;
  /** The most recently ended client calls, newest first (at most 40). */
  recent: CallView[];
}

export function emptyModel(): PageModel {
  return {
    connections: { client: 'none', server: 'none' },
    inflight: {},
    counts: { client: { resolved: 0, failed: 0, timedOut: 0, cancelled: 0 }, server: { replied: 0, failed: 0, cancelled: 0 } },
    recent: [],
  };
}

/** Applies one event to the model, in place. */
export function applyEvent(model: PageModel, event: PageEvent): void {
  if (event.k === 'connection') {
    model.connections[event.side] = event.state;
    return;
  }
  let call = model.inflight[event.sid];
  if (!call) {
    call = { sid: event.sid, side: event.side, method: event.method, id: event.id, state: event.state, path: [], started: event.at };
    model.inflight[event.sid] = call;
  }
  call.state = event.state;
  if (call.path[call.path.length - 1] !== event.state) call.path.push(event.state);
  if (!event.done) return;
  call.ended = event.at;
  delete model.inflight[event.sid];
  const counts = model.counts[event.side];
  counts[event.state] = (counts[event.state] || 0) + 1;
  if (event.side === 'client') {
    model.recent.unshift(call);
    if (model.recent.length > 40) model.recent.length = 40;
  }
}
