/**
 * Workarounds for library bugs the soak found, numbered as in the tests marked
 * KNOWN BUG (test/e2e/reconnect-known-bugs.test.ts: 1 and 2;
 * test/outgoing-retry.test.ts: 3 and 4). Remove each with its fix.
 */
import type { Client } from '../src/index.js';
import { WsTransport } from '../src/transports/ws.js';

/**
 * Real time, given as the `clock` option: without one, the connection actor
 * gets `clock: undefined`, which replaces XState's default, and the first
 * reconnect delay throws (known bug 1). With `now`, calls still share one deadline timer
 * per connection, as they do by default.
 */
export const REAL_CLOCK = {
  now: () => performance.now(),
  setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms),
  clearTimeout: (handle: unknown) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * A write on a socket that is no longer open (its close event still to come)
 * is dropped without calling back, as if lost in the socket's buffer: the
 * close event then puts retry calls back in line, once. Called back at once
 * with the error, a retry call goes back first in line and the same pump
 * writes it again, forever (known bug 3); called back later, after the close,
 * it goes back in line a second time (known bug 4).
 */
export function dropFailedWrites(): void {
  const prototype = WsTransport.prototype as WsTransport & { soakPatched?: boolean };
  if (prototype.soakPatched) return;
  prototype.soakPatched = true;
  const send = prototype.send;
  prototype.send = function (this: WsTransport, data: string, done?: (error?: Error) => void) {
    if (this.isOpen || done === undefined) send.call(this, data, done);
  };
}

/**
 * Runs the effects the connection's actions queued when the transition came
 * from a timer (the reconnect backoff) instead of `Peer.dispatch`: without it,
 * `openTransport` never runs and the client stays in `connecting.opening`
 * (known bug 2). Reaches into the Peer's private `runEffects`.
 */
export function runTimerEffects(client: Client): void {
  const peer = client as unknown as { runEffects(): void };
  client.actor.subscribe(() => queueMicrotask(() => peer.runEffects()));
}
