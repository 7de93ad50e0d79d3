/**
 * Reads a machine's definition into a plain graph that every diagram format is
 * drawn from: its state nodes (nested, with descriptions) and its transitions
 * (event, guard, actions, targets), in the order the machine declares them.
 */
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export interface StateInfo {
  /** XState's id of the node, e.g. `call.pending.queued`. */
  id: string;
  key: string;
  type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
  description: string | undefined;
  /** Key of the initial child of a compound state. */
  initial: string | undefined;
  entry: ActionInfo[];
  exit: ActionInfo[];
  /** Names (`src`) of the actors the state invokes. */
  invoke: string[];
  children: StateInfo[];
}

export interface ActionInfo {
  type: string;
  /** Parameters when they are plain data (a function is left out: it cannot be drawn or serialized). */
  params?: Record<string, unknown>;
}

/** How the transition is triggered. */
export type Trigger =
  { kind: 'event'; event: string } | { kind: 'after'; delay: string } | { kind: 'always' } | { kind: 'done' | 'error'; actor: string };

export interface TransitionInfo {
  source: string;
  /** Target state ids; empty for a transition that only runs actions. */
  targets: string[];
  trigger: Trigger;
  guard: string | undefined;
  actions: ActionInfo[];
}

export interface MachineGraph {
  id: string;
  root: StateInfo;
  transitions: TransitionInfo[];
}

export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const transitions: TransitionInfo[] = [];
  const root = readState(machine.root, transitions);
  return { id: machine.root.id, root, transitions };
}

/** Every state below the root, depth first, in declaration order. */
export function allStates(graph: MachineGraph): StateInfo[] {
  const out: StateInfo[] = [];
  const visit = (state: StateInfo) => {
    for (const child of state.children) {
      out.push(child);
      visit(child);
    }
  };
  visit(graph.root);
  return out;
}

/** `event [guard] / action, action`: the label drawn on an edge. */
export function edgeLabel(transition: TransitionInfo): string {
  let label = triggerLabel(transition.trigger);
  if (transition.guard) label += ` [${transition.guard}]`;
  if (transition.actions.length > 0) label += ` / ${transition.actions.map(actionLabel).join(', ')}`;
  return label;
}

export function triggerLabel(trigger: Trigger): string {
  switch (trigger.kind) {
    case 'event':
      return trigger.event;
    case 'after':
      return `after ${trigger.delay}`;
    case 'always':
      return 'always';
    case 'done':
      return `done ${trigger.actor}`;
    case 'error':
      return `error ${trigger.actor}`;
  }
}

/** An action as drawn: its name, with its params when they are data, e.g. `settleCaller(status=resolved)`. */
export function actionLabel(action: ActionInfo): string {
  if (!action.params) return action.type;
  const params = Object.entries(action.params).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return `${action.type}(${params.join(', ')})`;
}

function readState(node: AnyStateNode, transitions: TransitionInfo[]): StateInfo {
  const invokes = node.invoke.map((def) => ({ id: def.id, src: String(def.src) }));
  for (const [eventType, list] of node.transitions) {
    for (const t of list) {
      transitions.push({
        source: node.id,
        targets: (t.target ?? []).map((target: AnyStateNode) => target.id),
        trigger: triggerOf(eventType, node, invokes),
        guard: guardName(t.guard),
        actions: readActions(t.actions),
      });
    }
  }
  for (const t of node.always ?? []) {
    transitions.push({
      source: node.id,
      targets: (t.target ?? []).map((target: AnyStateNode) => target.id),
      trigger: { kind: 'always' },
      guard: guardName(t.guard),
      actions: readActions(t.actions),
    });
  }
  const children = Object.values(node.states as Record<string, AnyStateNode>).map((child) => readState(child, transitions));
  const initialTarget = node.type === 'compound' ? node.initial?.target?.[0] : undefined;
  return {
    id: node.id,
    key: node.key,
    type: node.type,
    description: node.description,
    initial: initialTarget?.key,
    entry: readActions(withoutDelayTimers(node, node.entry)),
    exit: readActions(withoutDelayTimers(node, node.exit)),
    invoke: invokes.map((i) => i.src),
    children,
  };
}

function triggerOf(eventType: string, node: AnyStateNode, invokes: Array<{ id: string; src: string }>): Trigger {
  const after = node.after.find((t) => t.eventType === eventType);
  if (after) return { kind: 'after', delay: String((after as { delay?: unknown }).delay) };
  for (const invoke of invokes) {
    if (eventType === `xstate.done.actor.${invoke.id}`) return { kind: 'done', actor: invoke.src };
    if (eventType === `xstate.error.actor.${invoke.id}`) return { kind: 'error', actor: invoke.src };
  }
  return { kind: 'event', event: eventType };
}

/** XState implements `after` with a raise on entry and a cancel on exit: those are drawn as the `after` edge. */
function withoutDelayTimers(node: AnyStateNode, actions: readonly unknown[]): unknown[] {
  const delayed = new Set(node.after.map((t) => t.eventType));
  return actions.filter((action) => {
    const a = action as { type?: unknown; id?: unknown; sendId?: unknown };
    if (typeof action !== 'function') return true;
    return !((a.type === 'xstate.raise' && delayed.has(a.id as string)) || (a.type === 'xstate.cancel' && delayed.has(a.sendId as string)));
  });
}

function guardName(guard: unknown): string | undefined {
  if (guard === undefined) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object' && guard !== null && 'type' in guard) return String((guard as { type: unknown }).type);
  // An inline guard function has no name to show: the machines name every guard in setup().
  throw new TypeError('unnamed guard: name every guard in setup() so diagrams can show it');
}

function readActions(actions: readonly unknown[]): ActionInfo[] {
  return actions.map((action) => {
    if (typeof action === 'string') return { type: action };
    if (typeof action === 'object' && action !== null && 'type' in action) {
      const { type, params } = action as { type: unknown; params?: unknown };
      return params && typeof params === 'object'
        ? { type: String(type), params: params as Record<string, unknown> }
        : { type: String(type) };
    }
    throw new TypeError('unnamed action: name every action in setup() so diagrams can show it');
  });
}
