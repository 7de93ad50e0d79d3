/** What the orchestrator asks a client worker to do, and what it gets back. */
import type { ConnectionsResult, MemoryResult, ScalePoint, StormResult } from './measure/capacity.js';
import type { ClosedLoopResult, LoopLimits } from './measure/closed-loop.js';
import type { ColdResult } from './measure/cold.js';
import type { OpenLoopResult } from './measure/open-loop.js';

export interface ThroughputJob {
  kind: 'throughput';
  system: string;
  levels: number[];
  /** Calls made at 10,000 a second before the first level, so the JIT has compiled what a call runs (see `warmUp`). */
  warmupCalls: number;
  warmup: LoopLimits;
  window: LoopLimits;
  /** Per-call timeout of the connection, ms (every system gets one, as callstate always has one). */
  timeoutMs: number;
}

export interface CapacityJob {
  kind: 'capacity';
  system: string;
  /** Calls made before each section's baseline, so lazily built structures and JIT are warm. */
  warmupCalls: number;
  memory?: { pending: number };
  storm?: { calls: number; timeoutMs: number };
  scale?: { sizes: number[]; repeats: number; minCalls: number };
  connections?: { count: number };
}

/** Open loop at fixed rates, one after the other on one connection. */
export interface RateJob {
  kind: 'rate';
  system: string;
  /** Calls per second. */
  rates: number[];
  /** Calls made at 10,000 a second before the first rate, so the JIT has compiled what a call runs (see `warmUp`). */
  warmupCalls: number;
  warmupMs: number;
  windowMs: number;
  /** Fewest calls each rate's window measures: the window is longer at a rate that would make fewer in `windowMs`. */
  minCalls: number;
  timeoutMs: number;
}

/** Cold start: must be the first job of a fresh client worker. */
export interface ColdJob {
  kind: 'cold';
  system: string;
  timeoutMs: number;
}

export type Job = ThroughputJob | CapacityJob | RateJob | ColdJob;

export interface ThroughputOutcome {
  kind: 'throughput';
  levels: ClosedLoopResult[];
}

export interface CapacityOutcome {
  kind: 'capacity';
  memory?: MemoryResult;
  storm?: StormResult;
  scale?: ScalePoint[];
  connections?: ConnectionsResult;
  /** Sections that failed, with the reason; the others still report. */
  errors: Array<{ section: string; message: string }>;
}

export interface RateOutcome {
  kind: 'rate';
  rates: OpenLoopResult[];
}

export interface ColdOutcome extends ColdResult {
  kind: 'cold';
}

export type Outcome = ThroughputOutcome | CapacityOutcome | RateOutcome | ColdOutcome;

export type WorkerReply = { ok: true; outcomes: Outcome[] } | { ok: false; message: string };
