/** Command-line options of `npm run bench`, merged over the mode's defaults and validated in one place. */
import { SYSTEM_NAMES } from './systems/index.js';
import type { LoopLimits } from './measure/closed-loop.js';

export type Section = 'throughput' | 'rate' | 'cold' | 'memory' | 'scale' | 'storm' | 'connections' | 'http' | 'bundle';
export const SECTIONS: readonly Section[] = ['throughput', 'rate', 'cold', 'memory', 'scale', 'storm', 'connections', 'http', 'bundle'];

export interface BenchOptions {
  mode: 'full' | 'quick';
  /** Systems to run, baseline first. Default: all. */
  systems: string[];
  sections: Section[];
  /** Interleaved repetitions of the closed-loop runs. Default: 5 (quick: 1). */
  reps: number;
  /** Calls in flight for the closed-loop runs. Default: 1, 64, 1,024. */
  levels: number[];
  /** Calls in flight for the HTTP section's closed-loop runs (each one a POST; fetch opens a connection per call in flight). Default: 1, 64. */
  httpLevels: number[];
  /** Warm-up before each measured window, same connection. Default: 500 ms (quick: 50 ms). */
  warmup: LoopLimits;
  /** Measured window of each closed-loop run. Default: 2,000 ms (quick: 150 ms). */
  window: LoopLimits;
  /** Calls per second of the open-loop (fixed rate) runs. Default: 1,000 and 10,000. */
  rates: number[];
  /**
   * Calls made at 10,000 a second on each connection of the closed-loop (WebSocket and NATS) and fixed-rate runs before
   * anything on it is measured: the JIT's warm-up, so steady state is measured (cold start has a section of its own).
   * Default: 10,000 (quick: 200).
   */
  jitWarmupCalls: number;
  /**
   * Warm-up at each rate before its measured window, same connection. Default: 4,000 ms (quick: 50 ms): at a new rate
   * V8 re-optimizes what the rate's pattern of calls and timers deopted, for about the first 4 s (bench/README.md).
   */
  rateWarmupMs: number;
  /** Measured window at each rate. Default: 2,000 ms (quick: 150 ms); `--duration` sets it too. */
  rateWindowMs: number;
  /**
   * Fewest calls a rate's window measures: a slower rate gets a longer window. Default: 8,000 (quick: 0), so 8 s at
   * 1,000 calls/s: in 2 s (2,000 calls) one recompile of Node's timer functions moved a rep's CPU figure by 7-23 µs a
   * call (bench/README.md, "what the JIT costs at 1,000 calls/s").
   */
  rateMinCalls: number;
  /** Timeout of every call in the closed-loop runs, ms. Default: 10,000. */
  callTimeoutMs: number;
  /** Warm-up calls, one at a time, before each capacity section (memory, scale, storm). Default: 10,000 (quick: 50). */
  capacityWarmupCalls: number;
  /** Calls held pending for the memory section. Default: 100,000 (quick: 2,000). */
  memoryPending: number;
  /** Pending calls at which issue and settle are measured. Default: 1k, 10k, 100k (quick: 100, 500, 2k). */
  scaleSizes: number[];
  /** Repeats of each scale size (median taken). Default: 3 (quick: 1). */
  scaleRepeats: number;
  /** Small scale sizes repeat until this many calls were measured. Default: 20,000 (quick: 500). */
  scaleMinCalls: number;
  /** Calls in the timeout storm. Default: 10,000 (quick: 500). */
  stormCalls: number;
  /** Timeout of each storm call, ms. Default: 50. */
  stormTimeoutMs: number;
  /** Connections the server holds for the connections section. Default: 500 (quick: 50). */
  connections: number;
  /** Where the JSON goes. Default: bench/results/latest.json. */
  out: string;
}

const NO_LIMIT = Number.MAX_SAFE_INTEGER; // Infinity does not survive IPC's JSON

const defaults = {
  full: {
    reps: 5,
    warmup: { durationMs: 500, maxCalls: NO_LIMIT },
    window: { durationMs: 2_000, maxCalls: NO_LIMIT },
    jitWarmupCalls: 10_000,
    rateWarmupMs: 4_000,
    rateWindowMs: 2_000,
    rateMinCalls: 8_000,
    capacityWarmupCalls: 10_000,
    memoryPending: 100_000,
    scaleSizes: [1_000, 10_000, 100_000],
    scaleRepeats: 3,
    scaleMinCalls: 20_000,
    stormCalls: 10_000,
    connections: 500,
  },
  quick: {
    reps: 1,
    warmup: { durationMs: 50, maxCalls: NO_LIMIT },
    window: { durationMs: 150, maxCalls: NO_LIMIT },
    jitWarmupCalls: 200,
    rateWarmupMs: 50,
    rateWindowMs: 150,
    rateMinCalls: 0,
    capacityWarmupCalls: 50,
    memoryPending: 2_000,
    scaleSizes: [100, 500, 2_000],
    scaleRepeats: 1,
    scaleMinCalls: 500,
    stormCalls: 500,
    connections: 50,
  },
};

export const USAGE = `usage: npm run bench -- [--quick] [--reps N] [--duration MS] [--only ${SYSTEM_NAMES.join(',')}]
                        [--sections ${SECTIONS.join(',')}] [--out FILE]`;

function list(value: string, known: readonly string[], what: string, flag: string): string[] {
  const items = value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  for (const item of items) if (!known.includes(item)) throw new RangeError(`unknown ${what} "${item}" (known: ${known.join(', ')})`);
  if (items.length === 0) throw new RangeError(`${flag} needs at least one ${what}`);
  return known.filter((name) => items.includes(name)); // canonical order: baseline first
}

function positiveInteger(value: string | undefined, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${flag} needs a positive integer, got ${value}`);
  return n;
}

export function parseOptions(argv: readonly string[]): BenchOptions {
  const mode = argv.includes('--quick') ? 'quick' : 'full';
  const base = defaults[mode];
  const options: BenchOptions = {
    mode,
    systems: [...SYSTEM_NAMES],
    sections: [...SECTIONS],
    levels: [1, 64, 1_024],
    httpLevels: [1, 64],
    rates: [1_000, 10_000],
    callTimeoutMs: 10_000,
    stormTimeoutMs: 50,
    out: 'bench/results/latest.json',
    ...base,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--quick') continue;
    const value = argv[++i];
    if (value === undefined) throw new RangeError(`${flag} needs a value\n${USAGE}`);
    switch (flag) {
      case '--reps':
        options.reps = positiveInteger(value, flag);
        break;
      case '--duration':
        options.window = { ...options.window, durationMs: positiveInteger(value, flag) };
        options.rateWindowMs = options.window.durationMs;
        options.rateMinCalls = 0; // the window asked for, at every rate
        break;
      case '--only':
        options.systems = list(value, SYSTEM_NAMES, 'system', flag);
        break;
      case '--sections':
        options.sections = list(value, SECTIONS, 'section', flag) as Section[];
        break;
      case '--out':
        options.out = value;
        break;
      default:
        throw new RangeError(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return options;
}
