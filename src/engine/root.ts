/**
 * A machine run as a root actor of its own (the connection): on the light
 * engine from its table, or as a full XState actor (`XStateEngine.root`, Node
 * build). Its owner steps it with `send` and reads its state after each step;
 * `onTimer` tells it when a delayed transition (the reconnect backoff) stepped
 * it without a send of its own.
 */
import type { AnyStateMachine } from 'xstate';
import type { Clock, InspectOption } from '../types.js';
import { FlatActor, type ActorScope, type FlatSnapshot } from './actor.js';
import { toInspectFunction } from './inspectable.js';
import { schedulerFor } from './deadlines.js';
import { loadMachine, type ActionArgs, type CompiledMachine, type MachineLogic } from './load.js';
import type { MachineTable } from './table.js';

type AnyEvent = { type: string; [key: string]: unknown };

export interface RootActor<TContext, TEvent> {
  /** The actor itself, as its owner shows it (`client.actor`). */
  readonly ref: any;
  start(): void;
  send(event: TEvent): void;
  /** The state value, e.g. `{ connecting: 'opening' }` or `'open'`. */
  readonly value: unknown;
  readonly context: TContext;
}

export interface RootOptions<TContext> {
  input: unknown;
  /** The owner's actions, as XState gives them their arguments. */
  actions: Record<string, (args: { context: TContext; event: any }) => void>;
  inspect: InspectOption;
  clock: Clock | undefined;
  /** A delayed transition was taken. */
  onTimer: () => void;
}

type RootActions<TContext> = RootOptions<TContext>['actions'];

/** What `subscribe` takes, as XState's actors do: a function for each snapshot, or an observer. */
type SnapshotObserver<TContext> =
  | ((snapshot: FlatSnapshot<TContext>) => void)
  | {
      next?: (snapshot: FlatSnapshot<TContext>) => void;
      error?: (error: unknown) => void;
      complete?: () => void;
    };

/**
 * A light root actor (a connection's): its expired deadline is reported to its owner once the step is done, and
 * `subscribe` tells observers each snapshot after a step, as XState's `actor.subscribe` does (the connection actor
 * is `client.actor` in the browser build, and a server's `peer.actor`). Its owner is its actions.
 */
class TimedActor<TContext> extends FlatActor<TContext, RootActions<TContext>> {
  onTimer: () => void = () => {};
  private observers: Set<Exclude<SnapshotObserver<TContext>, (snapshot: FlatSnapshot<TContext>) => void>> | undefined;
  /** Steps under way (an event sent from inside an action is taken within the same outermost step). */
  private depth = 0;

  override start(): this {
    this.step(() => super.start());
    return this;
  }

  override send(event: { type: string; [key: string]: unknown }): void {
    this.step(() => super.send(event));
  }

  override expire(): void {
    this.step(() => super.expire());
    this.onTimer();
  }

  override stop(): void {
    this.step(() => super.stop());
  }

  subscribe(observer: SnapshotObserver<TContext>): { unsubscribe(): void } {
    const entry = typeof observer === 'function' ? { next: observer } : observer;
    if (this.status !== 'active') {
      if (this.status === 'done' || this.status === 'stopped') entry.complete?.();
      return { unsubscribe: () => {} };
    }
    (this.observers ??= new Set()).add(entry);
    return { unsubscribe: () => void this.observers?.delete(entry) };
  }

  /** Runs one step; once the outermost ends, each observer gets the snapshot, and the end if the actor stopped. */
  private step(run: () => void): void {
    this.depth++;
    try {
      run();
    } finally {
      this.depth--;
    }
    if (this.depth > 0 || this.observers === undefined || this.observers.size === 0) return;
    const snapshot = this.getSnapshot();
    for (const observer of [...this.observers]) tell(() => observer.next?.(snapshot));
    if (this.status === 'active') return;
    const observers = [...this.observers];
    this.observers.clear();
    for (const observer of observers) tell(() => (this.status === 'error' ? observer.error?.(snapshot.error) : observer.complete?.()));
  }
}

/** Runs an observer; what it throws is thrown outside the step, as XState reports an observer's error, never into it. */
function tell(run: () => void): void {
  try {
    run();
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}

/** Each table as loaded for root actors, by table. */
const loaded = new WeakMap<MachineTable, CompiledMachine>();

/**
 * `table` loaded once for every root actor that runs it (a table loaded per connection was about 9 KB of heap
 * each): each action it names runs the acting actor's own, which its owner holds.
 */
function loadRoot<TContext>(table: MachineTable, logic: MachineLogic, actionNames: string[]): CompiledMachine {
  let compiled = loaded.get(table);
  if (compiled === undefined) {
    const actions: Record<string, (args: ActionArgs<TContext>) => void> = {};
    for (const name of actionNames) actions[name] = (args) => (args.self.owner as RootActions<TContext>)[name]!(args);
    compiled = loadMachine<TContext>(table, { ...logic, actions });
    loaded.set(table, compiled);
  }
  return compiled;
}

/** Runs `table` (with the machine's `logic`) as a root actor on the light engine; `machine` is shown to inspectors. */
export function lightRoot<TContext, TEvent>(
  table: MachineTable,
  logic: MachineLogic,
  options: RootOptions<TContext>,
  machine?: AnyStateMachine,
): RootActor<TContext, TEvent> {
  const compiled = loadRoot<TContext>(table, logic, Object.keys(options.actions));
  const scope: ActorScope = {
    scheduler: schedulerFor(options.clock),
    inspect: toInspectFunction(options.inspect),
    parent: undefined,
    onDone: undefined,
    machine,
  };
  const actor = new TimedActor<TContext>(compiled, scope, options.input, options.actions);
  actor.onTimer = options.onTimer;
  return new LightRoot<TContext, TEvent>(actor);
}

/**
 * A light root actor as a `RootActor`. A class, not an object literal: a literal with accessors (`value`, `context`)
 * is made a dictionary-mode object, and `value` is read for the connection's state at every call (issue 16).
 */
class LightRoot<TContext, TEvent> implements RootActor<TContext, TEvent> {
  constructor(readonly ref: TimedActor<TContext>) {}

  start(): void {
    this.ref.start();
  }

  send(event: TEvent): void {
    this.ref.send(event as AnyEvent);
  }

  get value(): unknown {
    return this.ref.state.value;
  }

  get context(): TContext {
    return this.ref.context;
  }
}
