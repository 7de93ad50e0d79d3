/**
 * A light actor: runs a compiled machine (see `compile.ts`) for one call.
 *
 * It holds the current state, the context, one deadline and one invoked
 * promise, and nothing else: no system, no mailbox until one is needed, no
 * snapshot object until one is asked for. With an `inspect` observer it reports
 * itself in XState's own inspection format (`@xstate.actor`, `@xstate.event`,
 * `@xstate.snapshot`), with its parent, so the Stately inspector and
 * callstate's own page see each call as they would see an XState actor.
 */
import type { AnyActorRef, AnyStateMachine, InspectionEvent } from 'xstate';
import type { CompiledMachine, CompiledState, CompiledTransition } from './load.js';
import type { DeadlineEntry } from './deadlines.js';
import { jsonSafeFields } from './inspectable.js';
import { makeSnapshot, type ActorStatus, type FlatSnapshot } from './snapshot.js';
import { Invocation, settleLater } from './invocation.js';
import { thenOf, type Then } from './thenable.js';

export type { ActorStatus, FlatSnapshot, FlatSnapshotJSON } from './snapshot.js';

type AnyEvent = { type: string; [key: string]: unknown };

/** Where a light actor's deadline goes: the shared `Deadlines`, or a clock's own timers. */
export interface Scheduler {
  add(entry: DeadlineEntry, ms: number): void;
  remove(entry: DeadlineEntry): void;
}

/** What every actor made by one owner shares (one object, not one per actor). */
export interface ActorScope<THost = unknown> {
  /** The owner (the calls of one connection), for actions compiled once for all owners. */
  host?: THost;
  scheduler: Scheduler;
  inspect: ((event: InspectionEvent) => void) | undefined;
  /** Reported as each actor's parent (the connection actor). */
  parent: AnyActorRef | undefined;
  /** Called once the actor reaches a final state. */
  onDone: ((actor: FlatActor<any, any>) => void) | undefined;
  /** The XState machine its table was made from, for inspectors and snapshots (Node: `machines/`); else the table's own. */
  machine?: AnyStateMachine | undefined;
}

let sessions = 0;

/** The start event every actor begins with (one object for all: nothing writes to it). */
const INIT_EVENT: AnyEvent = Object.freeze({ type: 'xstate.init', input: undefined });

/** The error an actor stopped with: kept apart, and only for actors that failed, so no actor carries a field for it. */
const errors = new WeakMap<FlatActor<any, any>, unknown>();

export class FlatActor<TContext, TOwner> implements DeadlineEntry {
  state: CompiledState;
  context: TContext;
  status: ActorStatus = 'active';
  /** Data the owner keeps with the actor (the caller's promise, say). */
  owner: TOwner;

  deadline = 0;
  deadlineMs = 0;
  deadlinePrev: DeadlineEntry | undefined = undefined;
  deadlineNext: DeadlineEntry | undefined = undefined;
  deadlineSlot = -1;

  private invocation: Invocation | undefined = undefined;
  private processing = false;
  private mailbox: AnyEvent[] | undefined = undefined;
  /** Whether an inspector sees this actor's snapshots. */
  get inspected(): boolean {
    return this.scope.inspect !== undefined;
  }

  /** Only when inspected: XState's fields that inspectors read. */
  sessionId: string | undefined;
  _parent: AnyActorRef | undefined;

  constructor(
    readonly compiled: CompiledMachine,
    readonly scope: ActorScope,
    input: unknown,
    owner: TOwner,
  ) {
    this.owner = owner;
    this.context = compiled.createContext(input);
    this.state = compiled.initial.target;
    if (scope.inspect) {
      this.sessionId = `call:${sessions++}`;
      this._parent = scope.parent;
      scope.inspect({ type: '@xstate.actor', actorRef: this as never, rootId: this.rootId });
    }
  }

  /**
   * The machine it runs, as XState actors expose it (inspectors read `logic.id` and `logic.config`). Without
   * the XState machine at hand (the browser build), only its id: inspectors then show no definition.
   */
  get logic(): AnyStateMachine | { id: string } {
    return this.machine ?? { id: this.compiled.id };
  }

  private get machine(): AnyStateMachine | undefined {
    return this.scope.machine ?? this.compiled.machine;
  }

  get id(): string {
    return this.sessionId ?? this.compiled.id;
  }

  private get rootId(): string {
    return (this._parent as { sessionId?: string } | undefined)?.sessionId ?? this.sessionId!;
  }

  /** Enters the initial state (its entry actions, timer and always transitions run now). */
  start(): this {
    const init = INIT_EVENT;
    this.processing = true;
    this.reportEvent(init, this._parent);
    try {
      this.apply(this.compiled.initial, init);
      this.settleAlways(init);
    } catch (error) {
      this.fail(error);
    }
    this.afterStep(init);
    return this;
  }

  /** Processes an event now, or after the current one if called from inside an action. */
  send(event: AnyEvent): void {
    if (this.processing) {
      // A literal of one, not `[]` and a push: a push onto an empty array grows it to 17 slots, for one event.
      if (this.mailbox === undefined) this.mailbox = [event];
      else this.mailbox.push(event);
      return;
    }
    if (this.status !== 'active') return;
    this.processing = true;
    this.reportEvent(event, undefined);
    const candidates = this.state.on.get(event.type);
    if (candidates !== undefined) {
      try {
        for (let i = 0; i < candidates.length; i++) {
          const t = candidates[i]!;
          if (t.guard === undefined || t.guard(this, event)) {
            this.apply(t, event);
            this.settleAlways(event);
            break;
          }
        }
      } catch (error) {
        this.fail(error);
      }
    }
    this.afterStep(event);
  }

  /** The deadline passed. */
  expire(): void {
    this.send({ type: this.compiled.timer!.eventType });
  }

  /** Stops the actor where it is: its timer and invoke end, nothing more runs. */
  stop(): void {
    if (this.status !== 'active') return;
    this.status = 'stopped';
    this.release();
    this.reportSnapshot({ type: 'xstate.stop' });
  }

  /**
   * The current state as an XState-shaped snapshot; made only when asked for (inspection, tests), never on the way
   * of an event. Its context, output and error show each value JSON cannot read as a marker (see `inspectable.ts`):
   * an inspector may take it from the actor and serialize it later, in a timer that catches nothing.
   */
  getSnapshot(): FlatSnapshot<TContext> {
    const state = this.state;
    const context = this.context;
    const status = this.status;
    return makeSnapshot({
      status,
      output: status === 'done' ? jsonSafeFields(this.output()) : undefined,
      error: status === 'error' ? jsonSafeFields(errors.get(this)) : undefined,
      machine: this.machine,
      context: jsonSafeFields(context) as TContext,
      state,
      can: (event) => this.wouldTransition(state, context, event),
    });
  }

  /**
   * Whether `event` would take a transition in `state` with `context`, as XState's
   * `snapshot.can` answers: the first candidate whose guard passes, if it changes
   * state or runs an action. Guards run with the snapshot's state and context (and
   * the actor's owner, as the owner's guards need it), so they must not have side effects.
   */
  private wouldTransition(state: CompiledState, context: TContext, event: AnyEvent): boolean {
    const candidates = state.on.get(event.type);
    if (candidates === undefined) return false;
    const view = Object.create(this, { state: { value: state }, context: { value: context } }) as this;
    for (const t of candidates) {
      if (t.guard === undefined || t.guard(view, event)) return t.target !== state || t.steps.length > 0;
    }
    return false;
  }

  private apply(t: CompiledTransition, event: AnyEvent): void {
    const steps = t.steps;
    for (let i = 0; i < steps.length; i++) {
      const step = steps[i]!;
      switch (step.kind) {
        case 'action':
          step.run(this, event);
          break;
        case 'startTimer':
          this.scope.scheduler.add(this, this.compiled.timer!.delay({ context: this.context, event, self: this }));
          break;
        case 'stopTimer':
          this.scope.scheduler.remove(this);
          break;
        case 'startInvoke':
          this.startInvoke(event);
          break;
        case 'stopInvoke':
          this.stopInvoke();
          break;
      }
    }
    this.state = t.target;
    if (t.target.final) this.status = 'done';
  }

  /** Takes eventless transitions until none is enabled. */
  private settleAlways(event: AnyEvent): void {
    for (let taken = 0; this.status === 'active' && this.state.always.length > 0; taken++) {
      if (taken > 100) throw new Error(`machine "${this.compiled.id}": eventless transitions loop`);
      const t = this.enabledAlways(event);
      if (t === undefined) return;
      this.apply(t, event);
    }
  }

  /** The first eventless transition of the current state whose guard passes (a loop: no closure made per step). */
  private enabledAlways(event: AnyEvent): CompiledTransition | undefined {
    const always = this.state.always;
    for (let i = 0; i < always.length; i++) {
      const t = always[i]!;
      if (t.guard === undefined || t.guard(this, event)) return t;
    }
    return undefined;
  }

  private afterStep(event: AnyEvent): void {
    this.reportSnapshot(event);
    this.processing = false;
    if (this.status === 'done') {
      this.release();
      this.scope.onDone?.(this);
      return;
    }
    const mailbox = this.mailbox;
    if (mailbox !== undefined && mailbox.length > 0) this.send(mailbox.shift()!);
  }

  /** An action or guard threw: the actor stops in error, as an XState actor would, and the error is rethrown outside. */
  private fail(error: unknown): void {
    this.status = 'error';
    errors.set(this, error);
    this.release();
    queueMicrotask(() => {
      throw error;
    });
  }

  private release(): void {
    this.scope.scheduler.remove(this);
    this.stopInvoke();
    this.mailbox = undefined;
  }

  private output(): unknown {
    const { rootOutput } = this.compiled;
    const own = this.state.output?.({ context: this.context, event: { type: `xstate.done.state.${this.state.id}` }, self: this });
    const doneEvent = { type: `xstate.done.state.${this.compiled.id}`, output: own };
    return rootOutput ? rootOutput({ context: this.context, event: doneEvent, self: this }) : own;
  }

  /**
   * Starts the invoked actor. What it returns at once that is not a promise (a thenable) is its output now, and
   * what it throws at once its error: the done or error event is taken as soon as this step ends, where XState's
   * `fromPromise` takes it a microtask later. A handler that answers at once then costs no promise, no reaction and
   * no microtask (issue 16); the states and actions are the same. Not when other events wait already (the actor
   * sent itself one, or the handler did: a close, a cancel): those come first, and the outcome then goes the way of a
   * promise's, taken only if this invocation is still the one running. A thenable's `then` is read once (as a
   * promise's resolution reads it), and that function followed: read again, a getter may give no function.
   */
  private startInvoke(event: AnyEvent): void {
    const { id, doneType, errorType, run, input } = this.compiled.invoke!;
    const invocation = new Invocation(input({ context: this.context, event, self: this }));
    this.invocation = invocation;
    let outcome: unknown;
    // Read once, as a promise's resolution reads it: a getter read again may answer otherwise, or act again.
    let then: Then | undefined;
    let threw = false;
    try {
      outcome = run(invocation, this);
      then = thenOf(outcome);
    } catch (error) {
      threw = true;
      outcome = error;
    }
    if (then === undefined && this.nothingWaits()) {
      invocation.settled = true;
      return this.send(threw ? { type: errorType, error: outcome, actorId: id } : { type: doneType, output: outcome, actorId: id });
    }
    settleLater(
      outcome,
      then,
      threw,
      (output) => {
        invocation.settled = true;
        if (this.invocation === invocation) this.send({ type: doneType, output, actorId: id });
      },
      (error) => {
        invocation.settled = true;
        if (this.invocation === invocation) this.send({ type: errorType, error, actorId: id });
      },
    );
  }

  /** Whether no event waits in the mailbox. */
  private nothingWaits(): boolean {
    return this.mailbox === undefined || this.mailbox.length === 0;
  }

  private stopInvoke(): void {
    const invocation = this.invocation;
    if (invocation === undefined) return;
    this.invocation = undefined;
    invocation.abort();
  }

  // Inspection events (and the snapshots they carry) are built only when someone inspects:
  // every event of every call passes here.
  private reportEvent(event: AnyEvent, sourceRef: AnyActorRef | undefined): void {
    const inspect = this.scope.inspect;
    if (inspect !== undefined) inspect({ type: '@xstate.event', actorRef: this as never, event, sourceRef, rootId: this.rootId } as never);
  }

  private reportSnapshot(event: AnyEvent): void {
    const inspect = this.scope.inspect;
    if (inspect !== undefined)
      inspect({ type: '@xstate.snapshot', actorRef: this as never, event, snapshot: this.getSnapshot() as never, rootId: this.rootId });
  }
}
