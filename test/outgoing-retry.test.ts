/**
 * A retry call whose write fails, as regressions found by the soak
 * (bench/soak-run.ts). At once: the transport is no longer open but its close
 * event has not arrived (`WsTransport.send` reports `done(error)` at once); the
 * call must not be written again and again on it, a loop that never yielded
 * and hung the process (the test's write stops failing after 1,000 attempts so
 * that a regression ends). After the loss: the late callback of the old write
 * must not put the call in line a second time.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { ConnectionClosedError } from '../src/errors.js';
import { OutgoingCalls } from '../src/outgoing.js';

describe('OutgoingCalls with a retry call whose write fails at once', () => {
  it('does not write it again and again while the transport is still marked open', async () => {
    let attempts = 0;
    const outgoing = new OutgoingCalls({
      write: (_frame, done) => {
        attempts++;
        done?.(attempts < 1_000 ? new Error('WebSocket is not open (readyState 2)') : undefined);
      },
      inspect: undefined,
      clock: new SimulatedClock(),
      settledMemory: 100,
      engine: 'light',
      maxInFlight: Infinity,
      maxQueued: 100,
      highWaterMark: 1024,
      bufferedAmount: () => 0,
      url: 'ws://test',
    });
    outgoing.open();
    void outgoing.start({ id: 'a', method: 'echo', timeout: 100, retry: true }, '{"id":"a"}', undefined);
    await new Promise((resolve) => setImmediate(resolve));
    // Written once; after the failure it waits in queued for the next epoch.
    expect(attempts).toBe(1);
    expect(outgoing.queued).toBe(1);
  });
});

describe('OutgoingCalls with a retry call whose write fails after the loss', () => {
  it('keeps it in line once when its write callback reports the failure after the loss', async () => {
    const callbacks: Array<((error?: Error) => void) | undefined> = [];
    const outgoing = new OutgoingCalls({
      write: (_frame, done) => void callbacks.push(done),
      inspect: undefined,
      clock: new SimulatedClock(),
      settledMemory: 100,
      engine: 'light',
      maxInFlight: Infinity,
      maxQueued: 100,
      highWaterMark: 1024,
      bufferedAmount: () => 0,
      url: 'ws://test',
    });
    outgoing.open();
    void outgoing.start({ id: 'a', method: 'echo', timeout: 100, retry: true }, '{"id":"a"}', undefined);
    expect(callbacks).toHaveLength(1);
    outgoing.lost(new ConnectionClosedError('lost'));
    expect([outgoing.size, outgoing.queued]).toEqual([1, 1]);
    // The socket reports the failed write only now, after its close event.
    callbacks[0]!(new Error('write after end'));
    expect([outgoing.size, outgoing.queued]).toEqual([1, 1]);
  });
});
