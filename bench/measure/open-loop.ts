/**
 * Open-loop latency at a fixed rate: calls are issued on a schedule (call i
 * at t0 + i / rate) whether or not earlier ones have settled, and each call's
 * latency runs from its scheduled send time to its settlement, so a stall
 * delays every call scheduled during it (no coordinated omission). GC pauses
 * come from `perf_hooks` `gc` entries, in this process and (over IPC) the server's.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import type { BenchClient } from '../systems/types.js';
import type { ServerProcess } from '../server-process.js';
import { percentile } from '../stats.js';
import { PAYLOAD } from './closed-loop.js';

export interface OpenLoopResult {
  /** Calls per second asked for. */
  rate: number;
  calls: number;
  errors: number;
  seconds: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  /** Client process CPU (user + system) over the window, per call. */
  clientCpuUsPerCall: number;
  /** Server process CPU over the window, per call. */
  serverCpuUsPerCall: number;
  /** GC pauses per second of the window, client and server process. */
  clientGcPerSec: number;
  serverGcPerSec: number;
  /** Time spent in GC pauses, ms per second of the window. */
  clientGcMsPerSec: number;
  serverGcMsPerSec: number;
}

/** GC pauses of this process, counted since `start()`. */
export class GcCounter {
  count = 0;
  ms = 0;
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      this.count++;
      this.ms += entry.duration;
    }
  });

  start(): this {
    this.observer.observe({ entryTypes: ['gc'] });
    return this;
  }

  stop(): void {
    this.observer.disconnect();
  }
}

/**
 * Issues `rate × durationMs / 1000` echo calls on schedule. The scheduler wakes with a timer
 * (1 ms resolution) and sends every call whose time has come, so at 10k/s calls leave in
 * bursts of about 10, as from any timer-driven load. Resolves when every call settled.
 */
function schedule(client: BenchClient, rate: number, durationMs: number, latencies?: Float64Array) {
  const total = Math.max(1, Math.round((rate * durationMs) / 1_000));
  const intervalNs = 1e9 / rate;
  const t0 = process.hrtime.bigint();
  let issued = 0;
  let settled = 0;
  let errors = 0;
  return new Promise<{ calls: number; errors: number }>((resolve) => {
    const record = (scheduledNs: number) => {
      if (latencies) latencies[settled] = (Number(process.hrtime.bigint() - t0) - scheduledNs) / 1_000;
      if (++settled === total) resolve({ calls: total, errors });
    };
    const tick = () => {
      const now = Number(process.hrtime.bigint() - t0);
      while (issued < total && issued * intervalNs <= now) {
        const scheduledNs = issued * intervalNs;
        issued++;
        client.call('echo', PAYLOAD).then(
          () => record(scheduledNs),
          () => {
            errors++;
            record(scheduledNs);
          },
        );
      }
      if (issued < total) setTimeout(tick, Math.max(0, Math.floor((issued * intervalNs - now) / 1e6)));
    };
    tick();
  });
}

/**
 * The JIT's warm-up before the fixed rates: `calls` calls at 10,000 a second. V8 compiles a
 * function once it has run often enough, whatever the rate: at 1,000 calls a second, a client
 * and server measured from 0.5 s after connecting spend most of their CPU compiling for several
 * seconds (a callstate client, with more code on a call's path than raw ws: 1.3–1.6 times raw's
 * µs a call in the first two seconds, within about 10% from the fifth on; see bench/README.md). The
 * fixed-rate section measures an application's everyday load, a process long warm; what its
 * first calls cost is the cold-start section's.
 */
export async function warmUp(client: BenchClient, calls: number): Promise<void> {
  if (calls > 0) await schedule(client, 10_000, calls / 10);
}

export async function openLoop(
  client: BenchClient,
  server: ServerProcess,
  rate: number,
  warmupMs: number,
  windowMs: number,
): Promise<OpenLoopResult> {
  await schedule(client, rate, warmupMs);
  const latencies = new Float64Array(Math.max(1, Math.round((rate * windowMs) / 1_000)));

  const gc = new GcCounter().start();
  const serverGc0 = await server.gc();
  const serverCpu0 = await server.cpu();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const { calls, errors } = await schedule(client, rate, windowMs, latencies);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = (await server.cpu()) - serverCpu0;
  const serverGc1 = await server.gc();
  await new Promise((resolve) => setImmediate(resolve)); // let the observer deliver the window's last entries
  gc.stop();

  const sorted = latencies.sort();
  return {
    rate,
    calls,
    errors,
    seconds,
    p50Us: percentile(sorted, 0.5),
    p99Us: percentile(sorted, 0.99),
    p999Us: percentile(sorted, 0.999),
    clientCpuUsPerCall: (cpu.user + cpu.system) / calls,
    serverCpuUsPerCall: serverCpu / calls,
    clientGcPerSec: gc.count / seconds,
    serverGcPerSec: (serverGc1.count - serverGc0.count) / seconds,
    clientGcMsPerSec: gc.ms / seconds,
    serverGcMsPerSec: (serverGc1.ms - serverGc0.ms) / seconds,
  };
}
