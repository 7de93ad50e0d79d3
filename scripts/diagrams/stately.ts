/**
 * The machine as an XState v5 machine config in JSON: the format Stately's
 * editor exports as "JSON code" and imports as `createMachine(<this JSON>)`.
 * Actions, guards, delays and actors appear by the names given in `setup()`;
 * targets are absolute (`#call.timedOut`).
 */
import type { ActionInfo, MachineGraph, StateInfo, TransitionInfo } from './graph.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type TransitionConfig = { [key: string]: Json };

export function toStatelyConfig(graph: MachineGraph, header: string): { [key: string]: Json } {
  const root = stateConfig(graph.root, graph.transitions);
  // The root's own description says where the file comes from (JSON has no comments).
  return { id: graph.id, description: header, ...root };
}

export function toStatelyJson(graph: MachineGraph, header: string): string {
  return `${JSON.stringify(toStatelyConfig(graph, header), null, 2)}\n`;
}

function stateConfig(state: StateInfo, transitions: TransitionInfo[]): { [key: string]: Json } {
  const config: { [key: string]: Json } = {};
  if (state.type === 'final' || state.type === 'parallel') config.type = state.type;
  if (state.description) config.description = state.description;
  if (state.initial) config.initial = state.initial;
  if (state.entry.length > 0) config.entry = state.entry.map(actionConfig);
  if (state.exit.length > 0) config.exit = state.exit.map(actionConfig);

  const own = transitions.filter((t) => t.source === state.id);
  const on: { [event: string]: TransitionConfig[] } = {};
  const after: { [delay: string]: TransitionConfig[] } = {};
  const always: TransitionConfig[] = [];
  const invokeDone: { [src: string]: { onDone: TransitionConfig[]; onError: TransitionConfig[] } } = {};
  for (const src of state.invoke) invokeDone[src] = { onDone: [], onError: [] };
  for (const t of own) {
    const entry = transitionConfig(t);
    switch (t.trigger.kind) {
      case 'event':
        (on[t.trigger.event] ??= []).push(entry);
        break;
      case 'after':
        (after[t.trigger.delay] ??= []).push(entry);
        break;
      case 'always':
        always.push(entry);
        break;
      case 'done':
        invokeDone[t.trigger.actor]!.onDone.push(entry);
        break;
      case 'error':
        invokeDone[t.trigger.actor]!.onError.push(entry);
        break;
    }
  }
  if (state.invoke.length > 0) {
    config.invoke = state.invoke.map((src) => {
      const invoke: { [key: string]: Json } = { src };
      const { onDone, onError } = invokeDone[src]!;
      if (onDone.length > 0) invoke.onDone = single(onDone);
      if (onError.length > 0) invoke.onError = single(onError);
      return invoke;
    });
  }
  if (Object.keys(after).length > 0) config.after = mapValues(after, single);
  if (always.length > 0) config.always = single(always);
  if (Object.keys(on).length > 0) config.on = mapValues(on, single);
  if (state.children.length > 0) {
    config.states = Object.fromEntries(state.children.map((child) => [child.key, stateConfig(child, transitions)]));
  }
  return config;
}

function transitionConfig(t: TransitionInfo): TransitionConfig {
  const config: TransitionConfig = {};
  if (t.targets.length > 0) config.target = t.targets.length === 1 ? `#${t.targets[0]}` : t.targets.map((id) => `#${id}`);
  if (t.guard) config.guard = t.guard;
  if (t.actions.length > 0) config.actions = t.actions.map(actionConfig);
  return config;
}

function actionConfig(action: ActionInfo): Json {
  return action.params ? { type: action.type, params: action.params as Json } : action.type;
}

function single(list: TransitionConfig[]): Json {
  return list.length === 1 ? list[0]! : list;
}

function mapValues<T>(record: { [key: string]: T }, fn: (value: T) => Json): { [key: string]: Json } {
  return Object.fromEntries(Object.entries(record).map(([key, value]) => [key, fn(value)]));
}
