/**
 * `npm run bench:readme [-- results.json]`: regenerates the benchmark tables of
 * docs/benchmarks.md from a results file (default bench/results/latest.json).
 * Only the region between the bench markers changes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Report } from './report.js';
import { PAGE, replaceRegion } from './region.js';
import { provenance, renderMarkdown, reportTables } from './table.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsPath = process.argv[2] ?? `${root}bench/results/latest.json`;
const pagePath = `${root}${PAGE}`;

const report = JSON.parse(readFileSync(resultsPath, 'utf8')) as Report;
const content = `${provenance(report)}\n\n${renderMarkdown(reportTables(report))}`;
writeFileSync(pagePath, replaceRegion(readFileSync(pagePath, 'utf8'), content));
process.stdout.write(`${PAGE}: benchmark region regenerated from ${resultsPath}\n`);
