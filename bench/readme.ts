/**
 * `npm run bench:readme [-- results.json]`: regenerates the README's benchmark
 * table from a results file (default bench/results/latest.json). Only the
 * region between the bench markers changes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Report } from './report.js';
import { replaceRegion } from './region.js';
import { provenance, renderMarkdown, reportTables } from './table.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsPath = process.argv[2] ?? `${root}bench/results/latest.json`;
const readmePath = `${root}README.md`;

const report = JSON.parse(readFileSync(resultsPath, 'utf8')) as Report;
const content = `${provenance(report)}\n\n${renderMarkdown(reportTables(report))}`;
writeFileSync(readmePath, replaceRegion(readFileSync(readmePath, 'utf8'), content));
process.stdout.write(`README.md: benchmark region regenerated from ${resultsPath}\n`);
