/**
 * One seam between an owner (the outgoing or incoming calls of a connection)
 * and the interpreter that runs its machine: the light engine (the machine's
 * generated table, loaded by `load.ts`, run by `FlatActor`) or a full XState
 * actor (`xstate.ts`, given by the Node build only). The owner writes each
 * action, guard and promise actor once, as a function of its host (the calls
 * of one connection), the actor's owner data (the pending call) and the
 * context; it never asks which engine runs them, as Go's net/rpc client never
 * asks which codec it holds.
 *
 *   defineRunner(table, logic, impl)  once per module: loads the light table
 *     .create(engine, host, opts)     once per connection: XState's logic is provided here
 *       .create(input, owner)         once per call: an actor, not yet started
 *
 * The light engine reaches the host through the actor's shared scope and the
 * owner through `actor.owner`, so a call costs no closure; XState's actions
 * find their owner through a WeakMap keyed by the actor, set before it starts.
 */
import type { AnyActorRef, AnyStateMachine } from 'xstate';
import type { Clock, Engine, InspectOption } from '../types.js';
import { FlatActor, type ActorScope } from './actor.js';
import { toInspectFunction } from './inspectable.js';
import { schedulerFor } from './deadlines.js';
import { loadMachine, type CompiledMachine, type CompiledState, type MachineLogic, type StepActor } from './load.js';
import type { MachineTable } from './table.js';
import type { RootActor, RootOptions } from './root.js';

/** The owner's side of a machine, written once for both engines. */
export interface OwnerImplementations<THost, TOwner, TContext> {
  actions?: Record<string, (host: THost, owner: TOwner, context: TContext, params: any) => void>;
  /** Guards see no owner: XState gives a guard no `self` to find it by. */
  guards?: Record<string, (host: THost, context: TContext, params: any) => boolean>;
  /**
   * Promise actors by `src` name: each returns its output, or a promise of it. `scope.signal` aborts when the invoking
   * state is left (made on first read by the light engine); `owner` is the invoking actor's.
   */
  actors?: Record<string, (host: THost, input: any, scope: { readonly signal: AbortSignal }, owner: TOwner) => unknown>;
}

/** A state of the machine, found once by its path (`'pending.queued'`), to test actors against cheaply. */
export interface StateRef {
  readonly path: string;
  /** The state value XState matches, e.g. `{ pending: 'queued' }`. */
  readonly value: unknown;
  /** The light engine's atomic state. */
  readonly compiled: CompiledState;
}

/** One call's actor, whichever engine runs it. */
export interface RunningActor<TContext, TEvent> {
  /** Enters the initial state: its entry actions run now. */
  start(): void;
  send(event: TEvent): void;
  /** Whether the actor is in `state` (see `Runner.state`). */
  in(state: StateRef): boolean;
  readonly context: TContext;
}

export interface HostOptions<TOwner, TContext, TEvent> {
  inspect?: InspectOption;
  /** The clock of the machine's delays (real time when none). */
  clock?: Clock | undefined;
  /** Called once an actor reaches a final state. */
  onDone?: (owner: TOwner, actor: RunningActor<TContext, TEvent>) => void;
  /** XState, for `engine: 'xstate'` and for inspectors to see the machines (the Node build gives it; the browser build has none). */
  xstate?: XStateEngine | undefined;
}

/** What one host (the calls of one connection) makes its actors with. */
export interface Actors<TInput, TOwner, TContext, TEvent> {
  /** A new actor for `input`, carrying `owner`; call `start()` once the owner holds it. */
  create(input: TInput, owner: TOwner): RunningActor<TContext, TEvent>;
  /** Whether an inspector sees the actors (what they keep in their context for it is then worth keeping). */
  readonly inspected: boolean;
  /** Reported as every actor's parent to inspectors (the connection actor; light engine). */
  parent: AnyActorRef | undefined;
}

export interface Runner<TInput, THost, TOwner, TContext, TEvent> {
  /** The machine's id (`call`, `incomingCall`). */
  readonly id: string;
  /** The state at `path` (dot-separated, below the root); throws for a path that is not an atomic state. */
  state(path: string): StateRef;
  create(engine: Engine, host: THost, options: HostOptions<TOwner, TContext, TEvent>): Actors<TInput, TOwner, TContext, TEvent>;
}

/**
 * XState, as the Node build gives it to the engine (`xstate.ts`): the machines of machines/ by id, full
 * XState actors for `engine: 'xstate'`, and the connection actor. The browser build has none, and
 * bundles no XState.
 */
export interface XStateEngine {
  /** The XState machine a table was generated from, by id. */
  machine(id: string): AnyStateMachine;
  /** Full XState actors of machine `id` for one host, with the owner's implementations. */
  actors<TInput, THost, TOwner, TContext, TEvent>(
    id: string,
    impl: OwnerImplementations<THost, TOwner, TContext>,
    host: THost,
    options: HostOptions<TOwner, TContext, TEvent>,
  ): Actors<TInput, TOwner, TContext, TEvent>;
  /** A root actor of machine `id` (the connection) as an XState actor. */
  root<TContext, TEvent>(id: string, options: RootOptions<TContext>): RootActor<TContext, TEvent>;
}

/** A light actor that answers `in` by identity of its compiled state. */
class LightActor<TContext, TOwner> extends FlatActor<TContext, TOwner> {
  in(state: StateRef): boolean {
    return this.state === state.compiled;
  }
}

/** Loads `table` for the light engine now (call it at module load) with the machine's `logic`, and keeps `impl` for XState hosts. */
export function defineRunner<TInput, THost, TOwner, TContext, TEvent = { type: string }>(
  table: MachineTable,
  logic: MachineLogic,
  impl: OwnerImplementations<THost, TOwner, TContext>,
): Runner<TInput, THost, TOwner, TContext, TEvent> {
  const hostOf = (actor: StepActor) => actor.scope.host as THost;
  const compiled: CompiledMachine = loadMachine<TContext>(table, {
    ...logic,
    actions: mapValues(
      impl.actions,
      (fn) =>
        ({ context, self }, params) =>
          fn(hostOf(self), self.owner as TOwner, context, params),
    ),
    guards: {
      ...logic.guards,
      ...mapValues(
        impl.guards,
        (fn) =>
          ({ context, self }, params) =>
            fn(hostOf(self), context, params),
      ),
    },
    actors: mapValues(impl.actors, (fn) => (scope, self) => fn(hostOf(self), scope.input, scope, self.owner as TOwner)),
  });

  return {
    id: table.id,
    state(path) {
      const state = compiled.states.get(`${table.id}.${path}`);
      if (state === undefined) throw new Error(`machine "${table.id}" has no atomic state "${path}"`);
      return { path, value: state.value, compiled: state };
    },
    create(engine, host, options) {
      if (engine === 'light') return lightActors(compiled, host, options);
      if (!options.xstate) throw new TypeError("engine 'xstate' needs the Node build of callstate");
      return options.xstate.actors(table.id, impl, host, options);
    },
  };
}

function lightActors<TInput, THost, TOwner, TContext, TEvent>(
  compiled: CompiledMachine,
  host: THost,
  options: HostOptions<TOwner, TContext, TEvent>,
): Actors<TInput, TOwner, TContext, TEvent> {
  const { onDone } = options;
  const scope: ActorScope<THost> = {
    host,
    scheduler: schedulerFor(options.clock),
    inspect: toInspectFunction(options.inspect),
    parent: undefined,
    onDone: onDone === undefined ? undefined : (actor) => onDone(actor.owner as TOwner, actor as LightActor<TContext, TOwner> as never),
    machine: options.xstate?.machine(compiled.id),
  };
  return new LightActors(compiled, scope);
}

/**
 * The light actors of one host. A class, not an object literal: a literal with an accessor (`parent`) is made a
 * dictionary-mode object, and `create` is read from it for every call (issue 16).
 */
class LightActors<TInput, TOwner, TContext, TEvent> implements Actors<TInput, TOwner, TContext, TEvent> {
  readonly inspected: boolean;

  constructor(
    private readonly compiled: CompiledMachine,
    private readonly scope: ActorScope,
  ) {
    this.inspected = scope.inspect !== undefined;
  }

  get parent(): AnyActorRef | undefined {
    return this.scope.parent;
  }

  set parent(actor: AnyActorRef | undefined) {
    this.scope.parent = actor;
  }

  create(input: TInput, owner: TOwner): RunningActor<TContext, TEvent> {
    return new LightActor<TContext, TOwner>(this.compiled, this.scope, input, owner) as unknown as RunningActor<TContext, TEvent>;
  }
}

export function mapValues<A, B>(record: Record<string, A> | undefined, map: (value: A) => B): Record<string, B> | undefined {
  if (record === undefined) return undefined;
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, map(value)]));
}
