/**
 * `npm run soak`: a million calls with random faults, and an account of every
 * one (see soak-run.ts). Not part of `npm test`; test/soak.test.ts runs a small
 * one. Prints progress, then the JSON summary, also written to
 * bench/results/soak.json; exits 1 when a check fails.
 *
 *   npm run soak                          # 1,000,000 calls
 *   npm run soak -- --calls 100000 --seconds 60 --kills 3 --seed 7 --verbose
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runSoak } from './soak-run.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string' },
    seconds: { type: 'string' },
    kills: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    verbose: { type: 'boolean' },
  },
});

function count(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a whole number, got "${value}"`);
    process.exit(2);
  }
  return n;
}

if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
  console.error('heap is not measured: run node with --expose-gc (npm run soak does)');
}

const summary = await runSoak({
  calls: count('calls', values.calls),
  seconds: count('seconds', values.seconds),
  kills: count('kills', values.kills),
  seed: count('seed', values.seed),
  progress: (line) => console.error(line),
  status: values.verbose ? (line) => console.error(line) : undefined,
});

const out = values.out ?? fileURLToPath(new URL('./results/soak.json', import.meta.url));
mkdirSync(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
const report = { meta: { date: new Date().toISOString(), node: process.version, argv: process.argv.slice(2) }, ...summary };
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
console.log(JSON.stringify(report, null, 2));
for (const { check, ok } of summary.checks) console.error(`${ok ? 'ok  ' : 'FAIL'} ${check}`);
process.exit(summary.ok ? 0 : 1);
