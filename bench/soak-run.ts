/**
 * The soak: many calls from one reconnecting client to a server process,
 * with random faults (server killed and restarted, socket dropped, calls
 * aborted, calls timing out, hostile frames both ways), and an account of
 * every call. `runSoak` returns the summary; soak.ts is the command line.
 */
import { connect, type Client, type UnmatchedReason } from '../src/index.js';
import { clientJunk, type JunkKind } from './soak-junk.js';
import { SoakServer } from './soak-process.js';
import { checkSoak, heapReport, Kind, OUTCOMES, tally, type Outcome, type SoakSummary } from './soak-summary.js';

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

const METHODS = ['echo', 'echo', 'hang', 'drop', 'hostile'] as const;

const DRAIN_TIMEOUT = 30_000;
const CALL_TIMEOUT = 5_000;

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
  });
  client.on('unmatched', ({ reason }) => unmatched[reason]++);
  client.on('reconnecting', ({ attempt }) => {
    reconnectAttempts++;
    if (attempt === 1) losses++;
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
    const echoed = result as { seq?: unknown; tag?: unknown } | null;
    if (kinds[seq] === Kind.Hang || echoed?.seq !== seq || echoed.tag !== tags[seq]) wrongResults++;
    settle(seq, 'resolved');
  };
  const onError = (seq: number) => (error: unknown) => {
    const name = (error as Error | undefined)?.name;
    const outcome = (OUTCOMES as readonly string[]).includes(name ?? '') ? (name as Outcome) : 'other';
    if (outcome === 'other' && otherErrors.length < 2_000) otherErrors += `${String(error)}\n`;
    if (outcome === 'ConnectionClosedError' && kinds[seq] === Kind.RetryEcho) retryConnectionClosed++;
    if (outcome === 'QueueFullError') pauseBriefly();
    settle(seq, outcome);
  };

  /**
   * After a QueueFullError the caller backs off instead of spinning on rejections:
   * a little while the connection is open (the line is full), longer while it is down.
   */
  const pauseBriefly = () => {
    if (paused) return;
    paused = true;
    setTimeout(
      () => {
        paused = false;
        schedule();
      },
      client.state === 'open' ? 5 : 100,
    );
  };

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
            : chance(seed, seq, 3) < retryShare
              ? Kind.RetryEcho
              : Kind.Echo;
    kinds[seq] = kind;
    tags[seq] = Math.floor(chance(seed, seq, 4) * 2 ** 32);
    if (kind === Kind.Drop) faults.dropCalls++;
    if (kind === Kind.Hang) faults.hangCalls++;
    if (kind === Kind.Junk) faults.serverHostileCalls++;
    let signal: AbortSignal | undefined;
    if (chance(seed, seq, 5) < abortShare) {
      const controller = new AbortController();
      signal = controller.signal;
      setTimeout(() => {
        if (outcomes[seq] === 0) faults.abortsFired++;
        controller.abort();
      }, Math.floor(chance(seed, seq, 6) * 5));
    }
    const timeout = kind === Kind.Hang ? 20 + Math.floor(chance(seed, seq, 7) * 40) : CALL_TIMEOUT;
    outstanding++;
    client
      .request(METHODS[kind], { seq, tag: tags[seq] }, { retry: kind === Kind.RetryEcho, timeout, signal })
      .then(onResult(seq), onError(seq));
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
  const pendingAtEnd = client.pendingCalls;
  const queuedAtEnd = client.queuedCalls;
  const opens = client.epoch;
  await client.close();
  await server.kill();

  const { lost, settledTwice, ghostReplays, retryResends, serverReceived, drops, junk } = tally(started, settles, received, kinds);
  const summary: Omit<SoakSummary, 'checks' | 'ok'> = {
    calls: { requested: total, started, settled, lost, seconds: round(seconds), perSecond: Math.round(settled / seconds) },
    outcomes: outcomeCounts,
    faults: { ...faults, socketDrops: drops, unexplainedLosses: Math.max(0, losses - faults.serverKills - drops) },
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
