/**
 * The light engine's tables in src/engine/generated/ are what the machines
 * generate (`npm run generate:tables`), so the machines stay the source of
 * truth; and a machine whose functions are not in its logic file is refused
 * when its table is made.
 */
import { readdir, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { assign, setup } from 'xstate';
import { generateTables, TABLES_DIR } from '../../scripts/tables/index.js';
import { tableOf } from '../../src/engine/compile.js';

const root = new URL('../../', import.meta.url);
const generated = await generateTables();

describe('src/engine/generated/', () => {
  it('holds exactly what the machines generate (run `npm run generate:tables` when this fails)', async () => {
    const onDisk = (await readdir(new URL(`${TABLES_DIR}/`, root))).map((file) => `${TABLES_DIR}/${file}`).sort();
    expect(onDisk).toEqual([...generated.keys()].sort());
    for (const [path, content] of generated) {
      expect(await readFile(new URL(path, root), 'utf8'), `${path} is stale: run npm run generate:tables`).toBe(content);
    }
  });

  it('is deterministic: a second generation is byte for byte the same', async () => {
    expect([...(await generateTables())]).toEqual([...generated]);
  });

  it('holds plain data: no XState import, only the table type', () => {
    for (const [path, content] of generated) {
      expect(content.match(/^import .*$/gm), path).toEqual([`import type { MachineTable } from '../table.js';`]);
      expect(content, path).toContain('do not edit');
    }
  });
});

describe('tables made with a logic file', () => {
  type Context = { n: number };
  const logic = {
    assign: { bump: ({ context }: { context: Context }) => ({ n: context.n + 1 }) },
    fns: { context: (): Context => ({ n: 0 }) },
  };

  it('name every function by its key in the logic', () => {
    const machine = setup({
      types: { context: {} as Context },
      actions: { bump: assign(logic.assign.bump), tell: () => {} },
    }).createMachine({
      id: 'm',
      context: logic.fns.context,
      initial: 'a',
      states: { a: { on: { go: { actions: ['bump', 'tell'] } } } },
    });
    const { table } = tableOf(machine, logic);
    expect(table.context).toBe('context');
    expect(table.states[0]!.on).toEqual({ go: [{ target: 0, steps: ['bump', 'tell'] }] });
  });

  it('refuse a function that is not in the logic file', () => {
    const machine = setup({
      types: { context: {} as Context },
      actions: { bump: assign(({ context }) => ({ n: context.n + 1 })) },
    }).createMachine({ id: 'm', context: logic.fns.context, initial: 'a', states: { a: { on: { go: { actions: 'bump' } } } } });
    expect(() => tableOf(machine, logic)).toThrow('machine "m": assignment "bump" that is not in the machine\'s logic (assign)');
  });
});
