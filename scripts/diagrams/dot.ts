/**
 * Graphviz DOT for a machine graph: compound states as clusters, each state's
 * description in its label and tooltip, `event [guard] / actions` on every
 * edge. Rendered to SVG offline by @viz-js/viz.
 */
import { allStates, edgeLabel, type MachineGraph, type StateInfo } from './graph.js';
import { stateActions } from './mermaid.js';

export function toDot(graph: MachineGraph, header: string): string {
  const states = new Map(allStates(graph).map((s) => [s.id, s]));
  // Declaration order: an edge back to a state declared earlier (a retry, a reconnect) does not
  // rank its target after its source, so the states keep reading left to right in the order written.
  const order = new Map([...states.keys()].map((id, i) => [id, i]));
  const lines = [
    `// ${header}`,
    `digraph ${quote(graph.id)} {`,
    '  compound=true;',
    '  rankdir=LR;',
    '  fontname="Helvetica";',
    '  node [shape=box, style=rounded, fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  writeChildren(graph.root, lines, '  ');
  for (const t of graph.transitions) {
    const source = states.get(t.source)!;
    const label = edgeLabel(t);
    if (t.targets.length === 0) {
      // A transition that only runs actions: a loop on the state.
      const anchor = anchorOf(source);
      lines.push(`  ${quote(anchor)} -> ${quote(anchor)} [label=${quote(label)}];`);
      continue;
    }
    for (const targetId of t.targets) {
      const target = states.get(targetId)!;
      const attrs = [`label=${quote(label)}`];
      if (source.children.length > 0) attrs.push(`ltail=${quote(clusterName(source))}`);
      if (target.children.length > 0) attrs.push(`lhead=${quote(clusterName(target))}`);
      if (order.get(targetId)! < order.get(t.source)!) attrs.push('constraint=false');
      lines.push(`  ${quote(anchorOf(source))} -> ${quote(anchorOf(target))} [${attrs.join(', ')}];`);
    }
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

function writeChildren(parent: StateInfo, lines: string[], indent: string): void {
  if (parent.initial) {
    const start = `${parent.id}.[*]`;
    const initial = parent.children.find((c) => c.key === parent.initial)!;
    lines.push(`${indent}${quote(start)} [shape=point, width=0.15, label=""];`);
    const attrs = initial.children.length > 0 ? ` [lhead=${quote(clusterName(initial))}]` : '';
    lines.push(`${indent}${quote(start)} -> ${quote(anchorOf(initial))}${attrs};`);
  }
  for (const child of parent.children) {
    const tooltip = child.description ?? child.key;
    if (child.children.length > 0) {
      lines.push(`${indent}subgraph ${quote(clusterName(child))} {`);
      lines.push(`${indent}  label=<${htmlLabel(child)}>;`);
      lines.push(`${indent}  tooltip=${quote(tooltip)};`);
      lines.push(`${indent}  style=rounded;`);
      writeChildren(child, lines, `${indent}  `);
      lines.push(`${indent}}`);
    } else {
      const shape = child.type === 'final' ? ', peripheries=2' : '';
      lines.push(`${indent}${quote(child.id)} [label=<${htmlLabel(child)}>, tooltip=${quote(tooltip)}${shape}];`);
    }
  }
}

/** The node an edge to or from a state attaches to: the state itself, or for a compound state its initial point. */
function anchorOf(state: StateInfo): string {
  return state.children.length > 0 ? `${state.id}.[*]` : state.id;
}

function clusterName(state: StateInfo): string {
  return `cluster_${state.id}`;
}

/** Bold name, then the description wrapped, then entry/exit/invoke lines. */
function htmlLabel(state: StateInfo): string {
  const parts = [`<b>${html(state.key)}</b>`];
  if (state.description) parts.push(...wrap(state.description, 42).map((line) => `<font point-size="9">${html(line)}</font>`));
  parts.push(...stateActions(state).map((line) => `<i>${html(line)}</i>`));
  return parts.join('<br/>');
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

function html(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
