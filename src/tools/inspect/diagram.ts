/**
 * The machine diagrams on the page, drawn from the machines themselves (the
 * source of truth, as visualizations/ is): each state a box, nested in its
 * parent, with its transitions (event → target) and a live count that the
 * page fills in (`data-count="side:state"`: calls in that state now, or ended
 * in it for a final state).
 */
import type { AnyStateMachine } from 'xstate';
import { callMachine } from '../../../machines/call.machine.js';
import { incomingCallMachine } from '../../../machines/incomingCall.machine.js';
import type { Side } from './model.js';

interface StateNodeLike {
  key: string;
  type: string;
  states: Record<string, StateNodeLike>;
  on: Record<string, Array<{ target?: ReadonlyArray<{ key: string }> }>>;
}

const escape = (text: string) => text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);

/** `xstate.after.callTimeout.call.pending` reads `after callTimeout`; an invoked actor's done/error events `done`/`error`. */
function eventLabel(type: string): string {
  const after = /^xstate\.after\.([^.]+)/.exec(type);
  if (after) return `after ${after[1]}`;
  if (type.startsWith('xstate.done.actor')) return 'done';
  if (type.startsWith('xstate.error.actor')) return 'error';
  return type;
}

function stateBox(node: StateNodeLike, side: Side): string {
  const edges = Object.entries(node.on)
    .flatMap(([event, transitions]) =>
      transitions.flatMap((t) => (t.target ?? []).map((target) => `<li>${escape(eventLabel(event))} → ${escape(target.key)}</li>`)),
    )
    .join('');
  const children = Object.values(node.states)
    .map((child) => stateBox(child, side))
    .join('');
  return (
    `<div class="st" data-type="${node.type}" data-state="${escape(node.key)}">` +
    `<div class="st-head"><b>${escape(node.key)}</b> <span class="dn" data-count="${side}:${escape(node.key)}">0</span></div>` +
    (edges ? `<ul class="edges">${edges}</ul>` : '') +
    (children ? `<div class="st-children">${children}</div>` : '') +
    `</div>`
  );
}

function machineBox(machine: AnyStateMachine, side: Side, title: string): string {
  const root = machine.root as unknown as StateNodeLike;
  const states = Object.values(root.states)
    .map((node) => stateBox(node, side))
    .join('');
  return `<div class="machine" data-machine="${escape(machine.id)}"><h3>${escape(title)} <code>${escape(machine.id)}</code></h3><div class="st-children">${states}</div></div>`;
}

/** Both call machines' diagrams, as HTML. */
export function diagramHtml(): string {
  return machineBox(callMachine, 'client', 'Outgoing call') + machineBox(incomingCallMachine, 'server', 'Incoming call');
}
