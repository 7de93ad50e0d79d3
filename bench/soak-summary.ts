/** The soak's summary: its shape, the heap figures, and the checks that pass or fail the run. */
import type { UnmatchedReason } from '../src/index.js';
import type { JunkKind } from './soak-junk.js';

/** How a call settled: resolved, or the name of the error it rejected with ('other' for anything unexpected). */
export const OUTCOMES = [
  'resolved',
  'TimeoutError',
  'ConnectionClosedError',
  'AbortError',
  'QueueFullError',
  'RemoteError',
  'other',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** What a call is, by its seq: its method (echo for both echo kinds) and whether it may be sent again. */
export const Kind = { Echo: 0, RetryEcho: 1, Hang: 2, Drop: 3, Junk: 4, Oversize: 5, Poison: 6 } as const;

/**
 * Counts from the per-call records: calls never settled (lost) or settled
 * twice, non-retry requests the server received twice (ghost replays), retry
 * resends, all requests received, and the drop, hostile and oversize calls received.
 */
export function tally(started: number, settles: Uint8Array, received: Uint8Array, kinds: Uint8Array) {
  const counts = { lost: 0, settledTwice: 0, ghostReplays: 0, retryResends: 0, serverReceived: 0, drops: 0, junk: 0, oversize: 0 };
  for (let seq = 0; seq < started; seq++) {
    const times = received[seq]!;
    counts.serverReceived += times;
    if (settles[seq] === 0) counts.lost++;
    if (settles[seq]! > 1) counts.settledTwice++;
    if (times > 1 && kinds[seq] === Kind.RetryEcho) counts.retryResends += times - 1;
    else if (times > 1) counts.ghostReplays++;
    if (times > 0 && kinds[seq] === Kind.Drop) counts.drops++;
    if (times > 0 && kinds[seq] === Kind.Junk) counts.junk++;
    if (times > 0 && kinds[seq] === Kind.Oversize) counts.oversize++;
  }
  return counts;
}

/** Server RSS growth allowed above its first sample: slow readers may hold at most maxBufferedAmount (8 MiB) each. */
export const SERVER_RSS_GROWTH_BYTES = 128 * 2 ** 20;

/** Heap growth allowed from the first quarter's median to the last quarter's: the larger of the two bounds. */
export const HEAP_GROWTH_BYTES = 10 * 2 ** 20;
export const HEAP_GROWTH_SHARE = 0.2;

export interface HeapReport {
  /** Whether heap was sampled (node ran with --expose-gc). */
  measured: boolean;
  samples: number;
  /** Medians of the first and last quarter of samples, in MB. */
  startMB: number;
  endMB: number;
  growthMB: number;
  boundMB: number;
  minMB: number;
  maxMB: number;
}

export interface SoakSummary {
  calls: { requested: number; started: number; settled: number; lost: number; seconds: number; perSecond: number };
  outcomes: Record<Outcome, number>;
  faults: {
    /** Server processes SIGKILLed (each restarted on the same port). */
    serverKills: number;
    /** Calls to `drop` made, and sockets the server dropped (the drop calls it received). */
    dropCalls: number;
    socketDrops: number;
    abortsFired: number;
    hangCalls: number;
    clientHostileFrames: number;
    serverHostileCalls: number;
    /** Connection losses that no kill, drop or oversize answer explains (hostile input must never close the connection). */
    unexplainedLosses: number;
  };
  /**
   * Raw connections that ask for 256 KiB answers and never read. Each must end
   * (its socket closed by the server) and, unless a server kill ended it
   * first, be dropped with 1008; the main client's calls flow meanwhile.
   */
  slowReaders: {
    opened: number;
    /** Dropped with 1008, as the server processes reported. */
    droppedByServer: number;
    socketsClosed: number;
    /** Opened while the server restarted or alive during a kill. */
    endedByKill: number;
    /** Still open after being read again: never dropped (a failure). */
    stillOpen: number;
    /** Could not connect (the server was killed meanwhile), and of those, with no kill to explain it (a failure). */
    notConnected: number;
    notConnectedUnexplained: number;
    /** Slow readers opened while the main client had calls to make, and no kill during their life: the main client's calls must resolve meanwhile. */
    flowChecked: number;
    /** Of those, slow readers during whose life the main client resolved no call (a failure). */
    stalledMainClient: number;
    /** Of those, the fewest main-client calls resolved during one slow reader's life. */
    minResolvedDuringOne: number;
  };
  /** The server process's resident set size (/proc), sampled with the heap and as each slow reader resumes reading. */
  serverRss: { samples: number; firstMB: number; maxMB: number; lastMB: number; boundMB: number };
  oversizedFrames: {
    /** Raw connections that sent a frame header claiming 1 GiB. */
    headersSent: number;
    headersRefused1009: number;
    headersEndedByKill: number;
    /** Ended otherwise (another code, no close frame, no connection) with no kill to explain it: a failure. */
    headersOther: number;
    /** Calls to `oversize` (a 2 MiB answer against the client's 1 MiB maxPayload), and those the server received. */
    answerCalls: number;
    answerCallsReceived: number;
    /**
     * Client connections lost because the client refused an answer over its
     * maxPayload (ws closes with 1009; locally the loss reports 1006), the
     * closes with 1009 the server processes saw, the other ends they saw of
     * connections that had called `oversize` (a refused one among them when
     * the client's close frame came too late: its socket gone first, on a
     * loaded machine), and the `oversize` calls that failed with
     * ConnectionClosedError caused by a refusal.
     */
    clientRefusals: number;
    serverSawClose1009: number;
    serverSawOtherEnds: number;
    callsFailedRefused: number;
  };
  /** Calls to `poison` (soak-poison.ts): each must settle once, as its case says. */
  hostileValues: {
    calls: number;
    answeredWithResult: number;
    answeredWithError: number;
    /** Settled with another result or another error code (a failure). */
    mismatched: number;
  };
  /** RemoteErrors by what they mean: busy (-32000, the server's buffer at highWaterMark), a hostile value's expected error, or anything else (a failure). */
  remoteErrors: { busy: number; hostileValues: number; unexpected: number };
  /** Hostile frames written by the client (by kind), and by the server (three per `hostile` call it received). */
  hostileInputs: { clientFrames: Partial<Record<JunkKind, number>>; serverFrames: number };
  integrity: {
    lost: number;
    settledTwice: number;
    wrongResults: number;
    ghostReplays: number;
    duplicateAnswers: number;
    retryResends: number;
    /** Requests the server processes received, in all (retry resends included). */
    serverReceived: number;
    retryConnectionClosed: number;
    pendingAtEnd: number;
    queuedAtEnd: number;
    serverCrashes: number;
    otherErrors: string;
  };
  connection: { opens: number; losses: number; reconnectAttempts: number };
  unmatched: Record<UnmatchedReason, number>;
  heap: HeapReport;
  checks: Array<{ check: string; ok: boolean }>;
  ok: boolean;
}

const MB = 2 ** 20;
const mb = (bytes: number) => Math.round((bytes / MB) * 100) / 100;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** First-quarter vs last-quarter medians of heap samples taken after a full GC. */
export function heapReport(samples: number[], measured: boolean): HeapReport {
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const start = samples.length ? median(samples.slice(0, quarter)) : 0;
  const end = samples.length ? median(samples.slice(-quarter)) : 0;
  return {
    measured: measured && samples.length >= 4,
    samples: samples.length,
    startMB: mb(start),
    endMB: mb(end),
    growthMB: mb(end - start),
    boundMB: mb(Math.max(HEAP_GROWTH_BYTES, start * HEAP_GROWTH_SHARE)),
    minMB: mb(samples.length ? Math.min(...samples) : 0),
    maxMB: mb(samples.length ? Math.max(...samples) : 0),
  };
}

/** The server's RSS samples, in MB, and the bound on its peak. */
export function rssReport(samples: number[]): SoakSummary['serverRss'] {
  const first = samples[0] ?? 0;
  return {
    samples: samples.length,
    firstMB: mb(first),
    maxMB: mb(samples.length ? Math.max(...samples) : 0),
    lastMB: mb(samples.at(-1) ?? 0),
    boundMB: mb(first + SERVER_RSS_GROWTH_BYTES),
  };
}

/** Adds the pass/fail checks to a summary. */
export function checkSoak(summary: Omit<SoakSummary, 'checks' | 'ok'>, crashOutput: string): SoakSummary {
  const { integrity: i, heap, faults, outcomes, slowReaders: slow, serverRss, oversizedFrames: big, hostileValues, remoteErrors } = summary;
  const checks = [
    { check: 'every started call settled (lost = 0)', ok: i.lost === 0 },
    { check: 'no call settled twice', ok: i.settledTwice === 0 },
    { check: 'no call resolved with another result', ok: i.wrongResults === 0 },
    { check: 'no ghost replays (a non-retry request received twice)', ok: i.ghostReplays === 0 },
    { check: 'no retry call answered twice (duplicate responses)', ok: i.duplicateAnswers === 0 },
    { check: 'no retry call failed with ConnectionClosedError', ok: i.retryConnectionClosed === 0 },
    { check: 'no unexpected error class', ok: outcomes.other === 0 },
    { check: 'pendingCalls = 0 and queuedCalls = 0 at the end', ok: i.pendingAtEnd === 0 && i.queuedAtEnd === 0 },
    { check: 'the server process never crashed', ok: i.serverCrashes === 0 },
    { check: 'no connection loss beyond the injected faults', ok: faults.unexplainedLosses === 0 },
    {
      check: 'every slow reader dropped with 1008 (or ended by a kill), its socket closed',
      ok:
        slow.stillOpen === 0 &&
        slow.notConnectedUnexplained === 0 &&
        slow.socketsClosed + slow.notConnected === slow.opened &&
        slow.droppedByServer + slow.endedByKill >= slow.opened,
    },
    { check: "the main client's calls resolved during every slow reader's life", ok: slow.stalledMainClient === 0 },
    { check: `server RSS bounded (peak at most ${serverRss.boundMB} MB)`, ok: serverRss.maxMB <= serverRss.boundMB },
    { check: 'every oversized frame header refused with 1009 (or ended by a kill)', ok: big.headersOther === 0 },
    {
      // Its counts in the check's words, so that a failure (seen about once in 14 runs under load) says which bound broke.
      check: `answers over maxPayload refused by the client with 1009 (refused ${big.clientRefusals} of ${big.answerCallsReceived}; the server saw ${big.serverSawClose1009} closes with 1009 and ${big.serverSawOtherEnds} other ends of such connections; ${faults.serverKills} kills)`,
      // Each refusal follows an `oversize` answer, and the server saw its connection end unless killed first: with the
      // client's 1009, or, when that close frame came too late (a loaded machine), otherwise.
      ok:
        big.clientRefusals <= big.answerCallsReceived &&
        big.serverSawClose1009 <= big.clientRefusals &&
        big.clientRefusals <= big.serverSawClose1009 + big.serverSawOtherEnds + faults.serverKills,
    },
    { check: 'every hostile handler value answered as expected', ok: hostileValues.mismatched === 0 },
    { check: 'no unexpected RemoteError', ok: remoteErrors.unexpected === 0 },
    {
      check: `heap flat (growth at most ${heap.boundMB} MB)`,
      ok: !heap.measured || heap.growthMB <= heap.boundMB,
    },
  ];
  if (crashOutput) i.otherErrors = `${i.otherErrors}\nserver: ${crashOutput}`.trim();
  return { ...summary, checks, ok: checks.every((c) => c.ok) };
}
