/**
 * Turns the workers' outcomes into the report written as JSON: per-system
 * summaries (median and min–max across repetitions), ratios to raw ws, and
 * the issue 3 targets evaluated on this run.
 */
import type { BundleSize } from './bundle-size.js';
import type { ConnectionsResult, MemoryResult, ScalePoint, StormResult } from './measure/capacity.js';
import type { ClosedLoopResult } from './measure/closed-loop.js';
import type { ColdResult } from './measure/cold.js';
import type { OpenLoopResult } from './measure/open-loop.js';
import type { BenchOptions } from './options.js';
import { spread, type Spread } from './stats.js';

export const BASELINE = 'raw';
export const SUBJECT = 'callstate';
/** The NATS pair (issue 6): callstate over NATS, measured against nats.js `request()`. */
export const NATS_SUBJECT = 'callstate-nats';
export const NATS_PEER = 'nats.js';
/** The HTTP section (issue 13): callstate over HTTP POST against plain node:http + fetch. */
export const HTTP_BASELINE = 'http';
export const HTTP_SUBJECT = 'callstate-http';
/** Systems over NATS are not WebSocket peers: the issue 3 comparison leaves them out. */
const OVER_NATS = new Set([NATS_SUBJECT, NATS_PEER]);

export interface ThroughputRun extends ClosedLoopResult {
  rep: number;
  system: string;
}

type Metric = 'callsPerSec' | 'p50Us' | 'p99Us' | 'clientCpuUsPerCall' | 'serverCpuUsPerCall';
const METRICS: readonly Metric[] = ['callsPerSec', 'p50Us', 'p99Us', 'clientCpuUsPerCall', 'serverCpuUsPerCall'];

/** The spread of each metric over repetitions, and of its per-rep ratio to the baseline. */
export type Summary<M extends string> = Record<M, Spread> & {
  calls: number;
  errors: number;
  /** Per repetition, the system's figure over the baseline's in the same repetition; null without the baseline. */
  ratio: Record<M, Spread> | null;
};

export type LevelSummary = Summary<Metric>;

export interface RateRun extends OpenLoopResult {
  rep: number;
  system: string;
}

export type RateMetric =
  | 'p50Us'
  | 'p99Us'
  | 'p999Us'
  | 'clientCpuUsPerCall'
  | 'serverCpuUsPerCall'
  | 'totalCpuUsPerCall'
  | 'clientGcPerSec'
  | 'serverGcPerSec'
  | 'clientGcMsPerSec'
  | 'serverGcMsPerSec';
const RATE_METRICS: readonly RateMetric[] = [
  'p50Us',
  'p99Us',
  'p999Us',
  'clientCpuUsPerCall',
  'serverCpuUsPerCall',
  'totalCpuUsPerCall',
  'clientGcPerSec',
  'serverGcPerSec',
  'clientGcMsPerSec',
  'serverGcMsPerSec',
];

/** Open loop at fixed rates (issue 16). */
export interface RateSection {
  rates: number[];
  runs: RateRun[];
  summary: Record<string, Record<string, Summary<RateMetric>>>;
}

export interface ColdRun extends ColdResult {
  rep: number;
  system: string;
}

/** Cold start (issue 16): per system, over repetitions, each in a fresh process. */
export interface ColdSection {
  runs: ColdRun[];
  summary: Record<string, { importMs: Spread; firstCallMs: Spread }>;
}

export interface ClosedLoopSection {
  levels: number[];
  runs: ThroughputRun[];
  summary: Record<string, Record<string, LevelSummary>>;
}

export interface Target {
  name: string;
  value: number | null;
  limit: string;
  pass: boolean;
}

export interface Report {
  meta: {
    date: string;
    cpu: string;
    cores: number;
    node: string;
    platform: string;
    /** 1-minute load average when the run started and when it ended (other work on the machine skews figures). */
    loadAverage?: [number, number];
    mode: BenchOptions['mode'];
    command: string;
    options: BenchOptions;
    /** How each system applies its timeout. */
    timeoutScope: Record<string, string>;
  };
  systems: string[];
  throughput?: ClosedLoopSection;
  /** JSON-RPC over HTTP POST (issue 13): ratios to the plain `node:http` + `fetch` baseline (`http`). */
  http?: ClosedLoopSection;
  rate?: RateSection;
  cold?: ColdSection;
  memory?: Record<string, MemoryResult & { ratioToRaw: number | null }>;
  scale?: Record<string, { points: ScalePoint[]; issueRatio: number; settleRatio: number }>;
  storm?: Record<string, StormResult & { ratioToRaw: number | null }>;
  /** The server's heap per connection (each having made one call). */
  connections?: Record<string, ConnectionsResult & { ratioToRaw: number | null }>;
  /** Gzipped size of each system's browser client (bench/bundle-size.ts). */
  bundle?: Record<string, BundleSize>;
  targets: Target[];
  errors: Array<{ system: string; section: string; message: string }>;
}

/**
 * Per system and level (`key` of a run: its concurrency, or its rate): the spread of each metric over repetitions,
 * and of its per-rep ratio to `baseline`.
 */
function summarize<R extends { rep: number; system: string; calls: number; errors: number }, M extends string>(
  runs: R[],
  systems: string[],
  levels: number[],
  key: (run: R) => number,
  metrics: readonly M[],
  value: (run: R, metric: M) => number,
  baseline: string,
): Record<string, Record<string, Summary<M>>> {
  const summary: Record<string, Record<string, Summary<M>>> = {};
  for (const system of systems) {
    const mineByLevel: Record<string, Summary<M>> = {};
    summary[system] = mineByLevel;
    for (const level of levels) {
      const mine = runs.filter((run) => run.system === system && key(run) === level);
      if (mine.length === 0) continue;
      const ratios = mine.flatMap((run) => {
        const base = runs.find((b) => b.system === baseline && b.rep === run.rep && key(b) === level);
        return base ? [{ run, base }] : [];
      });
      const entry = {
        calls: mine.reduce((sum, run) => sum + run.calls, 0),
        errors: mine.reduce((sum, run) => sum + run.errors, 0),
        ratio: ratios.length === 0 ? null : ({} as Record<M, Spread>),
      } as Summary<M>;
      for (const metric of metrics) {
        (entry as Record<M, Spread>)[metric] = spread(mine.map((run) => value(run, metric)));
        if (entry.ratio) entry.ratio[metric] = spread(ratios.map(({ run, base }) => value(run, metric) / value(base, metric)));
      }
      mineByLevel[level] = entry;
    }
  }
  return summary;
}

/** Per system and level: the spread of each metric over repetitions, and of its per-rep ratio to `baseline`. */
export function summarizeThroughput(runs: ThroughputRun[], systems: string[], levels: number[], baseline = BASELINE) {
  return summarize(
    runs,
    systems,
    levels,
    (run) => run.concurrency,
    METRICS,
    (run, metric) => run[metric],
    baseline,
  );
}

/** Client + server CPU per call of an open-loop run. */
export const totalCpu = (run: OpenLoopResult) => run.clientCpuUsPerCall + run.serverCpuUsPerCall;

/** Per system and rate, as `summarizeThroughput`, with client + server CPU per call as a metric of its own. */
export function summarizeRates(runs: RateRun[], systems: string[], rates: number[]) {
  const value = (run: RateRun, metric: RateMetric) => (metric === 'totalCpuUsPerCall' ? totalCpu(run) : run[metric]);
  return summarize(runs, systems, rates, (run) => run.rate, RATE_METRICS, value, BASELINE);
}

export function summarizeCold(runs: ColdRun[], systems: string[]): ColdSection['summary'] {
  const summary: ColdSection['summary'] = {};
  for (const system of systems) {
    const mine = runs.filter((run) => run.system === system);
    if (mine.length > 0)
      summary[system] = { importMs: spread(mine.map((run) => run.importMs)), firstCallMs: spread(mine.map((run) => run.firstCallMs)) };
  }
  return summary;
}

export function ratioTo<T>(all: Record<string, T>, value: (entry: T) => number): Record<string, T & { ratioToRaw: number | null }> {
  const base = all[BASELINE];
  const out: Record<string, T & { ratioToRaw: number | null }> = {};
  for (const [system, entry] of Object.entries(all)) {
    out[system] = { ...entry, ratioToRaw: base === undefined ? null : value(entry) / value(base) };
  }
  return out;
}

export function scaleSummary(points: ScalePoint[]) {
  const first = points[0]!;
  const last = points[points.length - 1]!;
  return { points, issueRatio: last.issueUs / first.issueUs, settleRatio: last.settleUs / first.settleUs };
}

/** Heap target unit: 1 KB = 1,000 bytes (the stricter reading). */
export const KB = 1_000;

/** The issue 3 targets for callstate, and issue 6's for callstate over NATS, from whatever sections this run measured. */
export function evaluateTargets(report: Omit<Report, 'targets'>): Target[] {
  const targets: Target[] = [];
  const add = (name: string, value: number | null | undefined, limit: string, pass: boolean) =>
    targets.push({ name, value: value ?? null, limit, pass: value !== undefined && value !== null && pass });

  const summary = report.throughput?.summary;
  for (const level of [64, 1_024]) {
    const mine = summary?.[SUBJECT]?.[level];
    if (!mine) continue;
    const ratio = mine.ratio?.callsPerSec.median;
    add(`calls/s at ${level} in flight, ratio to raw ws`, ratio, '>= 0.85', ratio !== undefined && ratio >= 0.85);
    const peers = Object.keys(summary ?? {}).filter((s) => s !== SUBJECT && s !== BASELINE && !OVER_NATS.has(s) && summary?.[s]?.[level]);
    if (peers.length === 0) continue;
    // As the ratios to raw ws: callstate over each peer within the same repetition, median over
    // repetitions; the target holds when it is above 1 for the closest peer.
    const runs = report.throughput!.runs;
    const paired = (peer: string) =>
      spread(
        runs
          .filter((run) => run.system === SUBJECT && run.concurrency === level)
          .flatMap((run) => {
            const other = runs.find((o) => o.system === peer && o.rep === run.rep && o.concurrency === level);
            return other ? [run.callsPerSec / other.callsPerSec] : [];
          }),
      ).median;
    const [closest, lead] = peers.map((peer) => [peer, paired(peer)] as const).sort((a, b) => a[1] - b[1])[0]!;
    add(`calls/s at ${level} in flight over every peer (closest: ${closest}; per-rep ratio, median)`, lead, '> 1', lead > 1);
  }
  const single = summary?.[SUBJECT]?.[1]?.ratio?.callsPerSec.median;
  if (single !== undefined) add('calls/s at 1 in flight, ratio to raw ws', single, '>= 0.95', single >= 0.95);
  const rate = report.rate;
  for (const r of rate?.rates ?? []) {
    const mine = rate?.summary[SUBJECT]?.[r];
    if (!mine?.ratio) continue;
    const p99 = mine.ratio.p99Us.median;
    add(`at ${r} calls/s: p99 latency, ratio to raw ws`, p99, '<= 1.2', p99 <= 1.2);
    const cpu = mine.ratio.totalCpuUsPerCall.median;
    add(`at ${r} calls/s: client + server CPU per call, ratio to raw ws`, cpu, '<= 1.05', cpu <= 1.05);
    // Over each peer as over raw ws: per-rep ratio, median; the target holds when below 1 for the closest peer.
    const peers = Object.keys(rate!.summary).filter((s) => s !== SUBJECT && s !== BASELINE && !OVER_NATS.has(s) && rate!.summary[s]?.[r]);
    if (peers.length === 0) continue;
    const paired = (peer: string) =>
      spread(
        rate!.runs
          .filter((run) => run.system === SUBJECT && run.rate === r)
          .flatMap((run) => {
            const other = rate!.runs.find((o) => o.system === peer && o.rep === run.rep && o.rate === r);
            return other ? [totalCpu(run) / totalCpu(other)] : [];
          }),
      ).median;
    const [closest, share] = peers.map((peer) => [peer, paired(peer)] as const).sort((a, b) => b[1] - a[1])[0]!;
    add(
      `at ${r} calls/s: client + server CPU per call over every peer (closest: ${closest}; per-rep ratio, median)`,
      share,
      '< 1',
      share < 1,
    );
  }
  for (const level of [64, 1_024]) {
    const mine = summary?.[NATS_SUBJECT]?.[level];
    const peer = summary?.[NATS_PEER]?.[level];
    if (!mine || !peer) continue;
    const ratio = mine.callsPerSec.median / peer.callsPerSec.median;
    add(`over NATS: calls/s at ${level} in flight, ratio to nats.js request()`, ratio, '>= 0.9', ratio >= 0.9);
  }
  const memory = report.memory?.[SUBJECT];
  if (memory) {
    const kb = memory.bytesPerCall / KB;
    add(`heap per pending call, KB (${memory.pending} pending)`, kb, '<= 1.0', kb <= 1.0);
  }
  const scale = report.scale?.[SUBJECT];
  if (scale) {
    const span = `${scale.points.at(-1)!.pending}/${scale.points[0]!.pending} pending`;
    add(`issue cost per call, ${span}`, scale.issueRatio, '<= 1.5', scale.issueRatio <= 1.5);
    add(`settle cost per call, ${span}`, scale.settleRatio, '<= 1.5', scale.settleRatio <= 1.5);
  }
  const storm = report.storm?.[SUBJECT];
  if (storm) {
    add(
      'timeout storm (the second, warm): time until all rejected, ratio to raw ws',
      storm.ratioToRaw,
      '<= 1.5',
      (storm.ratioToRaw ?? Infinity) <= 1.5,
    );
    add('timeout storm: timers left', storm.timersLeft, '0', storm.timersLeft === 0);
    add('timeout storm: pending entries left', storm.pendingLeft, '0', storm.pendingLeft === 0);
    add('timeout storm: calls rejected', storm.rejected, `${storm.calls}`, storm.rejected === storm.calls);
    if (storm.firstRejected !== undefined)
      add('first (cold) timeout storm: calls rejected', storm.firstRejected, `${storm.calls}`, storm.firstRejected === storm.calls);
  }
  for (const level of report.http?.levels ?? []) {
    if (level === 1) continue;
    const ratio = report.http?.summary[HTTP_SUBJECT]?.[level]?.ratio?.callsPerSec.median;
    add(`over HTTP: calls/s at ${level} in flight, ratio to plain node:http + fetch`, ratio, '>= 0.9', ratio !== undefined && ratio >= 0.9);
  }
  const bundle = report.bundle?.[SUBJECT];
  if (bundle) {
    // Issue 13: below socket.io-client's browser client (13.1 KB gzipped), aiming below 10 KB.
    const kb = bundle.gzipped / KB;
    add('browser bundle of connect(), KB gzipped', kb, '< 13.1', kb < 13.1);
  }
  return targets;
}
