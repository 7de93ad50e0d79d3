/**
 * The abort listeners of one connection's calls: one listener per signal,
 * however many pending calls share it. A signal given to every call of a
 * request scope or a shutdown (thousands in flight) would otherwise carry a
 * listener per call: Node warns of a leak past ten ("Possible EventTarget
 * memory leak detected"), and its `addEventListener` and `removeEventListener`
 * walk every listener already there, so each call cost time in proportion to
 * the calls before it (40,000 calls on one signal: seconds of CPU).
 */

/** The calls waiting on one signal, and its one listener. */
class Watched<T> {
  readonly calls = new Set<T>();
  constructor(readonly onAbort: () => void) {}
}

export class AbortWatch<T> {
  private readonly bySignal = new Map<AbortSignal, Watched<T>>();

  /** `cancel` cancels a call whose signal aborted, with the signal's reason (see `abortReason`). */
  constructor(private readonly cancel: (call: T, reason: unknown) => void) {}

  /** `call` is cancelled when `signal` aborts, until `remove`. */
  add(signal: AbortSignal, call: T): void {
    let watched = this.bySignal.get(signal);
    if (watched === undefined) {
      watched = new Watched<T>(() => this.aborted(signal));
      this.bySignal.set(signal, watched);
      signal.addEventListener('abort', watched.onAbort, { once: true });
    }
    watched.calls.add(call);
  }

  /** `call` settled: it no longer listens; the signal's listener goes with its last call. */
  remove(signal: AbortSignal, call: T): void {
    const watched = this.bySignal.get(signal);
    if (watched === undefined || !watched.calls.delete(call) || watched.calls.size > 0) return;
    this.bySignal.delete(signal);
    signal.removeEventListener('abort', watched.onAbort);
  }

  private aborted(signal: AbortSignal): void {
    const watched = this.bySignal.get(signal);
    if (watched === undefined) return;
    const reason = abortReason(signal);
    // Each cancelled call removes itself (and the last one the entry) as it settles: go through a copy.
    for (const call of [...watched.calls]) this.cancel(call, reason);
  }
}

/**
 * The reason `signal` was aborted with, or undefined (the call then fails with callstate's `AbortError`) when it
 * cannot be read: a `reason` getter that throws would otherwise escape from the signal's abort listener as an
 * uncaught exception, and the call would not be cancelled at all.
 */
export function abortReason(signal: AbortSignal): unknown {
  try {
    return signal.reason;
  } catch {
    return undefined;
  }
}
