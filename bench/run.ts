/**
 * `npm run bench`: the orchestrator. Each job runs in a fresh client worker
 * process, which forks the system's server process. Closed-loop runs are
 * interleaved: for each repetition, every system in a rotated order, each
 * concurrency level. Capacity sections (memory, storm, scale) follow, once
 * per system. Prints the tables and writes the JSON report.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureBundles } from './bundle-size.js';
import type { Job, Outcome, WorkerReply } from './jobs.js';
import type { ConnectionsResult, MemoryResult, StormResult } from './measure/capacity.js';
import { parseOptions, type BenchOptions, type Section } from './options.js';
import {
  evaluateTargets,
  HTTP_BASELINE,
  ratioTo,
  scaleSummary,
  summarizeCold,
  summarizeRates,
  summarizeThroughput,
  type ColdRun,
  type RateRun,
  type Report,
  type ThroughputRun,
} from './report.js';
import { HTTP_SYSTEM_NAMES, loadSystem, NATS_SYSTEM_NAMES } from './systems/index.js';
import { renderText, reportTables } from './table.js';

const worker = fileURLToPath(new URL('./client.ts', import.meta.url));

let started = performance.now();

/** Runs jobs for one system in a fresh client worker process (which forks the server). */
function runJobs(jobs: Job[]): Promise<Outcome[]> {
  started = performance.now();
  const child = fork(worker, [], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let replied = false;
    child.once('message', (reply: WorkerReply) => {
      replied = true;
      if (reply.ok) resolve(reply.outcomes);
      else reject(new Error(reply.message));
    });
    child.once('exit', (code, signal) => {
      if (!replied) reject(new Error(`client worker exited (${signal ?? `code ${code}`}) without a result`));
    });
    child.send(jobs);
  });
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function log(line: string): void {
  process.stderr.write(`${line} (${((performance.now() - started) / 1_000).toFixed(1)} s)\n`);
}

interface Batch {
  system: string;
  /** The closed-loop repetition this batch belongs to, if it has a throughput job. */
  rep: number;
  jobs: Job[];
}

/**
 * Closed-loop jobs first, interleaved: for each repetition, every system in
 * an order rotated by the repetition. Then the cold start and the fixed-rate
 * runs, interleaved the same way, in a fresh process each (cold start first in it).
 * Then one capacity job per system, in a
 * fresh process so the memory section starts on a clean heap. Quick mode (a
 * single repetition) runs all jobs of a system in one process, to save starts.
 */
function schedule(options: BenchOptions): Batch[] {
  const has = (section: Section) => options.sections.includes(section);
  const throughput = (system: string): Job[] =>
    has('throughput')
      ? [
          {
            kind: 'throughput',
            system,
            levels: options.levels,
            warmupCalls: options.jitWarmupCalls,
            warmup: options.warmup,
            window: options.window,
            timeoutMs: options.callTimeoutMs,
          },
        ]
      : [];
  const capacity = (system: string): Job[] =>
    has('memory') || has('scale') || has('storm') || has('connections')
      ? [
          {
            kind: 'capacity',
            system,
            warmupCalls: options.capacityWarmupCalls,
            memory: has('memory') ? { pending: options.memoryPending } : undefined,
            storm: has('storm') ? { calls: options.stormCalls, timeoutMs: options.stormTimeoutMs } : undefined,
            scale: has('scale') ? { sizes: options.scaleSizes, repeats: options.scaleRepeats, minCalls: options.scaleMinCalls } : undefined,
            connections: has('connections') && !NATS_SYSTEM_NAMES.includes(system) ? { count: options.connections } : undefined,
          },
        ]
      : [];
  const cold = (system: string): Job[] => (has('cold') ? [{ kind: 'cold', system, timeoutMs: options.callTimeoutMs }] : []);
  const rate = (system: string): Job[] =>
    has('rate')
      ? [
          {
            kind: 'rate',
            system,
            rates: options.rates,
            warmupCalls: options.jitWarmupCalls,
            warmupMs: options.rateWarmupMs,
            windowMs: options.rateWindowMs,
            minCalls: options.rateMinCalls,
            timeoutMs: options.callTimeoutMs,
          },
        ]
      : [];
  // The HTTP section (issue 13): its own systems and baseline, interleaved the same way.
  const http: Batch[] = [];
  if (has('http')) {
    for (let rep = 0; rep < options.reps; rep++) {
      for (const system of rotate(HTTP_SYSTEM_NAMES, rep)) {
        const job: Job = {
          kind: 'throughput',
          system,
          levels: options.httpLevels,
          // fetch clients make 2,000-3,000 calls a second here: 10,000 a second would only queue. Each level's warm-up stays.
          warmupCalls: 0,
          warmup: options.warmup,
          window: options.window,
          timeoutMs: options.callTimeoutMs,
        };
        http.push({ system, rep, jobs: [job] });
      }
    }
  }
  if (options.mode === 'quick' && options.reps === 1) {
    const quick = options.systems.map((system) => ({
      system,
      rep: 0,
      jobs: [...cold(system), ...throughput(system), ...rate(system), ...capacity(system)],
    }));
    return [...quick.filter((batch) => batch.jobs.length > 0), ...http];
  }
  const batches: Batch[] = [];
  if (has('throughput')) {
    for (let rep = 0; rep < options.reps; rep++) {
      for (const system of rotate(options.systems, rep)) batches.push({ system, rep, jobs: throughput(system) });
    }
  }
  for (let rep = 0; rep < options.reps; rep++) {
    for (const system of rotate(options.systems, rep)) {
      const jobs = [...cold(system), ...rate(system)];
      if (jobs.length > 0) batches.push({ system, rep, jobs });
    }
  }
  for (const system of options.systems) {
    const jobs = capacity(system);
    if (jobs.length > 0) batches.push({ system, rep: 0, jobs });
  }
  return [...batches, ...http];
}

async function main(options: BenchOptions): Promise<Report> {
  const loadAtStart = loadavg()[0]!;
  const errors: Report['errors'] = [];
  const runs: ThroughputRun[] = [];
  const httpRuns: ThroughputRun[] = [];
  const rateRuns: RateRun[] = [];
  const coldRuns: ColdRun[] = [];
  const memory: Record<string, MemoryResult> = {};
  const storm: Record<string, StormResult> = {};
  const connections: Record<string, ConnectionsResult> = {};
  const scale: Record<string, ReturnType<typeof scaleSummary>> = {};
  const { systems } = options;
  const has = (section: Section) => options.sections.includes(section);

  for (const { system, rep, jobs } of schedule(options)) {
    const label = `[${jobs.map((job) => (job.kind === 'capacity' ? 'capacity' : `${job.kind} rep ${rep + 1}/${options.reps}`)).join(' + ')}] ${system}`;
    try {
      const lines: string[] = [];
      for (const outcome of await runJobs(jobs)) {
        if (outcome.kind === 'throughput') {
          for (const level of outcome.levels) (HTTP_SYSTEM_NAMES.includes(system) ? httpRuns : runs).push({ rep, system, ...level });
          lines.push(outcome.levels.map((l) => `${l.concurrency}: ${Math.round(l.callsPerSec)}/s`).join(', '));
        } else if (outcome.kind === 'rate') {
          for (const r of outcome.rates) rateRuns.push({ rep, system, ...r });
          lines.push(outcome.rates.map((r) => `${r.rate}/s: p99 ${Math.round(r.p99Us)} µs`).join(', '));
        } else if (outcome.kind === 'cold') {
          coldRuns.push({ rep, system, importMs: outcome.importMs, firstCallMs: outcome.firstCallMs });
          lines.push(`import ${outcome.importMs.toFixed(1)} ms, first call ${outcome.firstCallMs.toFixed(1)} ms`);
        } else {
          if (outcome.memory) memory[system] = outcome.memory;
          if (outcome.storm) storm[system] = outcome.storm;
          if (outcome.scale) scale[system] = scaleSummary(outcome.scale);
          if (outcome.connections) connections[system] = outcome.connections;
          for (const e of outcome.errors) errors.push({ system, ...e });
          lines.push(outcome.errors.length === 0 ? 'capacity done' : outcome.errors.map((e) => `${e.section}: ${e.message}`).join('; '));
        }
      }
      log(`${label}: ${lines.join('; ')}`);
    } catch (error) {
      errors.push({ system, section: jobs.map((job) => job.kind).join('+'), message: (error as Error).message });
      log(`${label}: ${(error as Error).message}`);
    }
  }

  const timeoutScope: Record<string, string> = {};
  for (const system of [...systems, ...(has('http') ? HTTP_SYSTEM_NAMES : [])])
    timeoutScope[system] = (await loadSystem(system)).timeoutScope;
  const cpu = cpus();
  const partial: Omit<Report, 'targets'> = {
    meta: {
      date: new Date().toISOString(),
      cpu: cpu[0]?.model.trim() ?? 'unknown',
      cores: cpu.length,
      node: process.version,
      platform: `${platform()} ${release()}`,
      loadAverage: [loadAtStart, loadavg()[0]!],
      mode: options.mode,
      command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
      options,
      timeoutScope,
    },
    systems,
    throughput: has('throughput')
      ? { levels: options.levels, runs, summary: summarizeThroughput(runs, systems, options.levels) }
      : undefined,
    http: has('http')
      ? {
          levels: options.httpLevels,
          runs: httpRuns,
          summary: summarizeThroughput(httpRuns, HTTP_SYSTEM_NAMES, options.httpLevels, HTTP_BASELINE),
        }
      : undefined,
    rate: has('rate') ? { rates: options.rates, runs: rateRuns, summary: summarizeRates(rateRuns, systems, options.rates) } : undefined,
    cold: has('cold') ? { runs: coldRuns, summary: summarizeCold(coldRuns, systems) } : undefined,
    memory: has('memory') ? ratioTo(memory, (m) => m.bytesPerCall) : undefined,
    scale: has('scale') ? scale : undefined,
    storm: has('storm') ? ratioTo(storm, (s) => s.settleMs) : undefined,
    connections: has('connections') ? ratioTo(connections, (c) => c.bytesPerConnection) : undefined,
    bundle: has('bundle') ? await measureBundles() : undefined,
    errors,
  };
  return { ...partial, targets: evaluateTargets(partial) };
}

let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const report = await main(options);
const out = resolve(options.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(`${renderText(reportTables(report))}\n\nWrote ${out}\n`);
if (report.errors.length > 0) process.exitCode = 1;
