/**
 * `npm run visualize`: regenerates visualizations/ (Mermaid, DOT, SVG, Stately
 * JSON for each machine) and the diagram blocks of docs/lifecycle.md, from the machine
 * definitions. Offline: the SVGs are rendered by Graphviz compiled to wasm.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { DIAGRAMS_PAGE, generateVisualizations, refreshDiagrams } from './diagrams/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const files = await generateVisualizations();
await mkdir(join(root, 'visualizations'), { recursive: true });
for (const [path, content] of files) await writeFile(join(root, path), content);

const pagePath = join(root, DIAGRAMS_PAGE);
const page = await readFile(pagePath, 'utf8');
const refreshed = refreshDiagrams(page, files);
if (refreshed !== page) await writeFile(pagePath, refreshed);

console.log(`wrote ${files.size} files to visualizations/${refreshed !== page ? ` and refreshed ${DIAGRAMS_PAGE}` : ''}`);
