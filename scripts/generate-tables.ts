/**
 * `npm run generate:tables`: regenerates src/engine/generated/*.table.ts, the
 * light engine's transition tables, from the machines of machines/ (see
 * scripts/tables/index.ts). Run it after changing a machine or its logic; the
 * staleness test fails until it is run.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { generateTables, TABLES_DIR } from './tables/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const files = await generateTables();
await mkdir(join(root, TABLES_DIR), { recursive: true });
for (const [path, content] of files) await writeFile(join(root, path), content);
console.log(`wrote ${files.size} tables to ${TABLES_DIR}/`);
