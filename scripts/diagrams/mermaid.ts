/**
 * Mermaid `stateDiagram-v2` text for a machine graph: nested states as
 * composite states, descriptions and entry actions as state description lines
 * (notes for composite states), `event [guard] / actions` on every edge.
 */
import { actionLabel, allStates, edgeLabel, type MachineGraph, type StateInfo, type TransitionInfo } from './graph.js';

export function toMermaid(graph: MachineGraph, header: string): string {
  const names = mermaidNames(graph);
  const lines = [`%% ${header}`, 'stateDiagram-v2'];
  const byParent = groupTransitions(graph);
  writeBody(graph.root, graph, names, byParent, lines, '  ');
  return `${lines.join('\n')}\n`;
}

/** A Mermaid id per state: its key when unique in the machine, else its path joined with `_`. */
function mermaidNames(graph: MachineGraph): Map<string, string> {
  const states = allStates(graph);
  const count = new Map<string, number>();
  for (const s of states) count.set(s.key, (count.get(s.key) ?? 0) + 1);
  return new Map(states.map((s) => [s.id, count.get(s.key) === 1 ? s.key : s.id.split('.').slice(1).join('_')]));
}

/**
 * Mermaid draws a transition inside the composite state it is written in, so
 * each goes into the deepest state that contains both its source and its targets.
 */
function groupTransitions(graph: MachineGraph): Map<string, TransitionInfo[]> {
  const groups = new Map<string, TransitionInfo[]>();
  for (const t of graph.transitions) {
    const ends = [t.source, ...t.targets].map((id) => id.split('.'));
    let depth = 0;
    // The container is a proper ancestor of every end (an end's own id cannot contain its edge).
    while (ends.every((e) => depth < e.length - 1 && e[depth] === ends[0]![depth])) depth++;
    const container = ends[0]!.slice(0, depth).join('.');
    const list = groups.get(container) ?? [];
    list.push(t);
    groups.set(container, list);
  }
  return groups;
}

function writeBody(
  parent: StateInfo,
  graph: MachineGraph,
  names: Map<string, string>,
  byParent: Map<string, TransitionInfo[]>,
  lines: string[],
  indent: string,
): void {
  if (parent.initial) {
    const initial = parent.children.find((c) => c.key === parent.initial)!;
    lines.push(`${indent}[*] --> ${names.get(initial.id)}`);
  }
  for (const child of parent.children) {
    const name = names.get(child.id)!;
    if (child.children.length > 0) {
      lines.push(`${indent}state ${name} {`);
      writeBody(child, graph, names, byParent, lines, `${indent}  `);
      lines.push(`${indent}}`);
      if (child.description) {
        lines.push(`${indent}note right of ${name}`, `${indent}  ${text(child.description)}`, `${indent}end note`);
      }
    } else {
      if (child.description) lines.push(`${indent}${name} : ${text(child.description)}`);
    }
    for (const line of stateActions(child)) lines.push(`${indent}${name} : ${line}`);
  }
  for (const t of byParent.get(parent.id) ?? []) {
    const source = names.get(t.source)!;
    const targets = t.targets.length > 0 ? t.targets : [t.source];
    for (const target of targets) lines.push(`${indent}${source} --> ${names.get(target)} : ${text(edgeLabel(t))}`);
  }
  for (const child of parent.children) {
    if (child.type === 'final') lines.push(`${indent}${names.get(child.id)} --> [*]`);
  }
}

/** `entry / a, b`, `exit / c`, `invoke / handler` lines for a state. */
export function stateActions(state: StateInfo): string[] {
  const lines: string[] = [];
  if (state.entry.length > 0) lines.push(`entry / ${state.entry.map(actionLabel).join(', ')}`);
  if (state.exit.length > 0) lines.push(`exit / ${state.exit.map(actionLabel).join(', ')}`);
  if (state.invoke.length > 0) lines.push(`invoke / ${state.invoke.join(', ')}`);
  return lines;
}

/** Mermaid ends a statement at `;` and reads `#…;` as an entity: write both as entity codes. */
function text(value: string): string {
  return value
    .replace(/[#;]/g, (c) => (c === '#' ? '#35;' : '#59;'))
    .replace(/\s+/g, ' ')
    .trim();
}
