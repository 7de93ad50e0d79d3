/**
 * The snapshot of a light actor, shaped like XState's machine snapshot and
 * made only on demand (for an inspector, or `getSnapshot()`), never on the way
 * of an event.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';
import type { CompiledState } from './load.js';
import { matchesValue } from './state-tree.js';

type AnyEvent = { type: string; [key: string]: unknown };

export type ActorStatus = 'active' | 'done' | 'error' | 'stopped';

/**
 * A snapshot shaped like XState's machine snapshot, made only on demand (for an
 * inspector, or `getSnapshot()`): the same fields in the same order, so tools
 * that read `snapshot.machine.id`, call `matches`/`hasTag`/`can`/`getMeta`, or
 * serialize it (`toJSON`) treat a light call as they treat an XState one.
 *
 * Where it differs from XState's: `children` is always empty (the light engine
 * runs an invoked handler as a plain promise, not as a child actor, and reports
 * no `@xstate.actor` for it), and `historyValue` is empty (no history states are
 * compiled). `can` is answered from the compiled transitions (see there).
 * And, to keep uninspected actors free of copies, `assign` updates an
 * uninspected actor's context in place: a snapshot kept across events then
 * shows the newer context. With an inspector attached every `assign` makes a
 * new context, as XState does, so the snapshots an inspector receives stay as
 * they were. Its context, output and error show a value JSON cannot read as
 * `'[unserializable: <why>]'` (`FlatActor.getSnapshot`, see `inspectable.ts`).
 */
export interface FlatSnapshot<TContext> {
  status: ActorStatus;
  output: unknown;
  error: unknown;
  /** The XState machine the light actor's table was made from (without the owner's implementations); undefined in the browser build, which has no XState. */
  machine: AnyStateMachine | undefined;
  context: TContext;
  /** XState's active state nodes: the root, then each ancestor of the atomic state, then the atomic state (none without the machine). */
  _nodes: readonly AnyStateNode[];
  value: unknown;
  tags: Set<string>;
  children: Record<string, never>;
  historyValue: Record<string, never>;
  matches(value: unknown): boolean;
  hasTag(tag: string): boolean;
  can(event: AnyEvent): boolean;
  getMeta(): Record<string, any>;
  toJSON(): FlatSnapshotJSON<TContext>;
}

/** What `toJSON` gives: XState's own serialization (no machine, nodes or methods; tags as an array). */
export interface FlatSnapshotJSON<TContext> {
  status: ActorStatus;
  output: unknown;
  error: unknown;
  context: TContext;
  value: unknown;
  children: Record<string, never>;
  historyValue: Record<string, never>;
  tags: string[];
}

/** What a snapshot derives from XState's state nodes, per compiled state: found once, on the first snapshot made in it. */
interface NodesOf {
  nodes: readonly AnyStateNode[];
  tags: ReadonlySet<string>;
}
const nodesCache = new WeakMap<CompiledState, NodesOf>();

const NO_NODES: NodesOf = { nodes: [], tags: new Set() };

function nodesOf(machine: AnyStateMachine | undefined, state: CompiledState): NodesOf {
  if (machine === undefined) return NO_NODES;
  let found = nodesCache.get(state);
  if (found === undefined) {
    const nodes: AnyStateNode[] = [machine.root];
    for (const key of state.path) nodes.push(nodes[nodes.length - 1]!.states[key]!);
    found = { nodes, tags: new Set(nodes.flatMap((node) => node.tags)) };
    nodesCache.set(state, found);
  }
  return found;
}

/** What an actor knows and the snapshot shows. */
export interface SnapshotFields<TContext> {
  status: ActorStatus;
  output: unknown;
  error: unknown;
  machine: AnyStateMachine | undefined;
  context: TContext;
  state: CompiledState;
  can(event: AnyEvent): boolean;
}

export function makeSnapshot<TContext>({
  status,
  output,
  error,
  machine,
  context,
  state,
  can,
}: SnapshotFields<TContext>): FlatSnapshot<TContext> {
  const { nodes, tags } = nodesOf(machine, state);
  return {
    status,
    output,
    error,
    machine,
    context,
    _nodes: nodes,
    value: state.value,
    tags: new Set(tags),
    children: {},
    historyValue: {},
    matches: snapshotMatches,
    hasTag: snapshotHasTag,
    can,
    getMeta: snapshotGetMeta,
    toJSON: snapshotToJSON,
  };
}

// The snapshot methods are shared, as XState's are, and read the snapshot they are called on.
function snapshotMatches(this: FlatSnapshot<unknown>, value: unknown): boolean {
  return matchesValue(pathOf(this.value), value);
}

/** `{ pending: 'queued' }` → `['pending', 'queued']`. */
function pathOf(value: unknown): string[] {
  const path: string[] = [];
  for (let v = value; v !== undefined;) {
    if (typeof v === 'string') {
      path.push(v);
      break;
    }
    const [key, inner] = Object.entries(v as object)[0]!;
    path.push(key);
    v = inner;
  }
  return path;
}
function snapshotHasTag(this: FlatSnapshot<unknown>, tag: string): boolean {
  return this.tags.has(tag);
}
function snapshotGetMeta(this: FlatSnapshot<unknown>): Record<string, any> {
  const meta: Record<string, any> = {};
  for (const node of this._nodes) if (node.meta !== undefined) meta[node.id] = node.meta;
  return meta;
}
function snapshotToJSON<TContext>(this: FlatSnapshot<TContext>): FlatSnapshotJSON<TContext> {
  const { _nodes, tags, machine, getMeta, toJSON, can, hasTag, matches, ...rest } = this;
  return { ...rest, tags: Array.from(tags) };
}
