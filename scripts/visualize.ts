/**
 * `npm run visualize`: regenerates visualizations/ (Mermaid, DOT, SVG, Stately
 * JSON for each machine) and the diagram blocks of README.md, from the machine
 * definitions. Offline: the SVGs are rendered by Graphviz compiled to wasm.
 */
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { generateVisualizations, refreshReadme } from './diagrams/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const files = await generateVisualizations();
await mkdir(join(root, 'visualizations'), { recursive: true });
for (const [path, content] of files) await writeFile(join(root, path), content);

const readmePath = join(root, 'README.md');
const readme = await readFile(readmePath, 'utf8');
const refreshed = refreshReadme(readme, files);
if (refreshed !== readme) await writeFile(readmePath, refreshed);

console.log(`wrote ${files.size} files to visualizations/${refreshed !== readme ? ' and refreshed README.md' : ''}`);
