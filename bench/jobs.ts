/** What the orchestrator asks a client worker to do, and what it gets back. */
import type { MemoryResult, ScalePoint, StormResult } from './measure/capacity.js';
import type { ClosedLoopResult, LoopLimits } from './measure/closed-loop.js';

export interface ThroughputJob {
  kind: 'throughput';
  system: string;
  levels: number[];
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
}

export type Job = ThroughputJob | CapacityJob;

export interface ThroughputOutcome {
  kind: 'throughput';
  levels: ClosedLoopResult[];
}

export interface CapacityOutcome {
  kind: 'capacity';
  memory?: MemoryResult;
  storm?: StormResult;
  scale?: ScalePoint[];
  /** Sections that failed, with the reason; the others still report. */
  errors: Array<{ section: string; message: string }>;
}

export type Outcome = ThroughputOutcome | CapacityOutcome;

export type WorkerReply = { ok: true; outcomes: Outcome[] } | { ok: false; message: string };
