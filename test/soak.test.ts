/**
 * The soak (bench/soak-run.ts, `npm run soak`) on a small scale, so that it
 * cannot rot: a server process killed and restarted once, dropped sockets,
 * aborts, timeouts, hostile frames both ways, answers over the client's
 * maxPayload, hostile handler values, slow readers and oversized frame
 * headers beside the client, and every call accounted for.
 * The heap is not measured here (vitest runs without --expose-gc).
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '../bench/soak-run.js';

describe('soak', () => {
  it('settles every call once, with its own result, through a server kill, dropped sockets, hostile frames and values, oversized frames and slow readers', async () => {
    const summary = await runSoak({
      calls: 2_000,
      kills: 1,
      dropEvery: 400,
      serverJunkEvery: 100,
      clientJunkEvery: 40,
      abortShare: 0.02,
      hangShare: 0.01,
      oversizeEvery: 50,
      poisonEvery: 10,
      slowReaderEvery: 600,
      oversizedHeaderEvery: 500,
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
    // Each new fault at least once: a slow reader dropped with 1008 (the others may end with the kill),
    expect(summary.slowReaders).toMatchObject({ stillOpen: 0, notConnectedUnexplained: 0, stalledMainClient: 0 });
    expect(summary.slowReaders.droppedByServer).toBeGreaterThan(0);
    expect(summary.slowReaders.socketsClosed + summary.slowReaders.notConnected).toBe(summary.slowReaders.opened);
    // oversized frame headers refused with 1009, answers over maxPayload refused by the client,
    expect(summary.oversizedFrames.headersRefused1009).toBeGreaterThan(0);
    expect(summary.oversizedFrames.headersOther).toBe(0);
    expect(summary.oversizedFrames.clientRefusals).toBeGreaterThan(0);
    expect(summary.oversizedFrames.callsFailedRefused).toBeGreaterThan(0);
    // and hostile handler values answered as expected.
    expect(summary.hostileValues.answeredWithResult + summary.hostileValues.answeredWithError).toBeGreaterThan(0);
    expect(summary.hostileValues.mismatched).toBe(0);
    expect(summary.remoteErrors.unexpected).toBe(0);
    // The kill was survived: the client opened again.
    expect(summary.connection.opens).toBeGreaterThanOrEqual(2);
    expect(summary.outcomes.resolved).toBeGreaterThan(0);
    expect(summary.outcomes.other).toBe(0);
    expect(summary.heap.measured).toBe(false);
    expect(summary.checks.filter((c) => !c.ok)).toEqual([]);
    expect(summary.ok).toBe(true);
  });
});
