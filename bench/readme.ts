/**
 * `npm run bench:readme [-- results.json]`: regenerates the benchmark tables of
 * docs/benchmarks.md and the comparison with the peers in the README from a
 * results file (default bench/results/latest.json). Only the regions between
 * the bench markers change.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Report } from './report.js';
import { PEERS, replaceRegion, TABLES, type Region } from './region.js';
import { peersSummary, provenance, renderMarkdown, reportTables } from './table.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsPath = process.argv[2] ?? `${root}bench/results/latest.json`;
const report = JSON.parse(readFileSync(resultsPath, 'utf8')) as Report;

function write(region: Region, content: string): void {
  const path = `${root}${region.page}`;
  writeFileSync(path, replaceRegion(readFileSync(path, 'utf8'), content, region));
  process.stdout.write(`${region.page}: benchmark region regenerated from ${resultsPath}\n`);
}

write(TABLES, `${provenance(report)}\n\n${renderMarkdown(reportTables(report))}`);
write(PEERS, peersSummary(report));
