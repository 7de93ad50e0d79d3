/**
 * The soak: many calls from one reconnecting client to a server process,
 * with random faults (server killed and restarted, socket dropped, calls
 * aborted, calls timing out, hostile frames both ways, answers larger than
 * the client's maxPayload, hostile handler values, and beside the client,
 * slow readers and oversized frame headers on raw connections), and an
 * account of every call. `runSoak` returns the summary; soak.ts is the
 * command line.
 */
import { connect, ConnectionClosedError, RemoteError, type Client, type UnmatchedReason } from '../src/index.js';
import { clientJunk, type JunkKind } from './soak-junk.js';
import { POISON, poisonExpected } from './soak-poison.js';
import { SoakServer } from './soak-process.js';
import { oversizedHeader, slowReader } from './soak-raw.js';
import { checkSoak, heapReport, Kind, OUTCOMES, rssReport, tally, type Outcome, type SoakSummary } from './soak-summary.js';

export interface SoakOptions {
  /** Calls to make. Default: 1,000,000. */
  calls?: number;
  /** Stop starting calls after this many seconds (the rest count as not started). Default: none. */
  seconds?: number;
  /** Server processes SIGKILLed and restarted, spread over the run. Default: 1 per 100,000 calls. */
  kills?: number;
  /** One call in this many drops the socket (server side, no close frame). Default: 20,000. */
  dropEvery?: number;
  /** One call in this many makes the server write hostile frames to the client. Default: 2,000. */
  serverJunkEvery?: number;
  /** One call in this many comes with a hostile frame written raw by the client. Default: 1,000. */
  clientJunkEvery?: number;
  /** Share of calls aborted by the caller soon after they start. Default: 0.005. */
  abortShare?: number;
  /** Share of calls to a method that never answers, with a short timeout. Default: 0.002. */
  hangShare?: number;
  /** One call in this many asks for an answer larger than the client's maxPayload (the client closes with 1009). Default: 50,000. */
  oversizeEvery?: number;
  /** One call in this many goes to `poison`, whose handler returns, throws, resolves or rejects a hostile value. Default: 1,000. */
  poisonEvery?: number;
  /** A slow reader (a raw connection asking for large answers, never reading) opens every this many calls. Default: 25,000. */
  slowReaderEvery?: number;
  /** A raw connection sends a frame header claiming 1 GiB every this many calls. Default: 25,000. */
  oversizedHeaderEvery?: number;
  /** Share of echo calls made with `retry: true`. Default: 0.5. */
  retryShare?: number;
  /** Calls kept outstanding by the caller (more than `maxInFlight`, so some queue). Default: 400. */
  window?: number;
  maxInFlight?: number;
  maxQueued?: number;
  /** Heap samples over the run (each after a full GC, when `global.gc` exists). Default: 100. */
  heapSamples?: number;
  /** Seed of the per-call random choices. Default: 1. */
  seed?: number;
  /** Called about 20 times over the run with a line of progress. */
  progress?: (line: string) => void;
  /** Called every second with the client's and the driver's state (for a soak that seems stuck). */
  status?: (line: string) => void;
}

/** A per-call random number in [0, 1) from (seed, seq, salt): the same choices whatever the timing. */
function chance(seed: number, seq: number, salt: number): number {
  let t = (seed ^ Math.imul(seq + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const METHODS = ['echo', 'echo', 'hang', 'drop', 'hostile', 'oversize', 'poison'] as const;

const DRAIN_TIMEOUT = 30_000;
const CALL_TIMEOUT = 5_000;
const MiB = 2 ** 20;
/** The client's maxPayload: the server's `oversize` answers 2 MiB. */
const CLIENT_MAX_PAYLOAD = MiB;
/**
 * A slow reader asks for 128 answers of 256 KiB (32 MiB, four times the
 * server's maxBufferedAmount) and reads nothing for 2.5 s: past the server's
 * drainTimeout (1 s) and closeTimeout (1 s). Then it reads, and must see its
 * socket closed within 5 s.
 */
const SLOW_READER = { requests: 128, holdMs: 2_500, readMs: 5_000 };
const HEADER_WAIT = 5_000;

/**
 * Whether a connection was lost because the client refused a frame over its
 * maxPayload. It closes with 1009 (the server sees that code), but reports
 * 1006: the server's answer to its close frame comes after the refused
 * payload, which ws no longer reads, so the close handshake never completes.
 */
const refusedOversize = (error: unknown) => (error as { code?: unknown } | undefined)?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';

export async function runSoak(options: SoakOptions = {}): Promise<SoakSummary> {
  const total = options.calls ?? 1_000_000;
  const seed = options.seed ?? 1;
  const window = options.window ?? 400;
  const kills = options.kills ?? Math.floor(total / 100_000);
  const dropEvery = options.dropEvery ?? 20_000;
  const serverJunkEvery = options.serverJunkEvery ?? 2_000;
  const clientJunkEvery = options.clientJunkEvery ?? 1_000;
  const abortShare = options.abortShare ?? 0.005;
  const hangShare = options.hangShare ?? 0.002;
  const retryShare = options.retryShare ?? 0.5;
  const oversizeEvery = options.oversizeEvery ?? 50_000;
  const poisonEvery = options.poisonEvery ?? 1_000;
  const slowReaderEvery = options.slowReaderEvery ?? 25_000;
  const oversizedHeaderEvery = options.oversizedHeaderEvery ?? 25_000;
  const heapSamples = options.heapSamples ?? 100;
  const progress = options.progress ?? (() => {});
  const gc = (globalThis as { gc?: () => void }).gc;

  // Every call's account, allocated up front so that the soak's own bookkeeping does not grow the heap.
  const kinds = new Uint8Array(total);
  const tags = new Uint32Array(total);
  const outcomes = new Uint8Array(total); // 0: not settled; else 1 + index in OUTCOMES
  const settles = new Uint8Array(total);
  const received = new Uint8Array(total);
  const outcomeCounts = Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<Outcome, number>;
  const unmatched: Record<UnmatchedReason, number> = { unknown: 0, late: 0, duplicate: 0, malformed: 0 };
  const junkSent: Partial<Record<JunkKind, number>> = {};
  const faults = { serverKills: 0, dropCalls: 0, abortsFired: 0, hangCalls: 0, clientHostileFrames: 0, serverHostileCalls: 0 };
  const slowReaders = {
    opened: 0,
    socketsClosed: 0,
    endedByKill: 0,
    stillOpen: 0,
    notConnected: 0,
    notConnectedUnexplained: 0,
    flowChecked: 0,
    stalledMainClient: 0,
    minResolvedDuringOne: Infinity,
  };
  const oversized = {
    headersSent: 0,
    headersRefused1009: 0,
    headersEndedByKill: 0,
    headersOther: 0,
    answerCalls: 0,
    clientRefusals: 0,
    callsFailedRefused: 0,
  };
  const hostileValues = { calls: 0, answeredWithResult: 0, answeredWithError: 0, mismatched: 0 };
  const remoteErrors = { busy: 0, hostileValues: 0, unexpected: 0 };
  const rss: number[] = [];
  const rawFaults = new Set<Promise<void>>();
  let wrongResults = 0;
  let retryConnectionClosed = 0;
  let otherErrors = '';
  let losses = 0;
  let reconnectAttempts = 0;

  const server = new SoakServer(received);
  await server.start();
  const client: Client = connect(server.url, {
    reconnect: { initialDelay: 10, maxDelay: 200, jitter: 0.5 },
    maxInFlight: options.maxInFlight ?? 256,
    maxQueued: options.maxQueued ?? 128,
    timeout: CALL_TIMEOUT,
    maxPayload: CLIENT_MAX_PAYLOAD,
  });
  client.on('unmatched', ({ reason }) => unmatched[reason]++);
  client.on('reconnecting', ({ uptime, error }) => {
    reconnectAttempts++;
    // A connection that had opened was lost (a short-lived one is not attempt 1: see reconnect's minUptime).
    if (uptime === undefined) return;
    losses++;
    if (refusedOversize(error)) oversized.clientRefusals++;
  });
  await client.ready;
  const { status } = options;
  if (status) {
    const every = setInterval(() => {
      const { value, context } = client.actor.getSnapshot();
      status(
        `started ${started}, settled ${settled}, outstanding ${outstanding}, connection ${JSON.stringify(value)} ` +
          `(attempt ${context.attempt}, epoch ${client.epoch}), pending ${client.pendingCalls}, queued ${client.queuedCalls}` +
          `${restarting ? ', server restarting' : ''}`,
      );
    }, 1_000);
    every.unref();
  }

  const killAt = new Set(Array.from({ length: kills }, (_, k) => Math.floor(((k + 1) * total) / (kills + 1))));
  const sampleEvery = Math.max(1, Math.floor(total / heapSamples));
  const progressEvery = Math.max(1, Math.floor(total / 20));
  const heap: number[] = [];
  const sampleRss = () => {
    const bytes = server.rss();
    if (bytes !== undefined) rss.push(bytes);
  };
  const startedAt = performance.now();
  const deadline = options.seconds === undefined ? Infinity : startedAt + options.seconds * 1_000;
  let started = 0;
  let settled = 0;
  let outstanding = 0;
  let paused = false;
  let killsDue = 0;
  let restarting: Promise<void> | undefined;

  const settle = (seq: number, outcome: Outcome) => {
    settles[seq] = settles[seq]! + 1;
    if (outcomes[seq] === 0) outcomes[seq] = OUTCOMES.indexOf(outcome) + 1;
    outcomeCounts[outcome]++;
    settled++;
    outstanding--;
    if (settled % sampleEvery === 0 && gc) {
      gc();
      heap.push(process.memoryUsage().heapUsed);
      sampleRss();
    }
    if (settled % progressEvery === 0) {
      const seconds = (performance.now() - startedAt) / 1_000;
      progress(
        `${settled.toLocaleString('en')} settled, ${Math.round(settled / seconds).toLocaleString('en')} calls/s, ` +
          `epoch ${client.epoch}, pending ${client.pendingCalls}, heap ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MB`,
      );
    }
    schedule();
  };

  const onResult = (seq: number) => (result: unknown) => {
    if (kinds[seq] === Kind.Poison) {
      const expected = poisonExpected(tags[seq]!);
      if ('result' in expected && JSON.stringify(result) === JSON.stringify(expected.result)) hostileValues.answeredWithResult++;
      else hostileValues.mismatched++;
    } else {
      const echoed = result as { seq?: unknown; tag?: unknown } | null;
      if (kinds[seq] === Kind.Hang || kinds[seq] === Kind.Oversize || echoed?.seq !== seq || echoed.tag !== tags[seq]) wrongResults++;
    }
    resume('room');
    settle(seq, 'resolved');
  };
  const onError = (seq: number) => (error: unknown) => {
    const name = (error as Error | undefined)?.name;
    const outcome = (OUTCOMES as readonly string[]).includes(name ?? '') ? (name as Outcome) : 'other';
    if (outcome === 'other' && otherErrors.length < 2_000) otherErrors += `${String(error)}\n`;
    if (outcome === 'ConnectionClosedError' && kinds[seq] === Kind.RetryEcho) retryConnectionClosed++;
    if (error instanceof ConnectionClosedError && refusedOversize(error.cause) && kinds[seq] === Kind.Oversize)
      oversized.callsFailedRefused++;
    if (error instanceof RemoteError) remoteError(seq, error);
    if (outcome === 'QueueFullError') pauseBriefly();
    else resume('room');
    settle(seq, outcome);
  };
  /** Sorts a RemoteError: a hostile value's expected error, busy, or unexpected. */
  const remoteError = (seq: number, error: RemoteError) => {
    const expected = kinds[seq] === Kind.Poison ? poisonExpected(tags[seq]!) : undefined;
    if (expected && 'code' in expected && error.code === expected.code) {
      hostileValues.answeredWithError++;
      remoteErrors.hostileValues++;
    } else if (error.code === -32000) remoteErrors.busy++;
    else {
      if (expected) hostileValues.mismatched++;
      remoteErrors.unexpected++;
      if (otherErrors.length < 2_000)
        otherErrors += `${kinds[seq] === Kind.Poison ? `poison case ${tags[seq]}: ` : ''}RemoteError ${error.code} ${error.message}\n`;
    }
  };

  /** Whether a kill came during a raw connection's life, given what was so when it started. */
  const killSince = (killsBefore: number) => faults.serverKills !== killsBefore || restarting !== undefined;

  /** Runs a raw fault once the server is up (never while it restarts), and keeps it on record until the end. */
  const beside = (fault: () => Promise<void>) => {
    const run: () => Promise<void> = () => (restarting ? restarting.then(run) : fault());
    const task = run().finally(() => rawFaults.delete(task));
    rawFaults.add(task);
  };

  const openSlowReader = async () => {
    const killsBefore = faults.serverKills;
    const resolvedBefore = outcomeCounts.resolved;
    const callsWaiting = outstanding > 0 || started < total;
    slowReaders.opened++;
    const end = await slowReader(server.url, SLOW_READER.requests, SLOW_READER.holdMs, SLOW_READER.readMs, sampleRss);
    const killed = killSince(killsBefore);
    // The main client's calls must flow meanwhile, if it had any to make and no kill stopped them.
    if (callsWaiting && !killed) {
      const resolved = outcomeCounts.resolved - resolvedBefore;
      slowReaders.flowChecked++;
      slowReaders.minResolvedDuringOne = Math.min(slowReaders.minResolvedDuringOne, resolved);
      if (resolved === 0) slowReaders.stalledMainClient++;
    }
    if (end === 'closed') slowReaders.socketsClosed++;
    if (end === 'still open') slowReaders.stillOpen++;
    if (end === 'not connected') slowReaders.notConnected++;
    if (end === 'not connected' && !killed) slowReaders.notConnectedUnexplained++;
    if (killed) slowReaders.endedByKill++;
  };

  const sendOversizedHeader = async () => {
    const killsBefore = faults.serverKills;
    oversized.headersSent++;
    const end = await oversizedHeader(server.url, HEADER_WAIT);
    if (end === 1009) oversized.headersRefused1009++;
    else if (killSince(killsBefore)) oversized.headersEndedByKill++;
    else {
      oversized.headersOther++;
      if (otherErrors.length < 2_000) otherErrors += `oversized frame header: ${end}\n`;
    }
  };

  /**
   * After a QueueFullError the caller backs off instead of spinning on rejections, until something changed: while the
   * connection is open (the line is full) until a call settles otherwise than refused, making room; while it is down
   * until it opens again. A pause of fixed length (5 ms, 100 ms while down) let the calls due meanwhile be refused by
   * the hundred, as many as the server or the reconnection took time: on a loaded machine most of a short run's
   * calls, and with them the faults scheduled among them.
   */
  const pauseBriefly = () => {
    if (paused) return;
    paused = true;
    resumeOn = client.state === 'open' ? 'room' : 'open';
  };
  /** What the paused calls wait for (pauseBriefly). */
  let resumeOn: 'room' | 'open' | undefined;
  const resume = (what: 'room' | 'open') => {
    if (resumeOn === undefined || (resumeOn === 'open' && what === 'room')) return;
    resumeOn = undefined;
    paused = false;
    schedule();
  };
  client.on('open', () => resume('open'));

  const restart = () => {
    faults.serverKills++;
    restarting = server
      .kill()
      .then(() => server.start())
      .finally(() => {
        restarting = undefined;
      });
  };

  const startCall = (seq: number) => {
    const r = chance(seed, seq, 0);
    const kind =
      chance(seed, seq, 1) < 1 / dropEvery
        ? Kind.Drop
        : r < hangShare
          ? Kind.Hang
          : chance(seed, seq, 2) < 1 / serverJunkEvery
            ? Kind.Junk
            : chance(seed, seq, 9) < 1 / oversizeEvery
              ? Kind.Oversize
              : chance(seed, seq, 10) < 1 / poisonEvery
                ? Kind.Poison
                : chance(seed, seq, 3) < retryShare
                  ? Kind.RetryEcho
                  : Kind.Echo;
    kinds[seq] = kind;
    // A poison call's tag is the case it asks for (and the result it expects).
    tags[seq] = kind === Kind.Poison ? Math.floor(chance(seed, seq, 4) * POISON.length) : Math.floor(chance(seed, seq, 4) * 2 ** 32);
    if (kind === Kind.Oversize) oversized.answerCalls++;
    if (kind === Kind.Poison) hostileValues.calls++;
    if (kind === Kind.Drop) faults.dropCalls++;
    if (kind === Kind.Hang) faults.hangCalls++;
    if (kind === Kind.Junk) faults.serverHostileCalls++;
    let signal: AbortSignal | undefined;
    if (chance(seed, seq, 5) < abortShare) {
      const controller = new AbortController();
      signal = controller.signal;
      setTimeout(
        () => {
          if (outcomes[seq] === 0) faults.abortsFired++;
          controller.abort();
        },
        Math.floor(chance(seed, seq, 6) * 5),
      );
    }
    const timeout = kind === Kind.Hang ? 20 + Math.floor(chance(seed, seq, 7) * 40) : CALL_TIMEOUT;
    outstanding++;
    const params = kind === Kind.Poison ? { seq, case: tags[seq] } : { seq, tag: tags[seq] };
    client.request(METHODS[kind], params, { retry: kind === Kind.RetryEcho, timeout, signal }).then(onResult(seq), onError(seq));
    if (seq % slowReaderEvery === slowReaderEvery >> 1) beside(openSlowReader);
    if (seq % oversizedHeaderEvery === oversizedHeaderEvery >> 1) beside(sendOversizedHeader);
    if (chance(seed, seq, 8) < 1 / clientJunkEvery && client.state === 'open') {
      const { kind: junkKind, frame } = clientJunk(faults.clientHostileFrames++);
      junkSent[junkKind] = (junkSent[junkKind] ?? 0) + 1;
      client.sendRaw(frame);
    }
    if (killAt.has(seq)) killsDue++;
    // A kill due while the server is still restarting waits for it.
    if (killsDue > 0 && !restarting) {
      killsDue--;
      restart();
    }
  };

  // Calls are started from a macrotask, never from a settling call's callback, so that
  // immediate rejections (QueueFullError) cannot starve I/O in one long microtask chain.
  let scheduled = false;
  const pump = () => {
    scheduled = false;
    while (!paused && outstanding < window && started < total && performance.now() < deadline) startCall(started++);
  };
  const schedule = () => {
    if (!scheduled && started < total) {
      scheduled = true;
      setImmediate(pump);
    }
  };

  // Done once no more calls are to start and every started call settled, or the last ones take too long.
  await new Promise<void>((resolve) => {
    let lastStart: number | undefined;
    const check = setInterval(() => {
      const now = performance.now();
      if (started < total && now < deadline) return;
      lastStart ??= now;
      if (outstanding === 0 || now - lastStart > DRAIN_TIMEOUT) {
        clearInterval(check);
        resolve();
      }
    }, 20);
    schedule();
  });
  const seconds = (performance.now() - startedAt) / 1_000;
  await restarting;
  while (rawFaults.size) await Promise.all(rawFaults);
  const pendingAtEnd = client.pendingCalls;
  const queuedAtEnd = client.queuedCalls;
  const opens = client.epoch;
  await client.close();
  await server.kill();

  const { lost, settledTwice, ghostReplays, retryResends, serverReceived, drops, junk, oversize } = tally(
    started,
    settles,
    received,
    kinds,
  );
  const summary: Omit<SoakSummary, 'checks' | 'ok'> = {
    calls: { requested: total, started, settled, lost, seconds: round(seconds), perSecond: Math.round(settled / seconds) },
    outcomes: outcomeCounts,
    faults: {
      ...faults,
      socketDrops: drops,
      unexplainedLosses: Math.max(0, losses - faults.serverKills - drops - oversized.clientRefusals),
    },
    slowReaders: {
      ...slowReaders,
      droppedByServer: server.slowReadersDropped,
      minResolvedDuringOne: slowReaders.flowChecked ? slowReaders.minResolvedDuringOne : 0,
    },
    serverRss: rssReport(rss),
    oversizedFrames: {
      ...oversized,
      answerCallsReceived: oversize,
      serverSawClose1009: server.clientCloses1009,
      serverSawOtherEnds: server.oversizeCallersOtherEnds,
    },
    hostileValues,
    remoteErrors,
    hostileInputs: { clientFrames: junkSent, serverFrames: 3 * junk },
    integrity: {
      lost,
      settledTwice,
      wrongResults,
      ghostReplays,
      duplicateAnswers: unmatched.duplicate,
      retryResends,
      serverReceived,
      retryConnectionClosed,
      pendingAtEnd,
      queuedAtEnd,
      serverCrashes: server.crashes,
      otherErrors: otherErrors.trim(),
    },
    connection: { opens, losses, reconnectAttempts },
    unmatched,
    heap: heapReport(heap, gc !== undefined),
  };
  return checkSoak(summary, server.crashOutput);
}

const round = (n: number) => Math.round(n * 100) / 100;
