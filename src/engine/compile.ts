/**
 * Compiles an XState machine into the light engine's transition table (see
 * `table.ts`): run by `npm run generate:tables` for the machines of machines/
 * (whose tables the library loads), and by tests for machines of their own.
 * Needs XState's resolved machine objects, so it is never part of a build.
 *
 * The machine stays the single source of truth: states, events, guards,
 * targets and the order of actions all come from its definition (its
 * `StateNode` tree). What the compiler adds is the work XState's interpreter
 * repeats for every event of every actor: finding the candidate transitions
 * of the active state and its ancestors, computing which states are exited and
 * entered, and ordering exit, transition and entry actions. Here that is done
 * once per (state, event type).
 *
 * Supported: nested (compound) states, `on`, `always`, guards (named, or
 * `stateIn`), named and inline actions, `assign`, one `after` delay per machine,
 * one promise actor per machine (`invoke`), final states at the top level, and
 * `output`. Anything else (parallel or history states, wildcard events,
 * `raise`/`sendTo`/`spawn`, nested final states) is refused here, loudly, so a
 * machine that outgrows the light engine is noticed when its table is made.
 */
import type { AnyStateMachine } from 'xstate';
import { loadMachine, type CompiledMachine, type Implementations, type MachineLogic } from './load.js';
import { ancestry, atomicOf, entryPath, isDescendant, lcca, matchesValue, UnsupportedMachineError, type AnyNode } from './state-tree.js';
import {
  START_INVOKE,
  START_TIMER,
  STOP_INVOKE,
  STOP_TIMER,
  type MachineTable,
  type TableGuard,
  type TableState,
  type TableStep,
  type TableTransition,
} from './table.js';

export { loadMachine, type CompiledMachine, type CompiledState, type Implementations, type MachineLogic, type StepActor } from './load.js';
export { matchesValue, UnsupportedMachineError } from './state-tree.js';

type AnyFn = (...args: any[]) => any;

/**
 * The table of `machine`. With `logic` (the functions its `setup()` and config use, by group, as
 * `machines/*.logic.ts` exports them), every function of the machine must be
 * one of logic's (the table names it by its key): this is how the tables of
 * machines/ are generated. Without, the machine's own functions are collected
 * into `impl` under their names (or `inline:N`), for machines written in tests.
 */
export function tableOf(machine: AnyStateMachine, logic?: MachineLogic): { table: MachineTable; impl: Implementations<any> } {
  const setupImpl = machine.implementations as { actions: Record<string, any>; guards: Record<string, any>; delays: Record<string, any> };
  const impl: Required<Pick<Implementations<any>, 'actions' | 'assign' | 'guards' | 'delays' | 'fns'>> = {
    actions: {},
    assign: {},
    guards: {},
    delays: {},
    fns: {},
  };
  const unsupported = (what: string): never => {
    throw new UnsupportedMachineError(`machine "${machine.id}": ${what} is not supported by the light engine`);
  };
  let inline = 0;
  /** The name of function `fn` of `group`: its key in `logic` (required then), or `preferred` (or a new one), registered in `impl`. */
  const nameOf = (group: keyof MachineLogic, fn: AnyFn, preferred: string | undefined, what: string): string => {
    if (logic) {
      const found = Object.entries(logic[group] ?? {}).find(([, f]) => f === fn);
      if (!found) return unsupported(`${what} that is not in the machine's logic (${group}): name it in machines/*.logic.ts;`);
      return found[0];
    }
    const name = preferred ?? `inline:${inline++}`;
    (impl[group] as Record<string, AnyFn>)[name] = fn;
    return name;
  };

  const root = machine.root as unknown as AnyNode;
  const atomic: AnyNode[] = [];
  let timer: MachineTable['timer'];
  let invoke: MachineTable['invoke'];

  // Walk the tree once: check what it uses, collect atomic states, the timer and the invoke.
  const walk = (node: AnyNode): void => {
    if (node.type === 'parallel' || node.type === 'history') unsupported(`${node.type} state "${node.id}"`);
    if (node.type === 'final' && node.parent !== root) unsupported(`nested final state "${node.id}"`);
    for (const key of node.transitions.keys()) if (key === '*' || key.endsWith('.*')) unsupported(`wildcard event "${key}"`);
    for (const action of node.entry) {
      if (action?.type === 'xstate.raise' && action.delay !== undefined) {
        if (timer) unsupported('more than one delayed transition');
        const delay = action.delay;
        if (typeof delay === 'number') timer = { event: action.event.type, delay };
        else {
          const fn = setupImpl.delays[delay];
          if (typeof fn === 'number') timer = { event: action.event.type, delay: fn };
          else if (typeof fn !== 'function') unsupported(`delay "${String(delay)}" without implementation`);
          else timer = { event: action.event.type, delay: nameOf('delays', fn, delay, `delay "${delay}"`) };
        }
      }
    }
    if (node.invoke.length > 0) {
      if (invoke || node.invoke.length > 1) unsupported('more than one invoked actor');
      const def = node.invoke[0]!;
      if (typeof def.src !== 'string') unsupported(`invoked actor "${String(def.src)}" not named in setup`);
      const input = def.input;
      if (input !== undefined && typeof input !== 'function') unsupported(`invoked actor "${def.src}" with a constant input`);
      invoke = { id: def.id, src: def.src, ...(input ? { input: nameOf('fns', input, undefined, `the input of "${def.src}"`) } : {}) };
    }
    const children = Object.values(node.states);
    if (children.length === 0) atomic.push(node);
    for (const child of children) walk(child);
  };
  walk(root);
  const indexOf = new Map(atomic.map((node, i) => [node, i]));
  const stateIndex = (node: AnyNode) => indexOf.get(atomicOf(node))!;

  /** An assignment as a function returning the changed part of the context. */
  const assignment = (action: any, name: string | undefined): string => {
    const { assignment: a } = action;
    if (typeof a === 'function') return nameOf('assign', a, name, `assignment "${name ?? 'inline'}"`);
    if (logic)
      return unsupported(`assignment "${name ?? 'inline'}" written as an object: give assign() a function of machines/*.logic.ts;`);
    const entries = Object.entries(a as Record<string, unknown>);
    return nameOf(
      'assign',
      (args: unknown, params: unknown) =>
        Object.fromEntries(entries.map(([key, v]) => [key, typeof v === 'function' ? v(args, params) : v])),
      name,
      'assignment',
    );
  };

  const action = (item: any): TableStep => {
    if (typeof item === 'function' && typeof item.type === 'string' && item.type.startsWith('xstate.')) {
      if (item.type === 'xstate.raise' && item.delay !== undefined) return START_TIMER;
      if (item.type === 'xstate.cancel') return STOP_TIMER;
      if (item.type === 'xstate.assign') return assignment(item, undefined);
      return unsupported(`built-in action "${item.type}"`);
    }
    if (typeof item === 'function') {
      if (logic) return unsupported(`inline action "${item.name || 'anonymous'}": name it in setup;`);
      return nameOfAction(item, undefined);
    }
    const type: string = typeof item === 'string' ? item : item.type;
    const params = typeof item === 'string' ? undefined : item.params;
    if (typeof params === 'function') unsupported(`action "${type}" with a params function (read the event in the action instead)`);
    const fn = setupImpl.actions[type];
    let name = type;
    if (fn?.type === 'xstate.assign') name = assignment(fn, type);
    else if (typeof fn?.type === 'string' && fn.type.startsWith('xstate.')) unsupported(`built-in action "${fn.type}"`);
    // Any other named action is the owner's (setup's is a placeholder); without logic, setup's is the default.
    else if (!logic && typeof fn === 'function') nameOfAction(fn, type);
    return params === undefined ? name : [name, params];
  };
  function nameOfAction(fn: AnyFn, name: string | undefined): string {
    const key = name ?? `inline:${inline++}`;
    impl.actions[key] = fn;
    return key;
  }

  const guard = (item: any): TableGuard | undefined => {
    if (item === undefined) return undefined;
    if (typeof item === 'function' && typeof item.check !== 'function') {
      if (logic) return unsupported(`inline guard "${item.name || 'anonymous'}": name it in setup;`);
      return nameOf('guards', item, undefined, 'guard');
    }
    const type: string | undefined = typeof item === 'string' ? item : typeof item === 'object' ? item.type : undefined;
    if (typeof item === 'object' && item.params !== undefined) unsupported(`guard "${type}" with params`);
    const fn = typeof item === 'function' ? item : setupImpl.guards[type!];
    if (typeof fn?.check === 'function') {
      if (fn.stateValue === undefined) return unsupported(`built-in guard "${fn.name}"`);
      return { in: atomic.flatMap((node, i) => (matchesValue(node.path, fn.stateValue) ? [i] : [])) };
    }
    if (typeof fn !== 'function') return type!; // the owner's, provided when the table is loaded
    if (logic) return Object.entries(logic.guards ?? {}).some(([, f]) => f === fn) ? nameOf('guards', fn, type, `guard "${type}"`) : type!;
    return nameOf('guards', fn, type, `guard "${type}"`);
  };

  // Entering a node means its entry actions, then its invoke; leaving it, its exit actions and stopping its invoke.
  const entrySteps = (node: AnyNode): TableStep[] => [...node.entry.map(action), ...(node.invoke.length > 0 ? [START_INVOKE] : [])];
  const exitSteps = (node: AnyNode): TableStep[] => [...node.exit.map(action), ...(node.invoke.length > 0 ? [STOP_INVOKE] : [])];

  const withGuard = (t: { target: number; steps: TableStep[] }, g: TableGuard | undefined): TableTransition =>
    g === undefined ? t : { ...t, guard: g };

  /** Compiles transition `t` (defined on `from` or one of its ancestors) as taken from the atomic state `from`. */
  const transition = (from: AnyNode, t: any): TableTransition => {
    const targets: AnyNode[] | undefined = t.target;
    const g = guard(t.guard);
    if (!targets || targets.length === 0) return withGuard({ target: indexOf.get(from)!, steps: (t.actions as unknown[]).map(action) }, g);
    if (targets.length > 1) unsupported(`transition with several targets in "${t.source.id}"`);
    const target = targets[0]!;
    if (target === t.source && !t.reenter) unsupported(`non-reentering self-transition of "${target.id}"`);
    // As XState: a transition into its own source's descendants exits nothing above the source.
    const domain = !t.reenter && isDescendant(target, t.source) ? t.source : lcca([target, t.source], root);
    const steps: TableStep[] = [];
    for (const node of ancestry(from).reverse()) if (node !== domain && isDescendant(node, domain)) steps.push(...exitSteps(node));
    steps.push(...(t.actions as unknown[]).map(action));
    for (const node of entryPath(domain, atomicOf(target))) steps.push(...entrySteps(node));
    return withGuard({ target: stateIndex(target), steps }, g);
  };

  const output = (fn: unknown, what: string) => (typeof fn === 'function' ? nameOf('fns', fn as AnyFn, undefined, what) : undefined);

  const states: TableState[] = atomic.map((node) => {
    const on: Record<string, TableTransition[]> = {};
    const always: TableTransition[] = [];
    // Candidates of the state itself first, then of each ancestor up to the root, as XState selects them.
    for (const ancestor of ancestry(node).reverse()) {
      for (const [type, list] of ancestor.transitions) (on[type] ??= []).push(...list.map((t) => transition(node, t)));
      for (const t of ancestor.always ?? []) always.push(transition(node, t));
    }
    const out = output(node.output, `the output of "${node.id}"`);
    return {
      path: node.path,
      ...(node.id === [machine.id, ...node.path].join('.') ? {} : { id: node.id }),
      ...(node.type === 'final' ? { final: true as const } : {}),
      ...(Object.keys(on).length > 0 ? { on } : {}),
      ...(always.length > 0 ? { always } : {}),
      ...(out ? { output: out } : {}),
    };
  });

  const firstAtomic = atomicOf(root);
  const contextConfig = machine.config.context;
  let context: string | undefined;
  if (typeof contextConfig === 'function') context = nameOf('fns', contextConfig, undefined, 'the context factory');
  else if (contextConfig !== undefined) {
    if (logic) unsupported('a constant context: give the machine a context factory of machines/*.logic.ts;');
    context = nameOf('fns', () => ({ ...contextConfig }), 'context', 'context');
  }
  const rootOutput = output(root.output, 'the machine output');
  const table: MachineTable = {
    id: machine.id,
    ...(context ? { context } : {}),
    ...(rootOutput ? { output: rootOutput } : {}),
    initial: { target: indexOf.get(firstAtomic)!, steps: [root, ...entryPath(root, firstAtomic)].flatMap(entrySteps) },
    states,
    ...(timer ? { timer } : {}),
    ...(invoke ? { invoke } : {}),
  };
  return { table, impl };
}

/** Compiles `machine` (a test's, say) for the light engine, with `provided` over the machine's own implementations. */
export function compileMachine<TContext>(machine: AnyStateMachine, provided: Implementations<TContext> = {}): CompiledMachine {
  const { table, impl } = tableOf(machine);
  return loadMachine<TContext>(
    table,
    {
      actions: { ...impl.actions, ...provided.actions },
      assign: impl.assign,
      guards: { ...impl.guards, ...provided.guards },
      delays: { ...impl.delays, ...provided.delays },
      actors: provided.actors,
      fns: impl.fns,
    },
    machine,
  );
}
