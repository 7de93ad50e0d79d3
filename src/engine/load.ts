/**
 * Loads a machine's transition table (see `table.ts`) with the functions it
 * names into what a light actor runs (`actor.ts`): at run time an event costs a
 * Map lookup, the guards, and the actions in a precomputed list. Needs no
 * XState: the browser build runs its machines from generated tables and this.
 */
import type { AnyStateMachine } from 'xstate';
import { nest, UnsupportedMachineError } from './state-tree.js';
import {
  START_INVOKE,
  START_TIMER,
  STOP_INVOKE,
  STOP_TIMER,
  type MachineTable,
  type TableGuard,
  type TableStep,
  type TableTransition,
} from './table.js';

type AnyEvent = { type: string; [key: string]: unknown };

/**
 * What compiled steps read and write of the actor that runs them (a `FlatActor`,
 * named here by its shape so that the loader does not import the interpreter).
 */
export interface StepActor<TContext = any> {
  context: TContext;
  readonly state: CompiledState;
  /** Whether an inspector watches: an assignment then makes a new context instead of changing it in place. */
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

/** The functions a table names: the machine's logic (`machines/*.logic.ts`) and what the owner provides. */
export interface Implementations<TContext> {
  actions?: Record<string, (args: ActionArgs<TContext>, params: any) => void>;
  /** Assignments: each returns the part of the context it changes. */
  assign?: Record<string, (args: ActionArgs<TContext>, params: any) => object>;
  guards?: Record<string, (args: ActionArgs<TContext>, params: any) => boolean>;
  delays?: Record<string, (args: ActionArgs<TContext>) => number>;
  /** Promise actors by `src` name: each returns its output, or a promise of it (see `FlatActor.startInvoke`). */
  actors?: Record<string, (scope: InvokeScope, self: StepActor<TContext>) => unknown>;
  /** The context factory, outputs and the invoke's input, by name. */
  fns?: Record<string, (args: any) => any>;
}

/** A machine's logic as `machines/*.logic.ts` exports it (see `Implementations`), typed loosely: each is typed by its machine. */
export interface MachineLogic {
  assign?: Record<string, (args: any, params?: any) => object>;
  guards?: Record<string, (args: any) => boolean>;
  delays?: Record<string, (args: any) => number>;
  fns?: Record<string, (args: any) => any>;
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
  always: CompiledTransition[];
  /** The final state's own `output` mapper, if any. */
  readonly output: ((args: { context: any; event: AnyEvent; self: unknown }) => unknown) | undefined;
}

export interface CompiledMachine {
  readonly id: string;
  /** The XState machine the table was made from, when at hand (inspectors and snapshots show it). */
  readonly machine?: AnyStateMachine;
  readonly initial: CompiledTransition;
  readonly states: ReadonlyMap<string, CompiledState>;
  /** The one delayed event, if the machine has an `after`. */
  readonly timer: { eventType: string; delay: (args: ActionArgs<any>) => number } | undefined;
  /** The one invoked promise actor, if the machine has an `invoke`. */
  readonly invoke:
    | {
        id: string;
        /** The types of its done and error events, made once: an event type made per call is hashed and compared char by char at each lookup. */
        doneType: string;
        errorType: string;
        run: (scope: InvokeScope, self: StepActor) => unknown;
        input: (args: ActionArgs<any>) => unknown;
      }
    | undefined;
  readonly rootOutput: ((args: { context: any; event: AnyEvent; self: unknown }) => unknown) | undefined;
  readonly createContext: (input: unknown) => any;
}

const BUILT_IN: Record<string, Step> = {
  [START_TIMER]: { kind: 'startTimer' },
  [STOP_TIMER]: { kind: 'stopTimer' },
  [START_INVOKE]: { kind: 'startInvoke' },
  [STOP_INVOKE]: { kind: 'stopInvoke' },
};

/** Builds what light actors run from `table` and the functions it names; a name without a function is refused here, when it loads. */
export function loadMachine<TContext>(table: MachineTable, impl: Implementations<TContext>, machine?: AnyStateMachine): CompiledMachine {
  const missing = (what: string): never => {
    throw new UnsupportedMachineError(`machine "${table.id}": ${what} without implementation`);
  };
  const named = <F>(group: Record<string, F> | undefined, name: string, what: string): F => group?.[name] ?? missing(`${what} "${name}"`);
  const fn = (name: string | undefined) => (name === undefined ? undefined : named(impl.fns, name, 'function'));

  const list = table.states.map((s) => ({
    id: s.id ?? `${table.id}.${s.path.join('.')}`,
    value: s.path.length === 1 ? s.path[0] : nest(s.path),
    path: s.path,
    final: s.final === true,
    on: new Map<string, CompiledTransition[]>(),
    always: [] as CompiledTransition[],
    output: fn(s.output),
  }));

  const step = (item: TableStep): Step => {
    const [type, params] = typeof item === 'string' ? [item, undefined] : item;
    if (type in BUILT_IN) return BUILT_IN[type]!;
    const action = impl.actions?.[type];
    if (action) return { kind: 'action', type, run: (actor, event) => action(argsOf(actor, event), params) };
    const assignment = named(impl.assign, type, 'action');
    return {
      kind: 'action',
      type,
      run: (actor, event) => {
        const partial = assignment(argsOf(actor, event), params);
        // Snapshots handed to an inspector stay as they were; otherwise nobody holds the old context. Each member
        // written by hand, not with `Object.assign`, whose generic copy costs about 260 instructions (issue 16).
        if (actor.inspected) actor.context = { ...actor.context, ...partial };
        else {
          const context = actor.context as Record<string, unknown>;
          for (const key in partial) context[key] = (partial as Record<string, unknown>)[key];
        }
      },
    };
  };

  const guard = (item: TableGuard | undefined): CompiledTransition['guard'] => {
    if (item === undefined) return undefined;
    if (typeof item !== 'string') {
      const matching = new Set(item.in.map((i) => list[i]));
      return (actor) => matching.has(actor.state as (typeof list)[number]);
    }
    const check = named(impl.guards, item, 'guard');
    return (actor, event) => check(argsOf(actor, event), undefined);
  };

  const transition = (t: TableTransition): CompiledTransition => ({
    guard: guard(t.guard),
    target: list[t.target]!,
    steps: t.steps.map(step),
  });

  const states = new Map<string, CompiledState>();
  table.states.forEach((s, i) => {
    const state = list[i]!;
    for (const type in s.on) state.on.set(type, s.on[type]!.map(transition));
    state.always = (s.always ?? []).map(transition);
    states.set(state.id, state);
  });

  const { timer, invoke } = table;
  const delay = timer?.delay;
  const context = fn(table.context);
  return {
    id: table.id,
    machine,
    initial: transition(table.initial),
    states,
    timer: timer && {
      eventType: timer.event,
      delay: typeof delay === 'number' ? () => delay : named(impl.delays, delay!, 'delay'),
    },
    invoke: invoke && {
      id: invoke.id,
      doneType: `xstate.done.actor.${invoke.id}`,
      errorType: `xstate.error.actor.${invoke.id}`,
      run: named(impl.actors, invoke.src, 'invoked actor'),
      input: fn(invoke.input) ?? (() => undefined),
    },
    rootOutput: fn(table.output),
    createContext: context ? (input) => context({ input, self: undefined, spawn: unsupportedSpawn }) : () => ({}),
  };
}

function argsOf<TContext>(actor: StepActor<TContext>, event: AnyEvent): ActionArgs<TContext> {
  return { context: actor.context, event, self: actor };
}

function unsupportedSpawn(): never {
  throw new UnsupportedMachineError('spawn in context is not supported by the light engine');
}
