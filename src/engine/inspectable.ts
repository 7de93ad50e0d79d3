/**
 * What an inspector is handed, safe to serialize whenever it chooses to.
 *
 * Values a user chose reach the actors' contexts and events: what a handler
 * returned or threw, a caller's params and abort reason. An inspector may
 * serialize them later, in a timer of its own: Stately's does, and catches
 * nothing, so a value it cannot read ends the process. Here each such value
 * that JSON.stringify cannot read (a getter, a Proxy trap or a toJSON that
 * throws, a BigInt, a cycle) is shown as `[unserializable: <why>]` instead;
 * the actor itself keeps the value, and the caller's answer does not change.
 *
 * Only inspection pays for this: nothing here runs for an actor nobody
 * inspects (see `isolatedInspector` and `FlatActor.getSnapshot`).
 */
import type { InspectionEvent, Observer } from 'xstate';

/** What each object checked was found to be: why JSON cannot read it, or null when it can. Checked once per object. */
const verdicts = new WeakMap<object, string | null>();

/** `value`, or a marker saying why JSON.stringify cannot read it. */
export function jsonSafe(value: unknown): unknown {
  const kind = typeof value;
  if (kind === 'bigint') return marker(whyUnreadable(value));
  if ((kind !== 'object' && kind !== 'function') || value === null) return value;
  let verdict = verdicts.get(value as object);
  if (verdict === undefined) {
    verdict = whyUnreadable(value) ?? null;
    verdicts.set(value as object, verdict);
  }
  return verdict === null ? value : marker(verdict);
}

/**
 * `record` with each of its fields JSON cannot read shown as a marker: a copy, only when one is; `record` itself
 * when none is. What is not a plain object is checked whole.
 */
export function jsonSafeFields(record: unknown): unknown {
  if (typeof record !== 'object' || record === null) return jsonSafe(record);
  const keys = plainKeys(record);
  if (keys === undefined) return jsonSafe(record);
  const fields: unknown[] = [];
  let changed = false;
  for (const key of keys) {
    let field: unknown;
    try {
      field = (record as Record<string, unknown>)[key];
    } catch {
      return jsonSafe(record);
    }
    const safe = jsonSafe(field);
    if (safe !== field) changed = true;
    fields.push(safe);
  }
  // The copy holds the values read here (read again, a getter could give others); fromEntries defines each key,
  // `__proto__` included, as a plain field.
  return changed ? Object.fromEntries(keys.map((key, i) => [key, fields[i]])) : record;
}

/** The fields of a snapshot that hold what its actor was given or made (XState machine and promise snapshots, and ours). */
const SNAPSHOT_FIELDS = ['context', 'output', 'error', 'input'] as const;

/** A snapshot whose context, output, error and input JSON can read: a copy, only when one of them could not be. */
export function inspectableSnapshot<T>(snapshot: T): T {
  if (typeof snapshot !== 'object' || snapshot === null) return snapshot;
  let copy: Record<string, unknown> | undefined;
  for (const key of SNAPSHOT_FIELDS) {
    const value = (snapshot as Record<string, unknown>)[key];
    if (value === undefined) continue;
    const safe = jsonSafeFields(value);
    if (safe !== value) (copy ??= { ...(snapshot as Record<string, unknown>) })[key] = safe;
  }
  return (copy ?? snapshot) as T;
}

/**
 * An inspection event as an inspector is handed it: its `event` and its `snapshot` made safe to serialize (the
 * event itself when they are). `actorRef` stays the actor: inspectors tell actors apart by it.
 */
export function inspectableEvent<T extends { type: string }>(inspection: T): T {
  const { event, snapshot } = inspection as { event?: unknown; snapshot?: unknown };
  const safeEvent = event === undefined ? event : jsonSafeFields(event);
  const safeSnapshot = snapshot === undefined ? snapshot : inspectableSnapshot(snapshot);
  if (safeEvent === event && safeSnapshot === snapshot) return inspection;
  const copy = { ...inspection } as Record<string, unknown>;
  if (safeEvent !== event) copy.event = safeEvent;
  if (safeSnapshot !== snapshot) copy.snapshot = safeSnapshot;
  return copy as T;
}

/**
 * A snapshot's `toJSON` whose JSON never throws: XState's own (no machine, nodes or methods; tags as an array),
 * with the context, output, error and input made safe. Given to the snapshots of XState actors an inspector
 * sees (`engine: 'xstate'`), which an inspector may read from the actor and serialize later.
 */
export function inspectableToJSON(this: Record<string, unknown>): Record<string, unknown> {
  const { _nodes, tags, machine, getMeta, toJSON, can, hasTag, matches, ...rest } = inspectableSnapshot(this);
  if (tags !== undefined) rest.tags = Array.from(tags as Iterable<string>);
  return rest;
}

function marker(why: string | undefined): string {
  return `[unserializable: ${why}]`;
}

/** Why JSON.stringify throws on `value` (its first line, at most 200 characters), or undefined when it does not. */
function whyUnreadable(value: unknown): string | undefined {
  try {
    // Stately's browser inspector asks `instanceof` of every object: a prototype that cannot be read breaks it too.
    JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'object' && v !== null) Object.getPrototypeOf(v);
      return v;
    });
    return undefined;
  } catch (thrown) {
    const text = textOf(thrown);
    const line = text.split('\n', 1)[0]!;
    return line.length > 200 ? `${line.slice(0, 200)}…` : line;
  }
}

/** The message of what was thrown, or its string, never throwing itself. */
function textOf(thrown: unknown): string {
  try {
    return String(thrown instanceof Error ? thrown.message : thrown);
  } catch {
    return 'an unreadable value was thrown';
  }
}

/** The keys of a plain object (or one without a prototype), or undefined for anything else or anything unreadable. */
function plainKeys(value: object): string[] | undefined {
  try {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return undefined;
    // A toJSON makes its JSON something other than its fields': such an object is checked whole.
    const keys = Object.keys(value);
    return keys.includes('toJSON') ? undefined : keys;
  } catch {
    return undefined;
  }
}

/**
 * XState's `inspect` option (a function or an observer) as a function that never throws into the actor it
 * watches: an inspector's error is rethrown on its own, after the current task (as a throwing event listener's is
 * surfaced), and the actor goes on. Thrown into the actor's step, it would leave a call never settled (its step
 * half done), and XState's connection actor stuck in the state it was leaving, so that `close()` never resolved.
 * The inspector is handed each event with its event and snapshot safe to serialize (`inspectableEvent`): what a
 * handler returned, or a caller passed, can then break no inspector, now or in a timer of its own.
 */
export function isolatedInspector(
  inspect: ((event: InspectionEvent) => void) | Observer<InspectionEvent> | undefined,
): ((event: InspectionEvent) => void) | undefined {
  const report = toInspectFunction(inspect);
  if (report === undefined) return undefined;
  return (event) => {
    try {
      report(inspectableEvent(event));
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  };
}

/** Turns XState's `inspect` option (a function or an observer) into a function. */
export function toInspectFunction(inspect: ((event: InspectionEvent) => void) | Observer<InspectionEvent> | undefined) {
  if (inspect === undefined) return undefined;
  if (typeof inspect === 'function') return inspect;
  return (event: InspectionEvent) => inspect.next?.(event);
}
