/**
 * Checks a batch another process streams to the page (`POST /ingest`, sent by
 * `inspectTo`). What it holds ends up in the model, so every field is checked
 * and bounded: known sides and state names only (the counts are keyed by
 * state), strings cut short, sessionIds prefixed by their source (`source/sid`)
 * so that two processes never share one, nor a process one of the page's own.
 */
import { callMachine } from '../../../machines/call.machine.js';
import { connectionMachine } from '../../../machines/connection.machine.js';
import { incomingCallMachine } from '../../../machines/incomingCall.machine.js';
import { cutText } from '../../core/peer-text.js';
import type { PageEvent } from './model.js';

/** Largest body `POST /ingest` accepts, in bytes. */
export const MAX_INGEST_BYTES = 1024 * 1024;
/** Most events one batch may carry. */
export const MAX_INGEST_EVENTS = 5_000;

/** Every state name of a machine, nested ones included. */
function stateNames(node: { states?: Record<string, unknown> }, into = new Set<string>()): Set<string> {
  for (const [key, child] of Object.entries(node.states ?? {})) {
    into.add(key);
    stateNames(child as { states?: Record<string, unknown> }, into);
  }
  return into;
}
const CALL_STATES = new Set([...stateNames(callMachine.root), ...stateNames(incomingCallMachine.root)]);
const CONNECTION_STATES = new Set([...stateNames(connectionMachine.root), 'reconnecting']);

const cut = (value: unknown) => (typeof value === 'string' ? cutText(value) : undefined);
/**
 * A streamed sessionId as the page keys it. Apart from the source's: a source name is the sender's choice, and with
 * `:` a process calling itself `call` would key its calls as the page's own in-process actors (`call:0`, `x:0`) and
 * end, move or replace them. A sessionId of this process never holds `/`; a source name cannot either.
 */
const streamedSid = (source: string, sid: string) => `${source}/${sid}`;
/**
 * A cause is the type of an event the library's machines take (`response.result`, `xstate.after.callTimeout.call.pending`):
 * kept only when it reads as one. It is not the peer's text, and the page keeps one per state for 50 states of each of
 * 5,500 calls: a sender's 200 control characters each, escaped six bytes apiece in JSON, made /model.json and each
 * viewer's greeting some 300 MB, stringified on the page's (and, with createInspector, the application's) event loop.
 */
const EVENT_TYPE = /^[\w.$@:#/-]{1,100}$/;
const causeOf = (value: unknown) => (typeof value === 'string' && EVENT_TYPE.test(value) ? value : undefined);
const isSide = (value: unknown): value is 'client' | 'server' => value === 'client' || value === 'server';

/** One streamed event, checked; undefined when it is not one the page shows. */
function checkEvent(raw: unknown, source: string): PageEvent | undefined {
  if (raw === null || typeof raw !== 'object') return undefined;
  const e = raw as Record<string, unknown>;
  if (e.k === 'dropped') return Number.isSafeInteger(e.n) && (e.n as number) > 0 ? { k: 'dropped', n: e.n as number } : undefined;
  const at = typeof e.at === 'number' && Number.isFinite(e.at) ? e.at : undefined;
  const sid = cut(e.sid);
  if (!isSide(e.side) || typeof e.state !== 'string' || at === undefined || sid === undefined) return undefined;
  if (e.k === 'connection') {
    if (!CONNECTION_STATES.has(e.state)) return undefined;
    return { k: 'connection', side: e.side, sid: streamedSid(source, sid), state: e.state, done: e.done === true, at };
  }
  if (e.k !== 'call' || !CALL_STATES.has(e.state)) return undefined;
  const cause = causeOf(e.cause);
  return {
    k: 'call',
    side: e.side,
    sid: streamedSid(source, sid),
    method: cut(e.method) ?? '?',
    id: cut(e.id) ?? '',
    state: e.state,
    ...(cause === undefined ? {} : { cause }),
    done: e.done === true,
    at,
  };
}

/**
 * A batch's events, checked (events the page does not know are left out), or
 * a reason to answer 400.
 */
export function checkBatch(body: string): { events: PageEvent[] } | { error: string } {
  let batch: unknown;
  try {
    batch = JSON.parse(body);
  } catch {
    return { error: 'the body is not JSON' };
  }
  const { source, events } = (batch ?? {}) as { source?: unknown; events?: unknown };
  if (typeof source !== 'string' || !/^[\w-]{1,40}$/.test(source)) return { error: 'source must be 1 to 40 letters, digits, _ or -' };
  if (!Array.isArray(events) || events.length > MAX_INGEST_EVENTS)
    return { error: `events must be an array of at most ${MAX_INGEST_EVENTS}` };
  return { events: events.map((e) => checkEvent(e, source)).filter((e) => e !== undefined) };
}
