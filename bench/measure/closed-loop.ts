/**
 * Closed-loop throughput: `concurrency` callers, each issuing its next call
 * as soon as the previous one settles, on one connection. A warm-up in the
 * same connection precedes the measured window.
 */
import type { BenchClient } from '../systems/types.js';
import type { ServerProcess } from '../server-process.js';
import { percentile } from '../stats.js';

/** The small JSON payload every echo call carries. */
export const PAYLOAD = Object.freeze({ id: 42, name: 'callstate', tags: ['a', 'b'], ok: true });

export interface LoopLimits {
  /** Stop issuing after this long, in ms. */
  durationMs: number;
  /** Stop issuing after this many calls. */
  maxCalls: number;
}

export interface ClosedLoopResult {
  concurrency: number;
  calls: number;
  errors: number;
  seconds: number;
  callsPerSec: number;
  p50Us: number;
  p99Us: number;
  /** Client process CPU (user + system) over the window, per call. */
  clientCpuUsPerCall: number;
  /** Server process CPU over the window, per call. */
  serverCpuUsPerCall: number;
}

/** Latencies beyond this many calls in one window are not recorded (the window ends there). */
const LATENCY_CAPACITY = 1 << 21;

async function loop(client: BenchClient, concurrency: number, limits: LoopLimits, latencies?: Float64Array) {
  const endAt = performance.now() + limits.durationMs;
  const maxCalls = Math.min(limits.maxCalls, latencies?.length ?? Infinity);
  let issued = 0;
  let done = 0;
  let errors = 0;
  const caller = async () => {
    while (issued < maxCalls && performance.now() < endAt) {
      issued++;
      const start = process.hrtime.bigint();
      try {
        await client.call('echo', PAYLOAD);
      } catch {
        errors++;
      }
      if (latencies) latencies[done] = Number(process.hrtime.bigint() - start) / 1_000;
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  return { done, errors };
}

export async function closedLoop(
  client: BenchClient,
  server: ServerProcess,
  concurrency: number,
  warmup: LoopLimits,
  window: LoopLimits,
): Promise<ClosedLoopResult> {
  await loop(client, concurrency, warmup);
  const latencies = new Float64Array(LATENCY_CAPACITY);

  const serverCpu0 = await server.cpu();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const { done, errors } = await loop(client, concurrency, window, latencies);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = (await server.cpu()) - serverCpu0;

  const sorted = latencies.subarray(0, done).sort();
  return {
    concurrency,
    calls: done,
    errors,
    seconds,
    callsPerSec: done / seconds,
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
    clientCpuUsPerCall: (cpu.user + cpu.system) / done,
    serverCpuUsPerCall: serverCpu / done,
  };
}
