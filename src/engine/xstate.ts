/**
 * XState for the engine, in the Node build only (`XSTATE`, given to every
 * connection by the Node entries): the machines of machines/ by id, each call
 * as a full XState actor (`engine: 'xstate'`, root actors in a map by id, never
 * children of the connection), and the connection actor. The browser build
 * never imports this file, so it bundles no XState.
 */
import { createActor, fromPromise, type AnyActorLogic, type AnyStateMachine } from 'xstate';
import { callMachine } from '../../machines/call.machine.js';
import { connectionMachine } from '../../machines/connection.machine.js';
import { incomingCallMachine } from '../../machines/incomingCall.machine.js';
import type { Clock, InspectOption } from '../types.js';
import { inspectableToJSON } from './inspectable.js';
import type { RootActor } from './root.js';
import { promiseOf } from './thenable.js';
import { mapValues, type RunningActor, type StateRef, type XStateEngine } from './runner.js';

type AnyEvent = { type: string; [key: string]: unknown };

const MACHINES: Record<string, AnyStateMachine> = {
  call: callMachine,
  connection: connectionMachine,
  incomingCall: incomingCallMachine,
};

/**
 * The connection's XState actor as a `RootActor`. A class, not an object literal: a literal with accessors (`value`,
 * `context`) is made a dictionary-mode object, and `value` is read for the connection's state at every call (issue 16).
 */
class XStateRoot<TContext, TEvent> implements RootActor<TContext, TEvent> {
  private sending = false;

  constructor(
    readonly ref: ReturnType<typeof createActor<AnyStateMachine>>,
    onTimer: () => void,
  ) {
    // A delayed transition (the reconnect backoff) happens without a send of the owner's. A step of the owner's own
    // `send` is not one: the owner runs its handlers once `send` returns, as on the light engine. Run from here, inside
    // XState's processing, a listener's close() would only be queued, and a call made after it would still be sent.
    ref.subscribe(() => {
      if (!this.sending) onTimer();
    });
  }

  start(): void {
    this.ref.start();
  }

  send(event: TEvent): void {
    this.sending = true;
    try {
      this.ref.send(event as AnyEvent);
    } finally {
      this.sending = false;
    }
  }

  get value(): unknown {
    return this.ref.getSnapshot().value;
  }

  get context(): TContext {
    return this.ref.getSnapshot().context as TContext;
  }
}

/** An XState actor seen through `RunningActor`. */
class XStateActor<TContext, TEvent> implements RunningActor<TContext, TEvent> {
  constructor(readonly actor: ReturnType<typeof createActor<AnyStateMachine>>) {}

  start(): void {
    this.actor.start();
  }

  send(event: TEvent): void {
    this.actor.send(event as AnyEvent);
  }

  in(state: StateRef): boolean {
    return this.actor.getSnapshot().matches(state.value as never);
  }

  get context(): TContext {
    return this.actor.getSnapshot().context as TContext;
  }
}

/**
 * `logic` whose snapshots serialize without throwing (`inspectableToJSON`), for actors an inspector sees: it may
 * read an actor's snapshot and serialize it later (Stately's does, for each new actor, in a timer that catches
 * nothing), when the context holds what a handler returned. The actor itself goes on with its own values.
 */
function serializable<T extends AnyActorLogic>(logic: T): T {
  const mark = <S>(snapshot: S): S => {
    if (typeof snapshot === 'object' && snapshot !== null) (snapshot as { toJSON?: unknown }).toJSON = inspectableToJSON;
    return snapshot;
  };
  const { getInitialSnapshot, transition } = logic as {
    getInitialSnapshot: (...args: unknown[]) => unknown;
    transition: (...args: unknown[]) => unknown;
  };
  // Its methods run on `logic` as before; everything else (id, config, implementations) is read through it.
  return Object.create(logic, {
    getInitialSnapshot: { value: (...args: unknown[]) => mark(getInitialSnapshot.apply(logic, args)) },
    transition: { value: (...args: unknown[]) => mark(transition.apply(logic, args)) },
  }) as T;
}

/** Only options that are given: an explicit undefined `clock` would replace XState's default. */
function actorOptions(inspect: InspectOption, clock: Clock | undefined): { inspect?: InspectOption; clock?: Clock } {
  const options: { inspect?: InspectOption; clock?: Clock } = {};
  if (inspect) options.inspect = inspect;
  if (clock) options.clock = clock;
  return options;
}

export const XSTATE: XStateEngine = {
  machine: (id) => MACHINES[id]!,

  actors(id, impl, host, options) {
    type Owner = Parameters<NonNullable<typeof options.onDone>>[0];
    const owners = new WeakMap<object, Owner>();
    const ownerOf = (self: object) => owners.get(self) as Owner;
    const inspected = options.inspect !== undefined;
    const safe = <T extends AnyActorLogic>(logic: T) => (inspected ? serializable(logic) : logic);
    const logic = MACHINES[id]!.provide({
      actions: mapValues(
        impl.actions,
        (fn) =>
          ({ context, self }: any, params: unknown) =>
            fn(host, ownerOf(self), context, params),
      ),
      guards: mapValues(
        impl.guards,
        (fn) =>
          ({ context }: any, params: unknown) =>
            fn(host, context, params),
      ),
      // What the owner's actor returns or throws at once is the promise's outcome: a throw rejects it.
      // The promise actor's parent is the call's actor, whose owner the WeakMap holds.
      actors: mapValues(impl.actors, (fn) =>
        safe(fromPromise<unknown, unknown>((args) => promiseOf(() => fn(host, args.input, args, ownerOf(args.self._parent!))))),
      ),
    } as never);
    const actorLogic = safe(logic);
    const given = actorOptions(options.inspect, options.clock);
    const { onDone } = options;
    return {
      inspected,
      parent: undefined,
      create(input, owner) {
        const actor = createActor(actorLogic, { input, ...given });
        owners.set(actor, owner);
        const running = new XStateActor<any, any>(actor);
        if (onDone) actor.subscribe({ complete: () => onDone(owner, running) });
        return running;
      },
    };
  },

  root<TContext, TEvent>(id: string, options: Parameters<XStateEngine['root']>[1]): RootActor<TContext, TEvent> {
    const actor = createActor(rootMachine(id, Object.keys(options.actions)), {
      input: options.input,
      ...actorOptions(options.inspect, options.clock),
    });
    rootActions.set(actor, options.actions);
    return new XStateRoot<TContext, TEvent>(actor, options.onTimer);
  },
};

type RootActions = Parameters<XStateEngine['root']>[1]['actions'];

/** Each root actor's own actions (its connection's), found by the actor the shared machine's actions run in. */
const rootActions = new WeakMap<object, RootActions>();
/** By machine id: the machine every root actor of that id runs. */
const rootMachines = new Map<string, AnyStateMachine>();

/**
 * Machine `id` with actions that run the acting root actor's own: provided once for all of them. A machine
 * provided per connection (its state nodes, transitions and definitions built again) was most of the memory
 * an idle connection held: about 30 KB of heap, ten times a raw `ws` socket's.
 */
function rootMachine(id: string, actionNames: string[]): AnyStateMachine {
  let machine = rootMachines.get(id);
  if (machine === undefined) {
    const actions: Record<string, (args: Parameters<RootActions[string]>[0] & { self: object }) => void> = {};
    for (const name of actionNames) actions[name] = (args) => (rootActions.get(args.self) ?? strayActor())[name]!(args);
    machine = MACHINES[id]!.provide({ actions } as never);
    rootMachines.set(id, machine);
  }
  return machine;
}

/** An actor of a shared machine that no connection made (a user's `createActor(client.actor.logic)`) has no actions to run. */
function strayActor(): never {
  throw new Error(
    "the machine of client.actor.logic runs only in callstate's connections: to run the connection machine, take connectionMachine from 'callstate/machines' and provide its actions",
  );
}
