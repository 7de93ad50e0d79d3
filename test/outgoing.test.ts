/**
 * OutgoingCalls on its own (no socket): how a no-responders status from a
 * broker, and a malformed answer, are matched, as a response would be, against
 * pending and settled calls; the epochs: what a write completing on a lost transport may change;
 * a retry call whose write fails, as regressions found by the soak (bench/soak-run.ts); and how many times a
 * retry call is re-sent when its connections are lost, written or not.
 */
import { describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { ConnectionClosedError, NoRespondersError, ProtocolError, TimeoutError } from '../src/errors.js';
import { Line } from '../src/core/line.js';
import { OutgoingCalls, type OutgoingOptions } from '../src/core/outgoing.js';
import type { Message } from '../src/protocol/jsonrpc.js';
import { settle } from './helpers.js';
import { DEFAULT_RETRIES } from '../src/validate.js';

/** A result response for the call `id`, as the inbound dispatcher hands it on. */
function resultFor(id: string, result: unknown): Extract<Message, { kind: 'result' }> {
  return { kind: 'result', frame: { jsonrpc: '2.0', id, result } };
}

/** Outgoing calls writing through `write`, on the light engine, with no backpressure in the way. */
function outgoingCalls(write: OutgoingOptions['write'], clock = new SimulatedClock()): OutgoingCalls {
  return new OutgoingCalls({
    write,
    callSiteStacks: false,
    inspect: undefined,
    clock,
    settledMemory: 100,
    engine: 'light',
    xstate: undefined,
    maxInFlight: Infinity,
    maxQueued: 100,
    maxQueuedBytes: 1_000_000,
    highWaterMark: 1024,
    bufferedAmount: () => 0,
    url: 'ws://test',
  });
}

function calls(clock = new SimulatedClock()) {
  const written: string[] = [];
  const outgoing = outgoingCalls((frame, done) => (written.push(frame), done?.(), true), clock);
  outgoing.open();
  const start = (id: string) => outgoing.start({ id, method: 'sum', timeout: 100 }, `{"id":"${id}"}`, undefined);
  return { outgoing, start, clock, written };
}

describe('OutgoingCalls.fail (NATS: no responders)', () => {
  it('fails a pending call at once with NoRespondersError', async () => {
    const { outgoing, start } = calls();
    const call = settle(start('a'));
    expect(outgoing.fail('a', (method) => new NoRespondersError(method, 'math.v1'))).toBeUndefined();
    const { error } = await call;
    expect(error).toBeInstanceOf(NoRespondersError);
    expect([error.code, error.method, error.subject]).toEqual(['ERR_NO_RESPONDERS', 'sum', 'math.v1']);
    expect(outgoing.size).toBe(0);
  });

  it('reports a status for a settled call as a response would be: late after a timeout, duplicate after an answer', async () => {
    const { outgoing, start, clock } = calls();
    const answered = start('answered');
    expect(outgoing.route(resultFor('answered', 1))).toBeUndefined();
    expect(await answered).toBe(1);
    const timedOut = settle(start('timedOut'));
    clock.increment(100);
    expect((await timedOut).error).toBeInstanceOf(TimeoutError);

    const noResponders = (method: string) => new NoRespondersError(method, 's');
    expect(outgoing.fail('answered', noResponders)).toBe('duplicate');
    expect(outgoing.fail('timedOut', noResponders)).toBe('late');
    expect(outgoing.fail('never-made', noResponders)).toBe('unknown');
    expect(outgoing.route(resultFor('answered', 2))).toBe('duplicate');
    expect(outgoing.route(resultFor('timedOut', 2))).toBe('late');
  });
});

describe('OutgoingCalls.malformed (a broken answer to a call)', () => {
  it('fails the pending call with that exact string id, with ProtocolError; a later response for it is a duplicate', async () => {
    const { outgoing, start } = calls();
    const call = settle(start('a'));
    const other = start('b');
    let asked = 0;
    const frame = () => (asked++, '{"jsonrpc":"2.0","id":"a"}');
    expect(outgoing.malformed('A', 'why', frame)).toBe(false);
    expect(outgoing.malformed(7, 'why', frame)).toBe(false);
    expect(outgoing.malformed('never-made', 'why', frame)).toBe(false);
    // The frame's text is made only for a call it fails.
    expect(asked).toBe(0);
    expect(outgoing.malformed('a', 'why', frame)).toBe(true);
    const { error } = await call;
    expect(error).toBeInstanceOf(ProtocolError);
    expect(error.message).toBe('call "sum" (id a) was answered with a malformed response (why): {"jsonrpc":"2.0","id":"a"}');
    expect(outgoing.malformed('a', 'why', frame)).toBe(false);
    expect(outgoing.route(resultFor('a', 1))).toBe('duplicate');
    expect(outgoing.size).toBe(1);
    expect(outgoing.route(resultFor('b', 2))).toBeUndefined();
    expect(await other).toBe(2);
  });

  it('leaves a call still in queued alone: it was never written, nothing can have answered it', async () => {
    const outgoing = outgoingCalls(() => true);
    const call = settle(outgoing.start({ id: 'q', method: 'sum', timeout: 100 }, '{"id":"q"}', undefined));
    expect(outgoing.queued).toBe(1);
    expect(outgoing.malformed('q', 'why', () => '{}')).toBe(false);
    expect(outgoing.queued).toBe(1);
    outgoing.failAll(new ConnectionClosedError('closed'));
    expect((await call).error).toBeInstanceOf(ConnectionClosedError);
  });
});

describe('OutgoingCalls epochs', () => {
  /** Calls whose write callbacks the test completes by hand, epoch by epoch. */
  function manual() {
    const writes: Array<{ frame: string; done?: (error?: Error) => void }> = [];
    const outgoing = outgoingCalls((frame, done) => (writes.push({ frame, done }), true));
    return { outgoing, writes };
  }

  it("a write completing on a lost epoch does not move the call re-sent on the next; the new write's does", async () => {
    const { outgoing, writes } = manual();
    outgoing.open();
    const call = outgoing.start({ id: 'r', method: 'get', timeout: 100 }, '{"id":"r"}', undefined, DEFAULT_RETRIES);
    outgoing.lost(new ConnectionClosedError('lost'));
    expect(outgoing.queued).toBe(1);
    outgoing.open();
    expect(writes.map((w) => w.frame)).toEqual(['{"id":"r"}', '{"id":"r"}']);
    // The old socket reports its write failed, late: the call, re-sent on the new one, carries on.
    writes[0]!.done!(new Error('EPIPE'));
    expect(outgoing.queued).toBe(0);
    writes[1]!.done!();
    expect(outgoing.route(resultFor('r', 'ok'))).toBeUndefined();
    expect(await call).toBe('ok');
  });

  it('a write refused at once fails that call as not written, and leaves the call still being written in flight', async () => {
    let refuse = false;
    const writes: Array<(error?: Error) => void> = [];
    const outgoing = outgoingCalls((_frame, done) => (refuse ? false : (writes.push(done!), true)));
    outgoing.open();
    const first = settle(outgoing.start({ id: 'a', method: 'store', timeout: 100 }, '{"id":"a"}', undefined));
    refuse = true; // the peer's close frame arrived: the socket refuses new frames, the first one's bytes are in it
    const second = settle(outgoing.start({ id: 'b', method: 'echo', timeout: 100 }, '{"id":"b"}', undefined));
    const { error } = await second;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toBe('call "echo" (id b) could not be written');
    expect(outgoing.size).toBe(1);
    writes[0]!(); // the first write completes: it was on the wire, and its answer still settles it
    expect(outgoing.route(resultFor('a', 'stored'))).toBeUndefined();
    expect((await first).value).toBe('stored');
  });

  it('a call without retry fails with the loss error; a response for it later is late', async () => {
    const { outgoing } = manual();
    outgoing.open();
    const call = settle(outgoing.start({ id: 'p', method: 'set', timeout: 100 }, '{"id":"p"}', undefined));
    const error = new ConnectionClosedError('lost');
    outgoing.lost(error);
    expect((await call).error).toBe(error);
    expect(outgoing.size).toBe(0);
    expect(outgoing.route(resultFor('p', 1))).toBe('late');
  });
});

describe('OutgoingCalls with a retry call whose write fails', () => {
  it('at once (the socket is closing, its close still to come): does not write it again and again on that transport', async () => {
    // A regression wrote it again at once, forever, without yielding: this write stops failing after 1,000 attempts so that the test ends.
    let attempts = 0;
    const outgoing = outgoingCalls((_frame, done) => {
      // Refused at once while the socket is closing, as ws's readyState 2 is.
      if (++attempts < 1_000) return false;
      done?.();
      return true;
    });
    outgoing.open();
    void outgoing.start({ id: 'a', method: 'echo', timeout: 100 }, '{"id":"a"}', undefined, DEFAULT_RETRIES);
    await new Promise((resolve) => setImmediate(resolve));
    // Written once; after the failure it waits in queued for the next epoch.
    expect(attempts).toBe(1);
    expect(outgoing.queued).toBe(1);
  });

  it('after the loss: keeps it in line once when its write callback reports the failure late', () => {
    const callbacks: Array<((error?: Error) => void) | undefined> = [];
    const outgoing = outgoingCalls((_frame, done) => (callbacks.push(done), true));
    outgoing.open();
    void outgoing.start({ id: 'a', method: 'echo', timeout: 100 }, '{"id":"a"}', undefined, DEFAULT_RETRIES);
    expect(callbacks).toHaveLength(1);
    outgoing.lost(new ConnectionClosedError('lost'));
    expect([outgoing.size, outgoing.queued]).toEqual([1, 1]);
    // The socket reports the failed write only now, after its close event.
    callbacks[0]!(new Error('write after end'));
    expect([outgoing.size, outgoing.queued]).toEqual([1, 1]);
  });
});

describe('OutgoingCalls: the re-sends of a retry call', () => {
  /** Outgoing calls whose every write fails, refused at once or through its callback (`mode`). */
  function failingWrites(mode: 'refused' | 'callback') {
    let writes = 0;
    const outgoing = outgoingCalls((_frame, done) => {
      writes++;
      if (mode === 'refused') return false;
      done?.(new Error('write ECONNRESET'));
      return true;
    });
    return { outgoing, writes: () => writes };
  }

  it('a write failing through its callback, then the loss, is one of its losses: the third fails it, naming the count', async () => {
    const { outgoing, writes } = failingWrites('callback');
    const call = settle(outgoing.start({ id: 'a', method: 'echo', timeout: 100 }, '{"id":"a"}', undefined, DEFAULT_RETRIES));
    for (let epoch = 1; epoch <= 3; epoch++) {
      outgoing.open();
      await new Promise((resolve) => setImmediate(resolve));
      outgoing.lost(new ConnectionClosedError('the connection was lost (code 1009)'));
    }
    expect([writes(), outgoing.size, outgoing.queued]).toEqual([3, 0, 0]);
    const { error } = await call;
    expect(error).toBeInstanceOf(ConnectionClosedError);
    expect(error.message).toBe(
      'the connection was lost (code 1009); this retry call was written 3 times, each time on a connection then lost, and is not sent again (retry: at most 2 re-sends)',
    );
  });

  it('a write refused at once sent nothing: the loss that follows is not one of its losses', async () => {
    const { outgoing, writes } = failingWrites('refused');
    void outgoing.start({ id: 'a', method: 'echo', timeout: 100 }, '{"id":"a"}', undefined, DEFAULT_RETRIES);
    for (let epoch = 1; epoch <= 5; epoch++) {
      outgoing.open();
      await new Promise((resolve) => setImmediate(resolve));
      outgoing.lost(new ConnectionClosedError('lost'));
    }
    expect([writes(), outgoing.size, outgoing.queued]).toEqual([5, 1, 1]);
  });
});

describe('Line', () => {
  it('is first in, first out, takes places out from anywhere and puts back at the front', () => {
    const line = new Line<string>();
    const a = line.push('a');
    line.push('b');
    const c = line.push('c');
    line.unshift('front');
    line.remove(a);
    line.remove(c);
    expect([line.size, line.peek()]).toEqual([2, 'front']);
    line.push('d');
    expect([line.shift(), line.shift(), line.shift(), line.shift()]).toEqual(['front', 'b', 'd', undefined]);
    expect(line.size).toBe(0);
    line.push('e');
    line.push('f');
    expect(line.drain()).toEqual(['e', 'f']);
    expect([line.size, line.peek()]).toEqual([0, undefined]);
  });
});
