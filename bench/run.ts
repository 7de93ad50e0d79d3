/**
 * `npm run bench`: the orchestrator. Each job runs in a fresh client worker
 * process, which forks the system's server process. Closed-loop runs are
 * interleaved: for each repetition, every system in a rotated order, each
 * concurrency level. Capacity sections (memory, storm, scale) follow, once
 * per system. Prints the tables and writes the JSON report.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CapacityOutcome, Job, ThroughputOutcome, WorkerReply } from './jobs.js';
import { parseOptions, type BenchOptions } from './options.js';
import { evaluateTargets, ratioTo, scaleSummary, summarizeThroughput, type Report, type ThroughputRun } from './report.js';
import { loadSystem } from './systems/index.js';
import { renderText, reportTables } from './table.js';

const worker = fileURLToPath(new URL('./client.ts', import.meta.url));

let started = performance.now();

function runJob(job: Job): Promise<ThroughputOutcome | CapacityOutcome> {
  started = performance.now();
  const child = fork(worker, [], { execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    let replied = false;
    child.once('message', (reply: WorkerReply) => {
      replied = true;
      if (reply.ok) resolve(reply.outcome);
      else reject(new Error(reply.message));
    });
    child.once('exit', (code, signal) => {
      if (!replied) reject(new Error(`client worker exited (${signal ?? `code ${code}`}) without a result`));
    });
    child.send(job);
  });
}

function rotate<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

function log(line: string): void {
  process.stderr.write(`${line} (${((performance.now() - started) / 1_000).toFixed(1)} s)\n`);
}

async function main(options: BenchOptions): Promise<Report> {
  const errors: Report['errors'] = [];
  const runs: ThroughputRun[] = [];
  const { systems } = options;

  if (options.sections.includes('throughput')) {
    for (let rep = 0; rep < options.reps; rep++) {
      for (const system of rotate(systems, rep)) {
        const job: Job = {
          kind: 'throughput',
          system,
          levels: options.levels,
          warmup: options.warmup,
          window: options.window,
          timeoutMs: options.callTimeoutMs,
        };
        try {
          const outcome = (await runJob(job)) as ThroughputOutcome;
          for (const level of outcome.levels) runs.push({ rep, system, ...level });
          const summary = outcome.levels.map((l) => `${l.concurrency}: ${Math.round(l.callsPerSec)}/s`).join(', ');
          log(`[rep ${rep + 1}/${options.reps}] ${system}: ${summary}`);
        } catch (error) {
          errors.push({ system, section: 'throughput', message: (error as Error).message });
          log(`[rep ${rep + 1}/${options.reps}] ${system}: ${(error as Error).message}`);
        }
      }
    }
  }

  const memory: Record<string, NonNullable<CapacityOutcome['memory']>> = {};
  const storm: Record<string, NonNullable<CapacityOutcome['storm']>> = {};
  const scale: Record<string, ReturnType<typeof scaleSummary>> = {};
  const has = (section: 'memory' | 'scale' | 'storm') => options.sections.includes(section);
  if (has('memory') || has('scale') || has('storm')) {
    for (const system of systems) {
      const job: Job = {
        kind: 'capacity',
        system,
        memory: has('memory') ? { pending: options.memoryPending } : undefined,
        storm: has('storm') ? { calls: options.stormCalls, timeoutMs: options.stormTimeoutMs } : undefined,
        scale: has('scale') ? { sizes: options.scaleSizes, repeats: options.scaleRepeats, minCalls: options.scaleMinCalls } : undefined,
      };
      try {
        const outcome = (await runJob(job)) as CapacityOutcome;
        if (outcome.memory) memory[system] = outcome.memory;
        if (outcome.storm) storm[system] = outcome.storm;
        if (outcome.scale) scale[system] = scaleSummary(outcome.scale);
        for (const e of outcome.errors) errors.push({ system, ...e });
        log(`[capacity] ${system}: ${outcome.errors.length === 0 ? 'done' : outcome.errors.map((e) => `${e.section}: ${e.message}`).join('; ')}`);
      } catch (error) {
        errors.push({ system, section: 'capacity', message: (error as Error).message });
        log(`[capacity] ${system}: ${(error as Error).message}`);
      }
    }
  }

  const timeoutScope: Record<string, string> = {};
  for (const system of systems) timeoutScope[system] = (await loadSystem(system)).timeoutScope;
  const cpu = cpus();
  const partial: Omit<Report, 'targets'> = {
    meta: {
      date: new Date().toISOString(),
      cpu: cpu[0]?.model.trim() ?? 'unknown',
      cores: cpu.length,
      node: process.version,
      platform: `${platform()} ${release()}`,
      mode: options.mode,
      command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
      options,
      timeoutScope,
    },
    systems,
    throughput: options.sections.includes('throughput')
      ? { levels: options.levels, runs, summary: summarizeThroughput(runs, systems, options.levels) }
      : undefined,
    memory: has('memory') ? ratioTo(memory, (m) => m.bytesPerCall) : undefined,
    scale: has('scale') ? scale : undefined,
    storm: has('storm') ? ratioTo(storm, (s) => s.settleMs) : undefined,
    errors,
  };
  return { ...partial, targets: evaluateTargets(partial) };
}

let options: BenchOptions;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  log((error as Error).message);
  process.exit(2);
}
const report = await main(options);
const out = resolve(options.out);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
process.stdout.write(`${renderText(reportTables(report))}\n\nWrote ${out}\n`);
if (report.errors.length > 0) process.exitCode = 1;
