/**
 * Continuous demo traffic for the inspection page: calls with random server
 * delays, some answered with an error, some timing out, some cancelled by the
 * caller, and a reconnection now and then so that calls wait in `queued`.
 * Random choices come from a seeded generator: the same seed plans the same calls.
 */
import { RpcError } from '../../errors.js';
import type { Client } from '../../client.js';
import type { HandlerContext } from '../../types.js';
import { optionalInteger, validateInteger } from '../../validate.js';

export interface TrafficOptions {
  /** Seed of the generator; the same seed plans the same sequence of calls. Default: random. */
  seed?: number;
  /** Calls started per second (an integer, 1 to 1,000). Default: 6. */
  rate?: number;
  /** Longest server delay of a call that is answered, in ms. Default: 1,500. */
  maxDelay?: number;
  /** Close the client and connect a new one every this many ms; 0 never does. Default: 20,000. */
  reconnectEvery?: number;
}

export type CallKind = 'answered' | 'error' | 'timeout' | 'cancel';

/** One planned call of the `work` method. */
export interface CallPlan {
  kind: CallKind;
  /** How long the server takes, in ms. */
  delay: number;
  /** The call's timeout, when shorter than the default. */
  timeout?: number;
  /** When the caller aborts, in ms after the call. */
  cancelAfter?: number;
}

/** mulberry32: a small, fast, seeded generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Plans one call: about 70% answered, 12% answered with an error, 10% timing out, 8% cancelled. */
export function planCall(random: () => number, maxDelay: number): CallPlan {
  const roll = random();
  const delay = Math.max(1, Math.round(random() * maxDelay));
  if (roll < 0.7) return { kind: 'answered', delay };
  if (roll < 0.82) return { kind: 'error', delay };
  const slow = maxDelay * 2;
  if (roll < 0.92) return { kind: 'timeout', delay: slow, timeout: Math.max(1, Math.round(maxDelay / 2)) };
  return { kind: 'cancel', delay: slow, cancelAfter: Math.max(1, Math.round(delay / 2)) };
}

/** The server method the traffic calls: waits `delay` ms (or until cancelled), then answers or fails. */
export async function work(params: { delay: number; fail?: boolean }, ctx: HandlerContext): Promise<{ waited: number }> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, params.delay);
    ctx.signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new RpcError(-32800, 'cancelled'));
      },
      { once: true },
    );
  });
  if (params.fail) throw new RpcError(-32000, 'the demo failed this call on purpose');
  return { waited: params.delay };
}

export interface Traffic {
  /** Stops starting calls; calls in flight run to their end. */
  stop(): void;
}

/** The traffic options with defaults filled in; throws TypeError or RangeError on a bad value. */
export function trafficSettings(options: TrafficOptions = {}): Required<TrafficOptions> {
  return {
    seed: options.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : validateInteger(options.seed, 'traffic.seed', 0, 2 ** 32 - 1),
    maxDelay: optionalInteger(options.maxDelay, 'traffic.maxDelay', 1_500, 1, 3_600_000),
    rate: optionalInteger(options.rate, 'traffic.rate', 6, 1, 1_000),
    reconnectEvery: optionalInteger(options.reconnectEvery, 'traffic.reconnectEvery', 20_000, 0, 2 ** 31 - 1),
  };
}

/** Starts calls on `client()` at `rate` per second, and reconnects every `reconnectEvery` ms. */
export function startTraffic(client: () => Client, reconnect: () => Promise<Client>, settings: Required<TrafficOptions>): Traffic {
  const { maxDelay, rate, reconnectEvery } = settings;
  const random = seededRandom(settings.seed);
  const timers = new Set<NodeJS.Timeout>();

  const startOne = () => {
    const plan = planCall(random, maxDelay);
    const target = client();
    if (target.state === 'closing' || target.state === 'closed') return;
    const controller = plan.cancelAfter === undefined ? undefined : new AbortController();
    if (controller) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        controller.abort();
      }, plan.cancelAfter);
      timers.add(timer);
    }
    const call = target.request(
      'work',
      { delay: plan.delay, fail: plan.kind === 'error' },
      { timeout: plan.timeout, signal: controller?.signal },
    );
    call.catch(() => {
      // Failures are the point of the demo; the page shows them.
    });
  };

  const ticker = setInterval(startOne, Math.max(1, Math.round(1_000 / rate)));
  // A few calls right after reconnecting are made before the new connection opens: they wait in queued.
  const cycle = () =>
    reconnect().then(
      () => [1, 2, 3].forEach(startOne),
      () => {},
    );
  const reconnector = reconnectEvery > 0 ? setInterval(cycle, reconnectEvery) : undefined;
  return {
    stop() {
      clearInterval(ticker);
      if (reconnector) clearInterval(reconnector);
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
