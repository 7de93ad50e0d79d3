/**
 * Everything `npm run generate:tables` writes, computed in memory: the light
 * engine's transition table of each machine of machines/, walked from
 * XState's own resolved `StateNode` objects (src/engine/compile.ts) with the
 * machine's logic (machines/*.logic.ts) naming every function, as a TypeScript
 * module of plain data in src/engine/generated/. The library loads these
 * tables instead of XState's machine objects, so the browser build bundles no
 * XState. The staleness test (test/engine/tables.test.ts) calls the same
 * function and compares with the files on disk.
 */
import { format, resolveConfig } from 'prettier';
import type { AnyStateMachine } from 'xstate';
import { callLogic } from '../../machines/call.logic.js';
import { callMachine } from '../../machines/call.machine.js';
import { connectionLogic } from '../../machines/connection.logic.js';
import { connectionMachine } from '../../machines/connection.machine.js';
import { incomingCallLogic } from '../../machines/incomingCall.logic.js';
import { incomingCallMachine } from '../../machines/incomingCall.machine.js';
import { tableOf, type MachineLogic } from '../../src/engine/compile.js';

export const TABLES: ReadonlyArray<{ name: string; machine: AnyStateMachine; logic: MachineLogic }> = [
  { name: 'call', machine: callMachine, logic: callLogic },
  { name: 'connection', machine: connectionMachine, logic: connectionLogic },
  { name: 'incomingCall', machine: incomingCallMachine, logic: incomingCallLogic },
];

export const TABLES_DIR = 'src/engine/generated';

/** Output files (path relative to the repository root → content). */
export async function generateTables(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const { name, machine, logic } of TABLES) {
    const path = `${TABLES_DIR}/${name}.table.ts`;
    const { table } = tableOf(machine, logic);
    const source = [
      `// Generated from machines/${name}.machine.ts by scripts/generate-tables.ts (npm run generate:tables): do not edit.`,
      `// Names refer to machines/${name}.logic.ts and to what the owner provides.`,
      `import type { MachineTable } from '../table.js';`,
      ``,
      `export const ${name}Table: MachineTable = ${JSON.stringify(table)};`,
      ``,
    ].join('\n');
    const options = await resolveConfig(path);
    files.set(path, await format(source, { ...options, filepath: path }));
  }
  return files;
}
