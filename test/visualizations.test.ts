import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { DIAGRAMS_PAGE, generateVisualizations, MACHINES, refreshDiagrams } from '../scripts/diagrams/index.js';
import { allStates, edgeLabel, machineGraph } from '../scripts/diagrams/graph.js';

const root = new URL('..', import.meta.url);
const read = (path: string) => readFile(new URL(path, root), 'utf8');

const generated = await generateVisualizations();

describe('visualizations/', () => {
  it('holds exactly what the machines generate (run `npm run visualize` when this fails)', async () => {
    const onDisk = (await readdir(new URL('visualizations/', root))).map((file) => `visualizations/${file}`).sort();
    expect(onDisk).toEqual([...generated.keys()].sort());
    for (const [path, content] of generated) {
      expect(await read(path), `${path} is stale: run npm run visualize`).toBe(content);
    }
  });

  it(`${DIAGRAMS_PAGE} diagram blocks match the generated Mermaid (run \`npm run visualize\` when this fails)`, async () => {
    const page = await read(DIAGRAMS_PAGE);
    expect(refreshDiagrams(page, generated)).toBe(page);
    for (const name of ['call', 'connection']) {
      expect(page).toContain(`<!-- diagram:${name}:start -->`);
      expect(page).toContain(generated.get(`visualizations/${name}.mmd`));
    }
  });

  it('is deterministic: a second generation is byte for byte the same', async () => {
    const again = await generateVisualizations();
    expect([...again]).toEqual([...generated]);
  });

  it('says in every text format that the file is generated', () => {
    for (const [path, content] of generated) {
      expect(content, path).toContain('by scripts/visualize.ts (npm run visualize): do not edit.');
    }
  });
});

describe.each(MACHINES)('diagrams of the $name machine', ({ name, machine }) => {
  const graph = machineGraph(machine);
  const mermaid = generated.get(`visualizations/${name}.mmd`)!;
  const dot = generated.get(`visualizations/${name}.dot`)!;
  const svg = generated.get(`visualizations/${name}.svg`)!;

  it('labels every transition `event [guard] / actions` in Mermaid, DOT and SVG', () => {
    expect(graph.transitions.length).toBeGreaterThan(0);
    expect(mermaid.startsWith('%% Generated')).toBe(true);
    expect(mermaid).toContain('stateDiagram-v2');
    for (const transition of graph.transitions) {
      const label = edgeLabel(transition);
      expect(mermaid).toContain(` : ${label.replace(/;/g, '#59;')}`);
      expect(dot).toContain(`label="${label}"`);
      expect(svg).toContain(label.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'));
    }
  });

  it('shows every state and its description', () => {
    for (const state of allStates(graph)) {
      expect(mermaid).toContain(state.key);
      expect(dot).toContain(`<b>${state.key}</b>`);
      expect(state.description, `${state.id} has no description`).toBeTruthy();
      expect(mermaid).toContain(state.description!.replace(/;/g, '#59;'));
      expect(dot).toContain(`tooltip="${state.description!.replace(/"/g, '\\"')}"`);
    }
  });

  it('exports JSON that XState builds back into the same machine (what the Stately editor imports)', () => {
    const json = JSON.parse(generated.get(`visualizations/${name}.json`)!);
    const rebuilt = machineGraph(createMachine(json));
    const withoutRootDescription = (g: typeof graph) => ({ ...g, root: { ...g.root, description: undefined } });
    expect(rebuilt.root.description).toMatch(/^Generated from /);
    // Action params given as functions (computed from the event) cannot be written as JSON; the action names can.
    const namesOnly = (g: typeof graph) =>
      JSON.parse(JSON.stringify(withoutRootDescription(g), (key, value) => (key === 'params' ? undefined : value)));
    expect(namesOnly(rebuilt)).toEqual(namesOnly(graph));
    expect(rebuilt.transitions.map((t) => t.actions.map((a) => a.params))).toEqual(
      graph.transitions.map((t) => t.actions.map((a) => a.params)),
    );
  });
});
