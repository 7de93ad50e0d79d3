/**
 * What every benchmarked system provides: a server side (run in the server
 * process) and a client side (run in the client process). Both sides speak
 * the system's own protocol; the harness only sees these interfaces.
 */

/** Requests to the `hold` method that the server has not answered yet. */
export class Held {
  private waiting: Array<() => void> = [];

  add(answer: () => void): void {
    this.waiting.push(answer);
  }

  get size(): number {
    return this.waiting.length;
  }

  /** Answers every held request; returns how many. */
  release(): number {
    const waiting = this.waiting;
    this.waiting = [];
    for (const answer of waiting) answer();
    return waiting.length;
  }
}

export interface BenchServer {
  /** Where the client connects (ws:// or, for socket.io, http://). */
  url: string;
  close(): Promise<void>;
}

export interface ClientOptions {
  /** Timeout applied to every call of this connection, in ms. */
  timeout: number;
}

export interface BenchClient {
  /** One request; `echo` answers its params at once, `hold` waits for a release. */
  call(method: 'echo' | 'hold', params: object): Promise<unknown>;
  /** Calls the client still tracks, or null when the system does not expose them. */
  pending(): number | null;
  close(): Promise<void>;
}

export interface System {
  /**
   * Starts a server with two methods: `echo` (answers its params) and `hold`
   * (answers its params only when `held.release()` runs).
   */
  serve(held: Held): Promise<BenchServer>;
  connect(url: string, options: ClientOptions): Promise<BenchClient>;
  /**
   * What the client side imports, as specifiers `import()` resolves from bench/measure/: the cold start
   * section times importing these in a fresh process.
   */
  clientModules: string[];
  /** How the per-call timeout is set, for the report (e.g. "per call", "per connection"). */
  timeoutScope: string;
}
