/**
 * The light engine's transition table of a machine: plain data, generated from
 * the machine (`npm run generate:tables` writes `src/engine/generated/*.table.ts`)
 * and loaded at run time by `load.ts`, which needs no XState. Functions are
 * named, not held: actions, guards, delays, the context factory, outputs and
 * the invoke's input are looked up by name in the machine's logic
 * (`machines/*.logic.ts`) and in what the owner provides.
 *
 * Each atomic state lists its own transitions and those of its ancestors
 * (deepest first, as XState selects them), already resolved: the target's
 * index and every step in execution order (exit actions, the transition's
 * actions, entry actions, timers and the invoke).
 */

/** The built-in steps: arm or cancel the machine's one delayed event, start or stop its one invoked actor. */
export const START_TIMER = '@timer';
export const STOP_TIMER = '@cancelTimer';
export const START_INVOKE = '@invoke';
export const STOP_INVOKE = '@stopInvoke';

/** An action by name (an assignment of the machine's logic, or an action the owner provides), with static params if any; or a built-in step. */
export type TableStep = string | readonly [name: string, params: unknown];

/** A guard by name, or `in`: the indices of the atomic states where XState's `stateIn` holds. */
export type TableGuard = string | { readonly in: readonly number[] };

export interface TableTransition {
  /** Index of the atomic state the actor ends in (its own for a targetless transition). */
  readonly target: number;
  readonly steps: readonly TableStep[];
  readonly guard?: TableGuard;
}

export interface TableState {
  /** Its keys from the root down, e.g. `['pending', 'queued']`. */
  readonly path: readonly string[];
  /** XState's id of the atomic state, when it is not the machine's id and the path joined by dots (`call.pending.queued`). */
  readonly id?: string;
  readonly final?: true;
  /** Candidate transitions by event type, deepest state's first. */
  readonly on?: Readonly<Record<string, readonly TableTransition[]>>;
  readonly always?: readonly TableTransition[];
  /** The final state's output mapper, by name. */
  readonly output?: string;
}

export interface MachineTable {
  readonly id: string;
  /** The context factory, by name (none: an empty context). */
  readonly context?: string;
  /** The machine's output mapper, by name. */
  readonly output?: string;
  /** Entering the initial state from nothing. */
  readonly initial: TableTransition;
  readonly states: readonly TableState[];
  /** The one delayed event: its type and its delay (a name, or milliseconds). */
  readonly timer?: { readonly event: string; readonly delay: string | number };
  /** The one invoked promise actor: its id, the owner's actor by name, the input mapper by name. */
  readonly invoke?: { readonly id: string; readonly src: string; readonly input?: string };
}
