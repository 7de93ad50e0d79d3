/**
 * Turns XState's inspection stream into the page's compact events. It reads
 * only what inspection promises: the machine id of the actor's logic
 * (`connection`, `call`, `incomingCall`), its `sessionId`, and each
 * snapshot's `value`, `status` and `context`; never the library's internals.
 */
import type { InspectionEvent } from 'xstate';
import { cutText } from '../../core/peer-text.js';
import type { PageEvent, Side } from './model.js';

const WATCHED = new Set(['connection', 'call', 'incomingCall']);

/** The id of the machine an actor runs, if its logic is a machine. */
export function machineIdOf(actorRef: unknown): string | undefined {
  const logic = (actorRef as { logic?: { id?: unknown } }).logic;
  return typeof logic?.id === 'string' ? logic.id : undefined;
}

/** The innermost state of a state value: `{ pending: 'queued' }` is `queued`. */
export function leafState(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const first = Object.values(value)[0];
    if (first !== undefined) return leafState(first);
  }
  return String(value);
}

/**
 * A connection's state as the page shows it: its top-level state, except
 * that waiting out a reconnect delay shows as `reconnecting`.
 */
export function connectionState(value: unknown): string {
  if (value !== null && typeof value === 'object' && (value as Record<string, unknown>).connecting === 'waiting') return 'reconnecting';
  return typeof value === 'object' && value !== null ? (Object.keys(value)[0] ?? String(value)) : String(value);
}

interface InspectedSnapshot {
  value?: unknown;
  status?: string;
  context?: { method?: unknown; id?: unknown; alreadyOpen?: unknown };
}

/**
 * The side an actor belongs to: outgoing calls are the client's, incoming calls
 * the server's; a connection the server accepted starts already open.
 */
function sideOf(machine: string, snapshot: InspectedSnapshot): Side {
  if (machine === 'connection') return snapshot.context?.alreadyOpen === true ? 'server' : 'client';
  return machine === 'call' ? 'client' : 'server';
}

/**
 * An `inspect` observer: calls `emit` each time a connection or call actor
 * enters a new state (repeated snapshots in the same state are dropped). Works
 * for a client, a server, or both at once.
 */
export function inspectionFeed(emit: (event: PageEvent) => void, now: () => number = Date.now): (event: InspectionEvent) => void {
  /** Last state per live actor, by sessionId; forgotten once the actor is done. */
  const last = new Map<string, string>();
  return (event) => {
    if (event.type !== '@xstate.snapshot') return;
    const machine = machineIdOf(event.actorRef);
    if (machine === undefined || !WATCHED.has(machine)) return;
    const snapshot = event.snapshot as InspectedSnapshot;
    const sid = event.actorRef.sessionId;
    const state = machine === 'connection' ? connectionState(snapshot.value) : leafState(snapshot.value);
    const done = snapshot.status !== undefined && snapshot.status !== 'active';
    if (last.get(sid) === state && !done) return;
    if (done) last.delete(sid);
    else last.set(sid, state);
    const side = sideOf(machine, snapshot);
    if (machine === 'connection') {
      emit({ k: 'connection', side, sid, state, done, at: now() });
      return;
    }
    const context = snapshot.context ?? {};
    const cause = (event as { event?: { type?: unknown } }).event?.type;
    emit({
      k: 'call',
      side,
      sid,
      // A server's peer chooses both (up to `maxPayload`), and the page holds hundreds of calls and sends each to
      // every viewer: cut here, at the source, as `POST /ingest` cuts what other processes stream.
      method: typeof context.method === 'string' ? cutText(context.method) : '?',
      id: context.id === undefined ? '' : cutText(String(context.id)),
      state,
      ...(typeof cause === 'string' ? { cause } : {}),
      done,
      at: now(),
    });
  };
}
