/**
 * Model side of the model-based tests: paths generated from a machine with
 * `xstate/graph` (shortest and simple), which states and transitions they
 * reach, and how a path is written in test names.
 */
import { afterAll } from 'vitest';
import { createActor, SimulatedClock, type AnyStateMachine, type EventObject, type InspectionEvent } from 'xstate';
import { getShortestPaths, getSimplePaths, type StatePath } from 'xstate/graph';
import { allStates, machineGraph } from '../../scripts/diagrams/graph.js';

export type ModelPath = StatePath<any, EventObject> & { input: unknown; variant: string };

/** One way to start the machine: its input, and implementations that change which way it goes (guards). */
export interface Variant {
  name: string;
  input: unknown;
  machine: AnyStateMachine;
  /**
   * What of the context tells apart two vertices with the same state value
   * (default: nothing). A call back in `queued` after a lost connection is
   * such a case: the same value, but a later attempt that may go on from there.
   */
  contextKey?: (context: any) => string;
}

/**
 * A vertex is the state value, plus the event when a transition took it and
 * left the value as it was: so a transition that only runs actions
 * (`transport.error` recording the error) is a step of its own, and the paths
 * cover it. Events that no transition takes lead nowhere new.
 */
function serializerFor(machine: AnyStateMachine, contextKey: Variant['contextKey']) {
  return (
    state: { value: unknown; context: unknown },
    event: EventObject | undefined,
    previous?: { value: unknown; context: unknown },
  ): string => {
    const value = valueKey(state, contextKey);
    if (!previous || !event || valueKey(previous, contextKey) !== value) return value;
    return machine.getTransitionData(previous as never, event).length > 0 ? `${value}+${event.type}` : value;
  };
}

function valueKey(state: { value: unknown; context: unknown }, contextKey: Variant['contextKey']): string {
  const value = JSON.stringify(state.value);
  return contextKey ? `${value} ${contextKey(state.context)}` : value;
}

export interface GeneratedPaths {
  shortest: number;
  simple: number;
  /** Shortest and simple paths of every variant, without repeats (same variant, same events). */
  paths: ModelPath[];
}

export function generatePaths(variants: Variant[], events: EventObject[]): GeneratedPaths {
  let shortest = 0;
  let simple = 0;
  const seen = new Set<string>();
  const paths: ModelPath[] = [];
  for (const { name, input, machine, contextKey } of variants) {
    // Shortest paths also reach each self-loop vertex; simple paths run over state values only (with
    // self-loop vertices they would list every ordering of the self-loops: hundreds of paths, nothing more covered).
    const s = getShortestPaths(machine, { input, events, serializeState: serializerFor(machine, contextKey) });
    const p = getSimplePaths(machine, { input, events, serializeState: (state) => valueKey(state, contextKey) });
    shortest += s.length;
    simple += p.length;
    for (const path of [...s, ...p]) {
      const key = `${name}: ${describePath(path)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      paths.push(Object.assign(path, { input, variant: name }));
    }
  }
  return { shortest, simple, paths };
}

/** `init → call.release → response.result ⇒ resolved` */
export function describePath(path: StatePath<any, EventObject>): string {
  const events = path.steps.slice(1).map((step) => shortEvent(step.event.type));
  return [...['init'], ...events].join(' → ') + ` ⇒ ${valueText(path.state.value)}`;
}

export function shortEvent(type: string): string {
  return type.replace(/^xstate\.after\.([^.]+)\..*$/, 'after $1').replace(/^xstate\.(done|error)\.actor\..*$/, '$1 handler');
}

export function valueText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value).replace(/"/g, '');
}

/** The state ids and transitions (`source|event|index`) a machine has. */
export function machineElements(machine: AnyStateMachine): { states: string[]; transitions: string[] } {
  const graph = machineGraph(machine);
  const count = new Map<string, number>();
  const transitions = graph.transitions.map((t) => {
    const event = t.trigger.kind === 'always' ? 'always' : eventTypeOf(machine, t.source, t);
    const base = `${t.source}|${event}`;
    const index = count.get(base) ?? 0;
    count.set(base, index + 1);
    return `${base}|${index}`;
  });
  return { states: allStates(graph).map((s) => s.id), transitions };
}

function eventTypeOf(machine: AnyStateMachine, source: string, t: ReturnType<typeof machineGraph>['transitions'][number]): string {
  switch (t.trigger.kind) {
    case 'event':
      return t.trigger.event;
    case 'after':
      return `xstate.after.${t.trigger.delay}.${source}`;
    default: {
      const node = machine.getStateNodeById(source);
      const invokeId = node.invoke.find((i) => String(i.src) === (t.trigger as { actor: string }).actor)!.id;
      return `xstate.${t.trigger.kind}.actor.${invokeId}`;
    }
  }
}

/**
 * Runs each path on the machine itself and collects the state nodes entered
 * and the transitions taken, as XState reports them (`@xstate.microstep`).
 */
export function coverageOf(paths: ModelPath[], variants: Variant[]): { states: Set<string>; transitions: Set<string> } {
  const states = new Set<string>();
  const transitions = new Set<string>();
  for (const path of paths) {
    const { machine } = variants.find((v) => v.name === path.variant)!;
    const inspect = (event: InspectionEvent) => {
      if (event.type !== '@xstate.microstep') return;
      for (const t of event._transitions) {
        const source = t.source;
        const list = t.eventType === null || t.eventType === '' ? (source.always ?? []) : (source.transitions.get(t.eventType) ?? []);
        transitions.add(`${source.id}|${t.eventType ? t.eventType : 'always'}|${list.indexOf(t)}`);
      }
    };
    const actor = createActor(machine, { input: path.input, clock: new SimulatedClock(), inspect });
    actor.subscribe({ error: () => {} });
    actor.start();
    const record = () => {
      for (const node of actor.getSnapshot()._nodes) if (node !== machine.root) states.add(node.id);
    };
    record();
    for (const step of path.steps.slice(1)) {
      actor.send(step.event);
      record();
    }
    actor.stop();
  }
  return { states, transitions };
}

/**
 * The list each replayed path is added to; after the file's tests, prints how
 * many paths the machine produced and how many were replayed.
 */
export function replayReport(machine: string, generated: GeneratedPaths, notReplayable = 0): string[] {
  const replayed: string[] = [];
  afterAll(() => {
    const skipped = notReplayable > 0 ? `, ${notReplayable} not replayable (listed by the test)` : '';
    console.info(
      `${machine} machine: ${generated.shortest} shortest + ${generated.simple} simple paths generated, ` +
        `${generated.paths.length} distinct, ${replayed.length} replayed over a real WebSocket${skipped}`,
    );
  });
  return replayed;
}
