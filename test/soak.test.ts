/**
 * The soak (bench/soak-run.ts, `npm run soak`) on a small scale, so that it
 * cannot rot: a server process killed and restarted once, dropped sockets,
 * aborts, timeouts and hostile frames both ways, and every call accounted for.
 * The heap is not measured here (vitest runs without --expose-gc).
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '../bench/soak-run.js';

describe('soak', () => {
  it('settles every call once, with its own result, through a server kill, dropped sockets and hostile frames', async () => {
    const summary = await runSoak({
      calls: 2_000,
      kills: 1,
      dropEvery: 400,
      serverJunkEvery: 100,
      clientJunkEvery: 40,
      abortShare: 0.02,
      hangShare: 0.01,
      seed: 5,
    });
    expect(summary.calls).toMatchObject({ requested: 2_000, started: 2_000, settled: 2_000, lost: 0 });
    expect(summary.integrity).toMatchObject({
      lost: 0,
      settledTwice: 0,
      wrongResults: 0,
      ghostReplays: 0,
      duplicateAnswers: 0,
      retryConnectionClosed: 0,
      pendingAtEnd: 0,
      queuedAtEnd: 0,
      serverCrashes: 0,
      otherErrors: '',
    });
    expect(summary.faults.serverKills).toBe(1);
    expect(summary.faults.dropCalls).toBeGreaterThan(0);
    expect(summary.faults.clientHostileFrames).toBeGreaterThan(0);
    expect(summary.faults.serverHostileCalls).toBeGreaterThan(0);
    expect(summary.faults.unexplainedLosses).toBe(0);
    // The kill was survived: the client opened again.
    expect(summary.connection.opens).toBeGreaterThanOrEqual(2);
    expect(summary.outcomes.resolved).toBeGreaterThan(0);
    expect(summary.outcomes.other).toBe(0);
    expect(summary.heap.measured).toBe(false);
    expect(summary.checks.filter((c) => !c.ok)).toEqual([]);
    expect(summary.ok).toBe(true);
  });
});
