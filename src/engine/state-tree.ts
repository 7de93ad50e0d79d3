/**
 * Walking XState's state tree as the compiler needs it: paths and values,
 * ancestors, the least common compound ancestor of a transition, the atomic
 * state a target enters. Pure functions of the nodes.
 */

/** What the compiler reads of XState's `StateNode` (typed loosely: these are XState's internals). */
/** Thrown at load time when a machine uses what the light engine does not run. */
export class UnsupportedMachineError extends Error {
  override name = 'UnsupportedMachineError';
}

export interface AnyNode {
  id: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  path: string[];
  parent: AnyNode | undefined;
  states: Record<string, AnyNode>;
  entry: any[];
  exit: any[];
  invoke: any[];
  transitions: Map<string, any[]>;
  always: any[] | undefined;
  initial: { target: AnyNode[]; actions: unknown[] } | undefined;
  output: unknown;
}
/** `['pending', 'queued']` → `{ pending: 'queued' }`. */
export function nest(path: readonly string[]): unknown {
  let value: unknown = path[path.length - 1];
  for (let i = path.length - 2; i >= 0; i--) value = { [path[i]!]: value };
  return value;
}

/** The node and its ancestors, outermost (root) first. */
export function ancestry(node: AnyNode): AnyNode[] {
  const chain: AnyNode[] = [];
  for (let n: AnyNode | undefined = node; n; n = n.parent) chain.unshift(n);
  return chain;
}

export function isDescendant(node: AnyNode, of: AnyNode): boolean {
  for (let n = node.parent; n; n = n.parent) if (n === of) return true;
  return false;
}

/** The least common compound ancestor: the deepest proper ancestor holding every node. */
export function lcca(nodes: AnyNode[], root: AnyNode): AnyNode {
  for (const candidate of ancestry(nodes[0]!).reverse()) {
    if (candidate === nodes[0]) continue;
    if (nodes.every((n) => isDescendant(n, candidate))) return candidate;
  }
  return root;
}

/** Follows initial states down to an atomic state. */
export function atomicOf(node: AnyNode): AnyNode {
  let n = node;
  while (Object.keys(n.states).length > 0) {
    const initial = n.initial;
    if (!initial || initial.target.length !== 1) throw new UnsupportedMachineError(`state "${n.id}" has no single initial state`);
    if (initial.actions.length > 0) throw new UnsupportedMachineError(`initial transition of "${n.id}" has actions`);
    n = initial.target[0]!;
  }
  return n;
}

/** The nodes entered going from `domain` (exclusive) down to the atomic `target`, outermost first. */
export function entryPath(domain: AnyNode, target: AnyNode): AnyNode[] {
  return ancestry(target).filter((n) => n !== domain && isDescendant(n, domain));
}

/** Whether a state path matches a state value such as `{ pending: 'queued' }` or `'resolved'`. */
export function matchesValue(path: readonly string[], value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return path[depth] === value;
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).every(
    ([key, inner]) => path[depth] === key && (inner === undefined || matchesValue(path, inner, depth + 1)),
  );
}
