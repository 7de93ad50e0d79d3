/**
 * A machine run as a root actor of its own (the connection): on the light
 * engine from its table, or as a full XState actor (`XStateEngine.root`, Node
 * build). Its owner steps it with `send` and reads its state after each step;
 * `onTimer` tells it when a delayed transition (the reconnect backoff) stepped
 * it without a send of its own.
 */
import type { Clock, InspectOption } from '../types.js';
import { FlatActor, type ActorScope } from './actor.js';
import { toInspectFunction } from './inspectable.js';
import { schedulerFor } from './deadlines.js';
import { loadMachine, type ActionArgs, type MachineLogic } from './load.js';
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

/** A light root actor whose expired deadline is reported to its owner once the step is done. */
class TimedActor<TContext> extends FlatActor<TContext, undefined> {
  onTimer: () => void = () => {};

  override expire(): void {
    super.expire();
    this.onTimer();
  }
}

/** Runs `table` (with the machine's `logic`) as a root actor on the light engine. */
export function lightRoot<TContext, TEvent>(
  table: MachineTable,
  logic: MachineLogic,
  options: RootOptions<TContext>,
): RootActor<TContext, TEvent> {
  const compiled = loadMachine<TContext>(table, {
    ...logic,
    actions: options.actions as Record<string, (args: ActionArgs<TContext>) => void>,
  });
  const scope: ActorScope = {
    scheduler: schedulerFor(options.clock),
    inspect: toInspectFunction(options.inspect),
    parent: undefined,
    onDone: undefined,
  };
  const actor = new TimedActor<TContext>(compiled, scope, options.input, undefined);
  actor.onTimer = options.onTimer;
  return {
    ref: actor,
    start: () => void actor.start(),
    send: (event) => actor.send(event as AnyEvent),
    get value() {
      return actor.state.value;
    },
    get context() {
      return actor.context;
    },
  };
}
