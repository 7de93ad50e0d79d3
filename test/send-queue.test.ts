/**
 * The send queue on its own: calls wait while the connection is closed, while
 * `maxInFlight` are in flight or the buffer is at its high-water mark; they
 * leave in order, notifications among them; the line refuses past `maxQueued`;
 * and a write completing on an earlier epoch changes nothing.
 */
import { describe, expect, it } from 'vitest';
import { ConnectionClosedError, ProtocolError, QueueFullError } from '../src/errors.js';
import { SendQueue, type QueuedCall } from '../src/core/send-queue.js';

interface Call extends QueuedCall {
  name: string;
}

function call(name: string, retry = false): Call {
  return { name, frame: name, retry, place: undefined, inFlight: false, epoch: 0, writingAt: -1 };
}

function setup(limits: { maxInFlight?: number; maxQueued?: number; maxQueuedBytes?: number; highWaterMark?: number } = {}) {
  const written: string[] = [];
  const unsent: string[] = [];
  /** Frames the transport would not carry, and whether it can tell yet. */
  const refusing = { frames: new Set<string>(), known: true };
  const callbacks: Array<(error?: Error) => void> = [];
  const ended: string[] = [];
  let buffered = 0;
  let waitAgain = false;
  /** The transport refuses every frame at once, as one whose close handshake began does. */
  const transport = { closing: false };
  const queue: SendQueue<Call> = new SendQueue<Call>({
    write: (frame, done) => {
      if (transport.closing) return false;
      written.push(frame);
      if (done) callbacks.push(done);
      return true;
    },
    maxInFlight: limits.maxInFlight ?? Infinity,
    maxQueued: limits.maxQueued ?? 100,
    maxQueuedBytes: limits.maxQueuedBytes ?? 1_000_000,
    highWaterMark: limits.highWaterMark ?? 1024,
    bufferedAmount: () => buffered,
    url: 'ws://test',
    // As the call machine does: a released call enters `sent`, whose entry writes it.
    release: (c) => queue.write(c),
    writeEnded: (c, error) => (ended.push(`${c.name} ${error ? error.message : 'ok'}`), waitAgain),
    refuses: (frame) => (refusing.known && refusing.frames.has(frame) ? new Error(`${frame} is too large`) : undefined),
    unsent: (error, method) => unsent.push(`${method}: ${error.message}`),
  });
  return {
    queue,
    written,
    unsent,
    refusing,
    callbacks,
    ended,
    transport,
    setBuffered: (bytes: number) => (buffered = bytes),
    waitAgainAfterFailure: () => (waitAgain = true),
  };
}

/** Starts `c` as OutgoingCalls does: written now if it may be, else waiting. */
function start(queue: SendQueue<Call>, c: Call): void {
  if (queue.mayWriteNow()) queue.write(c);
  else queue.wait(c);
}

describe('SendQueue', () => {
  it('refuses a notification the transport would not carry with ProtocolError, and writes nothing', () => {
    const { queue, written, refusing } = setup();
    queue.open();
    refusing.frames.add('huge');
    expect(() => queue.notify('log', 'huge')).toThrow(new ProtocolError('notification "log" was not sent: huge is too large'));
    queue.notify('log', 'n');
    expect(written).toEqual(['n']);
  });

  it('reports a waiting notification the transport refuses when its turn comes, and writes what follows it', () => {
    const { queue, written, unsent, refusing } = setup();
    // Connecting: the transport cannot tell yet.
    refusing.known = false;
    refusing.frames.add('huge');
    queue.notify('log', 'huge');
    start(queue, call('a'));
    queue.notify('log', 'n');
    refusing.known = true;
    queue.open();
    expect(written).toEqual(['a', 'n']);
    expect(unsent).toEqual(['log: notification "log" was not sent: huge is too large']);
  });

  it('reports a waiting notification the transport refuses at once when its turn comes (it is closing), and writes nothing', () => {
    const { queue, written, unsent, transport } = setup();
    queue.notify('log', 'log');
    transport.closing = true;
    queue.open();
    expect(written).toEqual([]);
    expect(unsent).toEqual(['log: notification "log" could not be written: the connection to ws://test is closing']);
  });

  it('holds calls and notifications until open, then writes them in the order they were made', () => {
    const { queue, written } = setup();
    start(queue, call('a'));
    queue.notify('log', 'n1');
    start(queue, call('b'));
    expect([written, queue.waiting, queue.openings]).toEqual([[], 2, 0]);
    queue.open();
    expect([written, queue.waiting, queue.openings]).toEqual([['a', 'n1', 'b'], 0, 1]);
  });

  it('keeps at most maxInFlight calls in flight; a settled call makes room for the next', async () => {
    const { queue, written } = setup({ maxInFlight: 1 });
    queue.open();
    const a = call('a');
    start(queue, a);
    start(queue, call('b'));
    expect([written, queue.waiting]).toEqual([['a'], 1]);
    queue.forget(a);
    await Promise.resolve();
    expect([written, queue.waiting]).toEqual([['a', 'b'], 0]);
  });

  it('holds calls while the buffer is at its high-water mark, and looks again once it drains', async () => {
    const { queue, written, setBuffered } = setup({ highWaterMark: 10 });
    setBuffered(10);
    start(queue, call('a'));
    queue.open(); // full from the start: no write of its own will call back when the buffer drains
    expect(written).toEqual([]);
    setBuffered(0);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(written).toEqual(['a']);
  });

  it('refuses past maxQueued with QueueFullError, saying why the line is held', () => {
    const { queue } = setup({ maxQueued: 1 });
    start(queue, call('a'));
    const error = queue.refusal('call "b"', 1)!;
    expect(error).toBeInstanceOf(QueueFullError);
    expect([error.code, error.maxQueued, error.message]).toEqual([
      'ERR_QUEUE_FULL',
      1,
      'call "b" was not sent: 1 call or notification already waits on the connection to ws://test (maxQueued 1), because it is not open',
    ]);
    expect(() => queue.notify('log', 'n')).toThrow(QueueFullError);
  });

  it('refuses a frame that would take the line past maxQueuedBytes, unless the line is empty; what leaves it frees its bytes', () => {
    const { queue, written } = setup({ maxQueuedBytes: 10 });
    // Alone, a larger frame may wait.
    const big = call('x'.repeat(12));
    start(queue, big);
    const error = queue.refusal('call "b"', 1)!;
    expect(error).toBeInstanceOf(QueueFullError);
    expect(error.message).toBe(
      'call "b" was not sent: 1 call or notification already waits on the connection to ws://test (12 characters; 1 character more would pass maxBufferedAmount 10), because it is not open',
    );
    expect(() => queue.notify('log', 'n')).toThrow(QueueFullError);
    // Settled while waiting, it frees its bytes; so do notices and calls that leave the line when it opens.
    queue.forget(big);
    start(queue, call('aaaa'));
    queue.notify('log', 'nnnn');
    expect(queue.refusal('call "c"', 2)).toBeUndefined();
    expect(queue.refusal('call "c"', 3)).toBeInstanceOf(QueueFullError);
    queue.open();
    expect(written).toEqual(['aaaa', 'nnnn']);
    queue.lost();
    start(queue, call('bbbbbbbbbb'));
    expect(queue.refusal('call "d"', 1)).toBeInstanceOf(QueueFullError);
  });

  it('a call that settles while it waits leaves the line', () => {
    const { queue, written } = setup();
    const a = call('a');
    start(queue, a);
    start(queue, call('b'));
    queue.forget(a);
    queue.open();
    expect(written).toEqual(['b']);
  });

  it('reports write outcomes of the current epoch only; a retry call put back waits first', () => {
    const { queue, callbacks, ended, written } = setup();
    queue.open();
    const a = call('a', true);
    start(queue, a);
    queue.lost();
    queue.putBack([a]);
    start(queue, call('b'));
    queue.open();
    expect(written).toEqual(['a', 'a', 'b']);
    callbacks[0]!(new Error('EPIPE')); // the lost epoch's write: its news changes nothing
    callbacks[1]!();
    expect(ended).toEqual(['a ok']);
  });

  it('a failed write stops writing on that transport; a call that waits again goes first on the next epoch', () => {
    const { queue, callbacks, ended, written, waitAgainAfterFailure } = setup();
    waitAgainAfterFailure();
    queue.open();
    start(queue, call('a', true));
    callbacks[0]!(new Error('EPIPE'));
    expect([ended, queue.waiting, queue.mayWriteNow()]).toEqual([['a EPIPE'], 1, false]);
    queue.open();
    expect(written).toEqual(['a', 'a']);
  });

  it('retry calls whose writes fail wait again in the order they were written, ahead of what waited, whichever of them leaves the line', () => {
    const { queue, callbacks, written, waitAgainAfterFailure } = setup({ maxInFlight: 4 });
    waitAgainAfterFailure();
    queue.open();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((name) => call(name, true));
    for (const each of [a, b, c, d, call('e')]) start(queue, each!);
    callbacks[0]!(new Error('EPIPE'));
    callbacks[1]!(new Error('EPIPE'));
    queue.forget(b!); // it timed out while it waited again
    callbacks[2]!(new Error('EPIPE'));
    callbacks[3]!(new Error('EPIPE'));
    queue.open();
    expect(written.slice(4)).toEqual(['a', 'c', 'd', 'e']);
  });

  it('close drops what waits, and tells unsent of each notification that waited', () => {
    const { queue, written, unsent } = setup();
    const a = call('a');
    start(queue, a);
    queue.notify('log', 'n');
    queue.close(new ConnectionClosedError('the connection to ws://test closed (code 1006)', { closeCode: 1006 }));
    expect([queue.waiting, queue.isWaiting(a)]).toEqual([0, false]);
    expect(unsent).toEqual(['log: notification "log" was not sent: the connection to ws://test closed while it waited in line']);
    queue.open();
    expect(written).toEqual([]);
  });
});
