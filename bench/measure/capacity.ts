/**
 * Capacity sections, each on a fresh connection in the client process
 * (started with --expose-gc):
 *  - memory: heap per pending call with N calls the server holds unanswered;
 *  - scale: CPU per call to issue, and to settle, N calls pending on one connection;
 *  - storm: N calls with a short timeout to a server that never answers, twice (the first one cold);
 *  - connections: the server's heap per connection, with N clients connected, each having made one call.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ServerProcess } from '../server-process.js';
import type { BenchClient, System } from '../systems/types.js';
import { median } from '../stats.js';
import { PAYLOAD } from './closed-loop.js';

/** Timeout for calls that must stay pending (memory, scale): long enough never to fire. */
export const NEVER_MS = 600_000;

export interface MemoryResult {
  pending: number;
  heapBeforeBytes: number;
  heapAfterBytes: number;
  bytesPerCall: number;
}

export interface ConnectionsResult {
  connections: number;
  /** The server's heap after gc, before the clients connect and once all N have made their call. */
  serverHeapBeforeBytes: number;
  serverHeapAfterBytes: number;
  bytesPerConnection: number;
}

export interface ScalePoint {
  pending: number;
  /** Client CPU per call to issue all calls (and run what they defer to the next turn), µs. */
  issueUs: number;
  /** Client CPU per call from the server's release until all calls resolved, µs. */
  settleUs: number;
  issueWallUs: number;
  settleWallUs: number;
}

export interface StormResult {
  /** Calls in each of the two storms. */
  calls: number;
  timeoutMs: number;
  /** Wall time from the first call issued until every call rejected, in the second (measured) storm. */
  settleMs: number;
  issueMs: number;
  /** The same for the first storm on the connection: the timeout path's code runs for the first time in the process. */
  firstSettleMs: number;
  /** Calls of the first storm that rejected. */
  firstRejected: number;
  rejected: number;
  resolved: number;
  /** Heap after gc, after the second storm, minus before the first. */
  heapDeltaBytes: number;
  /** Active (ref'd) `Timeout` resources after the second storm minus before the first. */
  timersLeft: number;
  /** Calls the client still tracks, or null when the system does not expose them. */
  pendingLeft: number | null;
}

function heapAfterGc(): number {
  const gc = globalThis.gc;
  if (gc === undefined) throw new Error('the client process must run with --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((type) => type === 'Timeout').length;
}

function cpuNow(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

/** Exercises both methods once so lazily built structures exist before a baseline. */
async function warmUp(client: BenchClient, server: ServerProcess, calls: number): Promise<void> {
  await Promise.all(Array.from({ length: calls }, () => client.call('echo', PAYLOAD)));
  const held = Array.from({ length: calls }, () => client.call('hold', PAYLOAD));
  await server.waitHeld(calls);
  await server.release();
  await Promise.all(held);
}

export async function measureMemory(system: System, server: ServerProcess, pending: number, warmupCalls: number): Promise<MemoryResult> {
  const client = await system.connect(server.url, { timeout: NEVER_MS });
  await warmUp(client, server, warmupCalls);
  const calls: Array<Promise<unknown> | undefined> = new Array(pending).fill(undefined);
  const heapBeforeBytes = heapAfterGc();
  for (let i = 0; i < pending; i++) calls[i] = client.call('hold', PAYLOAD);
  await server.waitHeld(pending);
  const heapAfterBytes = heapAfterGc();
  await server.release();
  await Promise.all(calls);
  await client.close();
  return { pending, heapBeforeBytes, heapAfterBytes, bytesPerCall: (heapAfterBytes - heapBeforeBytes) / pending };
}

async function scaleOnce(client: BenchClient, server: ServerProcess, pending: number): Promise<ScalePoint> {
  const calls: Array<Promise<unknown>> = new Array(pending);
  heapAfterGc();
  const cpu0 = cpuNow();
  const t0 = performance.now();
  for (let i = 0; i < pending; i++) calls[i] = client.call('hold', PAYLOAD);
  await nextTurn();
  const issueCpu = cpuNow() - cpu0;
  const issueWall = (performance.now() - t0) * 1_000;

  await server.waitHeld(pending);
  const cpu1 = cpuNow();
  const t1 = performance.now();
  await server.release();
  await Promise.all(calls);
  const settleCpu = cpuNow() - cpu1;
  const settleWall = (performance.now() - t1) * 1_000;
  return {
    pending,
    issueUs: issueCpu / pending,
    settleUs: settleCpu / pending,
    issueWallUs: issueWall / pending,
    settleWallUs: settleWall / pending,
  };
}

/**
 * Each size at least `repeats` times, and small sizes more often (until
 * `minCalls` calls), on one connection; the median of each figure. The
 * smallest size also runs once unmeasured first, so JIT warm-up does not
 * land in it.
 */
export async function measureScale(
  system: System,
  server: ServerProcess,
  sizes: readonly number[],
  repeats: number,
  minCalls: number,
  warmupCalls: number,
): Promise<ScalePoint[]> {
  const client = await system.connect(server.url, { timeout: NEVER_MS });
  await warmUp(client, server, warmupCalls);
  await scaleOnce(client, server, Math.min(...sizes));
  const points: ScalePoint[] = [];
  for (const pending of sizes) {
    const runs: ScalePoint[] = [];
    const times = Math.max(repeats, Math.ceil(minCalls / pending));
    for (let r = 0; r < times; r++) runs.push(await scaleOnce(client, server, pending));
    points.push({
      pending,
      issueUs: median(runs.map((run) => run.issueUs)),
      settleUs: median(runs.map((run) => run.settleUs)),
      issueWallUs: median(runs.map((run) => run.issueWallUs)),
      settleWallUs: median(runs.map((run) => run.settleWallUs)),
    });
  }
  await client.close();
  return points;
}

export async function measureStorm(
  system: System,
  server: ServerProcess,
  calls: number,
  timeoutMs: number,
  warmupCalls: number,
): Promise<StormResult> {
  const client = await system.connect(server.url, { timeout: timeoutMs });
  // Warm up one call at a time: a batch might not all be answered within the short timeout.
  for (let i = 0; i < warmupCalls; i++) await client.call('echo', PAYLOAD).catch(() => undefined);
  await nextTurn();
  const heapBefore = heapAfterGc();
  const timersBefore = activeTimers();

  // The first storm runs the timeout path's code for the first time in the process (the `echo` warm-up
  // never times out); the second, measured, storm runs it warm, as every other section measures its path.
  const first = await storm(client, calls);
  // The peer's answers to the first storm's `$/cancelRequest` notices (callstate's server answers each -32800) must
  // not land in the measured storm: a call answered after them (frames are answered in order) has seen them all.
  for (let answered = false; !answered;)
    answered = await client.call('echo', PAYLOAD).then(
      () => true,
      () => false,
    );
  await nextTurn();
  const { settleMs, issueMs, rejected, resolved } = await storm(client, calls);

  await nextTurn();
  await nextTurn();
  const heapDeltaBytes = heapAfterGc() - heapBefore;
  const timersLeft = activeTimers() - timersBefore;
  const pendingLeft = client.pending();
  await client.close();
  return {
    calls,
    timeoutMs,
    settleMs,
    issueMs,
    firstSettleMs: first.settleMs,
    firstRejected: first.rejected,
    rejected,
    resolved,
    heapDeltaBytes,
    timersLeft,
    pendingLeft,
  };
}

/** Issues `calls` `hold` calls at once and waits until every one settled. */
async function storm(client: BenchClient, calls: number) {
  const settled: Array<Promise<void> | undefined> = new Array(calls).fill(undefined);
  let rejected = 0;
  let resolved = 0;
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    settled[i] = client.call('hold', PAYLOAD).then(
      () => void resolved++,
      () => void rejected++,
    );
  }
  const issueMs = performance.now() - t0;
  await Promise.all(settled);
  const settleMs = performance.now() - t0;
  settled.fill(undefined);
  return { settleMs, issueMs, rejected, resolved };
}

/**
 * The server's heap per connection: `count` clients connect, one after the other, and each makes one `echo` call
 * (a connection as an application opens it: its first call made, then idle); the server's heap after gc, minus
 * before they connected, / count. Then they close. The same round runs once before the baseline: what the server
 * builds on its first connections (and what its gc frees once the earlier sections' code and garbage are gone) is
 * not counted as the connections' (a quick run of 20 measured less heap after than before).
 */
export async function measureConnections(system: System, server: ServerProcess, count: number): Promise<ConnectionsResult> {
  await connectAll(system, server, count, async () => {});
  const serverHeapBeforeBytes = await server.heap();
  let serverHeapAfterBytes = 0;
  await connectAll(system, server, count, async () => {
    serverHeapAfterBytes = await server.heap();
  });
  return {
    connections: count,
    serverHeapBeforeBytes,
    serverHeapAfterBytes,
    bytesPerConnection: (serverHeapAfterBytes - serverHeapBeforeBytes) / count,
  };
}

/** Connects `count` clients, one after the other, each making one `echo` call; runs `held` while all are open, then closes them. */
async function connectAll(system: System, server: ServerProcess, count: number, held: () => Promise<void>): Promise<void> {
  const clients: BenchClient[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const client = await system.connect(server.url, { timeout: NEVER_MS });
      clients.push(client);
      await client.call('echo', PAYLOAD);
    }
    await held();
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
}
