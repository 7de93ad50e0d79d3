/**
 * Compiles an XState machine into a flat transition table, once, at load time.
 *
 * The machine stays the single source of truth: states, events, guards,
 * targets and the order of actions all come from its definition (its
 * `StateNode` tree). What the compiler adds is the work XState's interpreter
 * repeats for every event of every actor: finding the candidate transitions
 * of the active state and its ancestors, computing which states are exited and
 * entered, and ordering exit, transition and entry actions. Here that is done
 * once per (state, event type); at run time an event costs a Map lookup, the
 * guards, and the actions in a precomputed list.
 *
 * Supported: nested (compound) states, `on`, `always`, guards (named, or
 * `stateIn`), named and inline actions, `assign`, one `after` delay per machine,
 * one promise actor per machine (`invoke`), final states at the top level, and
 * `output`. Anything else (parallel or history states, wildcard events,
 * `raise`/`sendTo`/`spawn`, nested final states) is refused here, loudly, so a
 * machine that outgrows the light engine is noticed when it loads, not when a
 * call misbehaves.
 */
import type { AnyStateMachine } from 'xstate';
import {
  ancestry,
  atomicOf,
  entryPath,
  isDescendant,
  lcca,
  matchesValue,
  nest,
  UnsupportedMachineError,
  type AnyNode,
} from './state-tree.js';

export { matchesValue, UnsupportedMachineError } from './state-tree.js';

type AnyEvent = { type: string; [key: string]: unknown };

/**
 * What compiled steps read and write of the actor that runs them (a `FlatActor`,
 * named here by its shape so that the compiler does not import the interpreter).
 */
export interface StepActor<TContext = any> {
  context: TContext;
  readonly state: CompiledState;
  /** Whether an inspector watches: `assign` then makes a new context instead of changing it in place. */
  readonly inspected: boolean;
  /** Who the actor is for (one call), and what all actors of one owner share (its `host`). */
  readonly owner: unknown;
  readonly scope: { readonly host?: unknown };
}

export interface ActionArgs<TContext> {
  context: TContext;
  event: AnyEvent;
  self: StepActor<TContext>;
}

/** What a light actor can run for an invoked promise actor: the input and a lazily made abort signal. */
export interface InvokeScope {
  readonly input: unknown;
  /** Aborts when the invoking state is left (cancel, close). Made on first use. */
  readonly signal: AbortSignal;
}

export interface Implementations<TContext> {
  actions?: Record<string, (args: ActionArgs<TContext>, params: any) => void>;
  guards?: Record<string, (args: ActionArgs<TContext>, params: any) => boolean>;
  delays?: Record<string, (args: ActionArgs<TContext>) => number>;
  /** Promise actors by `src` name. */
  actors?: Record<string, (scope: InvokeScope, self: StepActor<TContext>) => PromiseLike<unknown>>;
}

/** One step of a transition, in execution order. */
export type Step =
  | { kind: 'action'; type: string; run: (actor: StepActor, event: AnyEvent) => void }
  | { kind: 'startTimer' }
  | { kind: 'stopTimer' }
  | { kind: 'startInvoke' }
  | { kind: 'stopInvoke' };

export interface CompiledTransition {
  guard: ((actor: StepActor, event: AnyEvent) => boolean) | undefined;
  /** Where the actor ends up (itself for a targetless transition). */
  target: CompiledState;
  steps: Step[];
}

export interface CompiledState {
  /** XState's id of the atomic state, e.g. `call.pending.queued`. */
  readonly id: string;
  /** The snapshot value, as XState gives it: `{ pending: 'queued' }` or `'resolved'`. */
  readonly value: unknown;
  /** Atomic state and its ancestors' keys, outermost first. */
  readonly path: readonly string[];
  readonly final: boolean;
  /** Candidate transitions by event type, deepest state's first. */
  readonly on: Map<string, CompiledTransition[]>;
  readonly always: CompiledTransition[];
  /** The final state's own `output` mapper, if any. */
  readonly output: ((args: { context: any; event: AnyEvent; self: unknown }) => unknown) | undefined;
}

export interface CompiledMachine {
  readonly machine: AnyStateMachine;
  readonly initial: CompiledTransition;
  readonly states: ReadonlyMap<string, CompiledState>;
  /** The one delayed event, if the machine has an `after`. */
  readonly timer: { eventType: string; delay: (args: ActionArgs<any>) => number } | undefined;
  /** The one invoked promise actor, if the machine has an `invoke`. */
  readonly invoke:
    | { id: string; run: (scope: InvokeScope, self: StepActor) => PromiseLike<unknown>; input: (args: ActionArgs<any>) => unknown }
    | undefined;
  readonly rootOutput: ((args: { context: any; event: AnyEvent; self: unknown }) => unknown) | undefined;
  readonly createContext: (input: unknown) => any;
}

export function compileMachine<TContext>(machine: AnyStateMachine, provided: Implementations<TContext> = {}): CompiledMachine {
  const impl = machine.implementations as { actions: Record<string, any>; guards: Record<string, any>; delays: Record<string, any> };
  const unsupported = (what: string): never => {
    throw new UnsupportedMachineError(`machine "${machine.id}": ${what} is not supported by the light engine`);
  };
  let timer: CompiledMachine['timer'];
  let invoke: CompiledMachine['invoke'];
  const atomic: AnyNode[] = [];

  // Walk the tree once: check what it uses, collect atomic states, the timer and the invoke.
  const walk = (node: AnyNode): void => {
    if (node.type === 'parallel' || node.type === 'history') unsupported(`${node.type} state "${node.id}"`);
    if (node.type === 'final' && node.parent !== root) unsupported(`nested final state "${node.id}"`);
    for (const key of node.transitions.keys()) if (key === '*' || key.endsWith('.*')) unsupported(`wildcard event "${key}"`);
    for (const action of node.entry) {
      if (action?.type === 'xstate.raise' && action.delay !== undefined) {
        if (timer) unsupported('more than one delayed transition');
        const delay = action.delay;
        const fn = typeof delay === 'number' ? () => delay : (provided.delays?.[delay] ?? impl.delays[delay]);
        if (typeof fn !== 'function' && typeof fn !== 'number') unsupported(`delay "${String(delay)}" without implementation`);
        timer = { eventType: action.event.type, delay: typeof fn === 'number' ? () => fn : fn };
      }
    }
    if (node.invoke.length > 0) {
      if (invoke || node.invoke.length > 1) unsupported('more than one invoked actor');
      const def = node.invoke[0]!;
      const run = typeof def.src === 'string' ? provided.actors?.[def.src] : undefined;
      if (!run) unsupported(`invoked actor "${String(def.src)}" without a light implementation`);
      const input = def.input;
      invoke = { id: def.id, run: run!, input: typeof input === 'function' ? input : () => input };
    }
    const children = Object.values(node.states) as AnyNode[];
    if (children.length === 0) atomic.push(node);
    for (const child of children) walk(child);
  };
  const root = machine.root as unknown as AnyNode;
  walk(root);

  const action = (item: any): Step => {
    if (typeof item === 'function' && typeof item.type === 'string' && item.type.startsWith('xstate.')) {
      if (item.type === 'xstate.raise' && item.delay !== undefined) return { kind: 'startTimer' };
      if (item.type === 'xstate.cancel') return { kind: 'stopTimer' };
      if (item.type === 'xstate.assign') return assignStep('assign', item, undefined);
      return unsupported(`built-in action "${item.type}"`);
    }
    if (typeof item === 'function')
      return { kind: 'action', type: item.name || 'inline', run: (actor, event) => item(argsOf(actor, event), undefined) };
    const type: string = typeof item === 'string' ? item : item.type;
    const params = typeof item === 'string' ? undefined : item.params;
    const fn = provided.actions?.[type] ?? impl.actions[type];
    if (typeof fn !== 'function') return unsupported(`action "${type}" without implementation`);
    if ((fn as any).type === 'xstate.assign') return assignStep(type, fn, params);
    if (typeof (fn as any).type === 'string' && (fn as any).type.startsWith('xstate.'))
      return unsupported(`built-in action "${(fn as any).type}"`);
    if (typeof params === 'function') {
      return { kind: 'action', type, run: (actor, event) => fn(argsOf(actor, event), params({ context: actor.context, event })) };
    }
    return { kind: 'action', type, run: (actor, event) => fn(argsOf(actor, event), params) };
  };

  const guard = (item: any): CompiledTransition['guard'] => {
    if (item === undefined) return undefined;
    const type: string | undefined = typeof item === 'string' ? item : typeof item === 'object' ? item.type : undefined;
    const params = typeof item === 'object' ? item.params : undefined;
    const fn = typeof item === 'function' ? item : (provided.guards?.[type!] ?? impl.guards[type!]);
    if (typeof fn !== 'function') return unsupported(`guard "${String(type)}" without implementation`);
    if (typeof (fn as any).check === 'function') {
      if ((fn as any).stateValue === undefined) return unsupported(`built-in guard "${fn.name}"`);
      const matching = new Set(atomic.filter((node) => matchesValue(node.path, (fn as any).stateValue)).map((node) => node.id));
      return (actor) => matching.has(actor.state.id);
    }
    if (typeof params === 'function') return (actor, event) => fn(argsOf(actor, event), params({ context: actor.context, event }));
    return (actor, event) => fn(argsOf(actor, event), params);
  };

  const states = new Map<string, CompiledState>();
  const stateOf = (node: AnyNode): CompiledState => states.get(atomicOf(node).id)!;

  // Entering a node means its entry actions, then its invoke; leaving it, its exit actions and stopping its invoke.
  const entrySteps = (node: AnyNode): Step[] => [
    ...node.entry.map(action),
    ...(node.invoke.length > 0 ? [{ kind: 'startInvoke' } as const] : []),
  ];
  const exitSteps = (node: AnyNode): Step[] => [
    ...node.exit.map(action),
    ...(node.invoke.length > 0 ? [{ kind: 'stopInvoke' } as const] : []),
  ];

  /** Compiles transition `t` (defined on `from` or one of its ancestors) as taken from the atomic state `from`. */
  const transition = (from: AnyNode, t: any): CompiledTransition => {
    const targets: AnyNode[] | undefined = t.target;
    const self = states.get(from.id)!;
    if (!targets || targets.length === 0) return { guard: guard(t.guard), target: self, steps: (t.actions as unknown[]).map(action) };
    if (targets.length > 1) unsupported(`transition with several targets in "${t.source.id}"`);
    const target = targets[0]!;
    if (target === t.source && !t.reenter) unsupported(`non-reentering self-transition of "${target.id}"`);
    // As XState: a transition into its own source's descendants exits nothing above the source.
    const domain = !t.reenter && isDescendant(target, t.source) ? t.source : lcca([target, t.source], root);
    const steps: Step[] = [];
    for (const node of ancestry(from).reverse()) if (node !== domain && isDescendant(node, domain)) steps.push(...exitSteps(node));
    steps.push(...(t.actions as unknown[]).map(action));
    for (const node of entryPath(domain, atomicOf(target))) steps.push(...entrySteps(node));
    return { guard: guard(t.guard), target: stateOf(target), steps };
  };

  for (const node of atomic) {
    states.set(node.id, {
      id: node.id,
      value: node.path.length === 1 ? node.path[0] : nest(node.path),
      path: node.path,
      final: node.type === 'final',
      on: new Map(),
      always: [],
      output: typeof node.output === 'function' ? (node.output as CompiledState['output']) : undefined,
    });
  }
  // Candidates of the state itself first, then of each ancestor up to the root, as XState selects them.
  for (const node of atomic) {
    const state = states.get(node.id)!;
    for (const ancestor of ancestry(node).reverse()) {
      for (const [type, list] of ancestor.transitions) {
        const candidates = state.on.get(type) ?? [];
        for (const t of list) candidates.push(transition(node, t));
        state.on.set(type, candidates);
      }
      for (const t of ancestor.always ?? []) state.always.push(transition(node, t));
    }
  }

  const firstAtomic = atomicOf(root);
  const initial: CompiledTransition = {
    guard: undefined,
    target: stateOf(firstAtomic),
    steps: [root, ...entryPath(root, firstAtomic)].flatMap(entrySteps),
  };
  const contextConfig = machine.config.context;
  return {
    machine,
    initial,
    states,
    timer,
    invoke,
    rootOutput: typeof root.output === 'function' ? (root.output as CompiledMachine['rootOutput']) : undefined,
    createContext:
      typeof contextConfig === 'function'
        ? (input) => contextConfig({ input, self: undefined, spawn: unsupportedSpawn })
        : () => ({ ...(contextConfig ?? {}) }),
  };

  function assignStep(type: string, fn: any, params: unknown): Step {
    const assignment = fn.assignment;
    // An object assignment's keys are fixed: read them once, not per event.
    const entries: Array<[string, unknown]> = typeof assignment === 'function' ? [] : Object.entries(assignment);
    return {
      kind: 'action',
      type,
      run: (actor, event) => {
        const args = argsOf(actor, event);
        const resolvedParams = typeof params === 'function' ? params({ context: actor.context, event }) : params;
        let partial: Record<string, unknown>;
        if (typeof assignment === 'function') partial = assignment(args, resolvedParams);
        else {
          partial = {};
          for (let i = 0; i < entries.length; i++) {
            const [key, v] = entries[i]!;
            partial[key] = typeof v === 'function' ? v(args, resolvedParams) : v;
          }
        }
        // Snapshots handed to an inspector stay as they were; otherwise nobody holds the old context.
        if (actor.inspected) actor.context = { ...actor.context, ...partial };
        else Object.assign(actor.context as object, partial);
      },
    };
  }
}

function argsOf<TContext>(actor: StepActor<TContext>, event: AnyEvent): ActionArgs<TContext> {
  return { context: actor.context, event, self: actor };
}

function unsupportedSpawn(): never {
  throw new UnsupportedMachineError('spawn in context is not supported by the light engine');
}
