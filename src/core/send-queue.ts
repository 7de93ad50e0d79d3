/**
 * The send queue of one connection's outgoing calls: what is written when.
 *
 * Calls that cannot be written at once wait in a line, in order: while the
 * connection is not open (connecting, reconnecting), while `maxInFlight` calls
 * are in flight, and while the socket's buffer holds `highWaterMark` bytes or
 * more. Notifications made meanwhile join the same line, so that everything
 * leaves in the order it was made. The line holds at most `maxQueued`, and at
 * most `maxQueuedBytes` of frames (one larger frame may wait alone); beyond
 * that a call or notification is refused with `QueueFullError`.
 *
 * Each open transport is an epoch. The requests written on it are remembered
 * in write order (transports call back in that order), so that one callback
 * serves every write of the epoch; a write completing from an earlier epoch
 * changes nothing.
 *
 * The queue does not run the calls' machines: it asks its owner to `release`
 * a call (whose machine then enters `sent` and calls `write`), and tells it how
 * each write ended (`writeEnded`).
 */
import { ConnectionClosedError, ProtocolError, QueueFullError } from '../errors.js';
import { Fifo } from './fifo.js';
import { Line, type LinePlace } from './line.js';
import { countOf } from '../words.js';

/** What the queue keeps on each call: fields of the call itself, so that nothing is allocated per call but its place in line. */
export interface QueuedCall {
  /** The encoded request, until it is written (kept for a `retry` call, which may be written again). */
  frame: string | undefined;
  readonly retry: boolean;
  /** Its place in the line, while it waits. */
  place: LinePlace<QueuedCall | WaitingNotice> | undefined;
  /** Written and not settled: it counts against `maxInFlight`. */
  inFlight: boolean;
  /** The epoch it was last written on. */
  epoch: number;
  /** Its position among the writes of that epoch (see `forget`). */
  writingAt: number;
}

/** A notification made while calls wait: it keeps its place among them. */
class WaitingNotice {
  constructor(
    readonly method: string,
    readonly notice: string,
  ) {}
}

export interface SendQueueOptions<T extends QueuedCall> {
  /**
   * Writes a text frame; `done` reports the write's outcome, in the order of the writes. Returns false,
   * without calling `done`, when the transport refused the frame at once (not open): it was not written.
   */
  write: (frame: string, done?: (error?: Error) => void) => boolean;
  /** Most calls written and not yet settled. */
  maxInFlight: number;
  /** Most calls and notifications waiting in the line. */
  maxQueued: number;
  /** Most characters of frames waiting in the line: one more that would pass it is refused, unless the line is empty. */
  maxQueuedBytes: number;
  /** While the socket holds this many bytes not yet sent, calls wait. */
  highWaterMark: number;
  /** Bytes the current transport holds not yet sent. */
  bufferedAmount: () => number;
  /**
   * Whether the open transport still takes frames: false once its close handshake began (the peer's close frame
   * came), before its close ends the epoch. Given when a reconnection follows a loss: what the closing transport
   * would refuse waits in line for the next epoch, as what is made while reconnecting does. Omitted: the transport
   * counts as open until the loss, and a call it refuses fails as not written.
   */
  acceptsFrames?: () => boolean;
  /** Shown in errors: where the connection goes. */
  url: string;
  /**
   * Why the transport would not carry a frame though open (see `Transport.refuses`); undefined when it would.
   * Omitted: every frame fits.
   */
  refuses?: (frame: string) => Error | undefined;
  /**
   * A notification that waited in line was not sent: the transport refused it when its turn came (too large for it),
   * or the connection closed for good while it waited. It is dropped, and this is told why (nobody is left to throw
   * to). Omitted: nobody is told.
   */
  unsent?: (error: ProtocolError | ConnectionClosedError, method: string) => void;
  /** A waiting call may be written now: its owner sends it on (its machine's `sent` entry calls `write`). */
  release: (call: T) => void;
  /**
   * The write of `call`'s request on the current epoch ended; returns whether the call waits again (a retry call whose
   * write failed). `refused`: the transport refused the frame at once, so none of it was written.
   */
  writeEnded: (call: T, error: Error | undefined, refused: boolean) => boolean;
}

/** How often a line held only by a full socket buffer looks again, when no write of its own will call back, in ms. */
const DRAIN_POLL = 10;

export class SendQueue<T extends QueuedCall> {
  /** Calls and notifications waiting to be written, in order. */
  private readonly line = new Line<T | WaitingNotice>();
  private notices = 0;
  /** Characters of the frames waiting in the line. */
  private waitingBytes = 0;
  /** Calls whose request frame is being written on this epoch's transport, in write order. */
  private writing = new Fifo<T>();
  /** Calls written and not settled. */
  private inFlight = 0;
  /** Whether a transport is open to write on. */
  private isOpen = false;
  private epoch = 0;
  private pumpScheduled = false;
  private drainTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * Notifications handed to the transport whose writes have not yet called back: each that does lets the line go on
   * (see `noticeWritten`), so that a buffer they fill needs no polling (see `watchDrain`).
   */
  private noticesWriting = 0;
  /** The callback of every notification write: it left the buffer (or failed), so there may be room. */
  private readonly noticeWritten = (): void => {
    this.noticesWriting--;
    if (this.line.size > 0 && this.isOpen) this.schedulePump();
  };
  /** The callback of every request write on the current epoch (see `open`). */
  private written: (error?: Error) => void = () => {};
  /**
   * The last retry call put back in line on this epoch because its write failed: the next one whose write fails goes
   * behind it. Writes fail in the order they were made (the transport calls back in that order), so each going to the
   * front would re-send them in reverse order on the next connection.
   */
  private lastFailed: LinePlace<T | WaitingNotice> | undefined;

  constructor(private readonly options: SendQueueOptions<T>) {}

  /** Calls waiting in line. */
  get waiting(): number {
    return this.line.size - this.notices;
  }

  /** The transport's epoch, counted from 1: how many times the connection has opened. */
  get openings(): number {
    return this.epoch;
  }

  /** Whether a new call may be written at once: nothing waits before it, and there is room. */
  mayWriteNow(): boolean {
    return this.line.size === 0 && this.hasRoom();
  }

  /** The error for `what` (`call "echo"`), a frame of `bytes` characters, when the line is full; undefined while it has room. */
  refusal(what: string, bytes: number): QueueFullError | undefined {
    const { maxQueued, maxQueuedBytes } = this.options;
    if (this.line.size >= maxQueued) return this.queueFull(what, `(maxQueued ${maxQueued})`);
    if (this.line.size === 0 || this.waitingBytes + bytes <= maxQueuedBytes) return undefined;
    // Frames waiting count by their length (characters of JSON text), held against the byte limit as it stands.
    const waiting = countOf(this.waitingBytes, 'character');
    return this.queueFull(what, `(${waiting}; ${countOf(bytes, 'character')} more would pass maxBufferedAmount ${maxQueuedBytes})`);
  }

  /** `call` waits its turn, at the back. */
  wait(call: T): void {
    call.place = this.line.push(call);
    this.waitingBytes += frameBytes(call);
    this.watchDrain();
  }

  /** Why calls wait in line now, in words: what the error of a call that timed out waiting says held it. */
  holdUp(): string {
    const { maxInFlight, highWaterMark } = this.options;
    switch (this.heldBy()) {
      case 'notOpen':
        return this.epoch === 0 ? 'the connection had not opened yet' : 'the connection was lost and not yet open again';
      case 'closing':
        return 'the connection was closing, and the next one not yet open';
      case 'maxInFlight':
        return `${countOf(maxInFlight, 'call was', 'calls were')} in flight (maxInFlight)`;
      case 'highWaterMark':
        return `${countOf(highWaterMark, 'byte')} or more waited unsent (highWaterMark)`;
      case 'earlier':
        return 'calls made before it waited';
    }
  }

  /** What holds the line now: the first of the reasons a call may not be written that holds. */
  private heldBy(): 'notOpen' | 'closing' | 'maxInFlight' | 'highWaterMark' | 'earlier' {
    if (!this.isOpen) return 'notOpen';
    if (!this.isWritable()) return 'closing';
    if (this.inFlight >= this.options.maxInFlight) return 'maxInFlight';
    return this.isSaturated() ? 'highWaterMark' : 'earlier';
  }

  /** Whether `call` waits in line. */
  isWaiting(call: T): boolean {
    return call.place !== undefined;
  }

  /**
   * Sends a notification frame now, or after what waits before it. Throws `ProtocolError` when the transport would
   * not carry it (too large), `QueueFullError` when the line is full; nothing is sent then.
   */
  notify(method: string, frame: string): void {
    const refused = this.options.refuses?.(frame);
    if (refused) throw notSent(method, refused);
    if (this.line.size === 0 && this.isWritable() && !this.isSaturated()) {
      // Refused at once (the transport is closing, and no reconnection follows): it was not sent, and notify() says so.
      if (!this.writeNotice(frame)) throw notWritten(method, this.options.url);
      return;
    }
    const refusal = this.refusal(`notification "${method}"`, frame.length);
    if (refusal) throw refusal;
    this.line.push(new WaitingNotice(method, frame));
    this.notices++;
    this.waitingBytes += frame.length;
    this.watchDrain();
  }

  /** A transport is open: a new epoch. What waits goes out, as far as there is room. */
  open(): void {
    this.isOpen = true;
    this.epoch++;
    this.lastFailed = undefined;
    const writing = (this.writing = new Fifo<T>());
    const epoch = this.epoch;
    // One callback for every request write of this epoch: the transport calls back in write order.
    this.written = (error?: Error): void => {
      this.writeEnded(writing.shift(), epoch, error);
      // A completed write frees room in the socket's buffer.
      if (this.line.size > 0) this.schedulePump();
    };
    this.pump();
  }

  /** The open transport is lost; another may follow. What waits keeps waiting. */
  lost(): void {
    this.isOpen = false;
  }

  /**
   * The connection is closed for good (`error` says why): what waits is dropped. Its calls are failed by their owner;
   * its notifications are told to `unsent`.
   */
  close(error: ConnectionClosedError): void {
    this.isOpen = false;
    clearTimeout(this.drainTimer);
    for (const waiting of this.line.drain()) {
      if (!(waiting instanceof WaitingNotice)) waiting.place = undefined;
      else this.options.unsent?.(closedWhileWaiting(waiting.method, this.options.url, error), waiting.method);
    }
    this.notices = 0;
    this.waitingBytes = 0;
    this.lastFailed = undefined;
  }

  /** Hands a notification's frame to the transport; false when it refused it at once (not written, no callback). */
  private writeNotice(frame: string): boolean {
    if (!this.options.write(frame, this.noticeWritten)) return false;
    this.noticesWriting++;
    return true;
  }

  /** Hands `call`'s request to the transport; the epoch's shared callback reports when it is on the wire. */
  write(call: T): void {
    const frame = call.frame!;
    if (!call.retry) call.frame = undefined;
    if (!call.inFlight) {
      call.inFlight = true;
      this.inFlight++;
    }
    call.epoch = this.epoch;
    call.writingAt = this.writing.push(call);
    if (this.options.write(frame, this.written)) return;
    // Refused at once (the transport is closing): this call, and no earlier one still being written, was not written.
    this.writing.pop();
    call.writingAt = -1;
    this.writeEnded(call, this.epoch, new Error('the transport is closing: the request was not written'), true);
  }

  /** Calls that went back to waiting after being written: they wait first, in the order given. */
  putBack(calls: T[]): void {
    for (let i = calls.length - 1; i >= 0; i--) this.rejoin(calls[i]!, undefined);
  }

  /** `call` waits in line again, right behind `place` (at the front when there is none); returns where it waits. */
  private rejoin(call: T, place: LinePlace<T | WaitingNotice> | undefined): LinePlace<T | WaitingNotice> {
    this.leaveFlight(call);
    call.place = this.line.insertAfter(place, call);
    this.waitingBytes += frameBytes(call);
    return call.place as LinePlace<T | WaitingNotice>;
  }

  /** `call` settled: it leaves the line, or the calls in flight. */
  forget(call: T): void {
    if (call.place) {
      // The calls put back after failed writes are the front of the line: the one before it is the last of them now.
      if (call.place === this.lastFailed) this.lastFailed = this.lastFailed.prev;
      this.line.remove(call.place as LinePlace<T | WaitingNotice>);
      call.place = undefined;
      this.waitingBytes -= frameBytes(call);
    }
    // Its write may still be under way (a socket's buffer full, every HTTP connection held by long calls): the call is
    // let go now, not when that write calls back, which a transport that does not drain put off without bound.
    if (call.epoch === this.epoch) this.writing.clear(call.writingAt);
    this.leaveFlight(call);
  }

  /** The transport reports how the write of `call`'s request on `epoch` ended. */
  private writeEnded(call: T | undefined, epoch: number, error: Error | undefined, refused = false): void {
    // A failed write means this transport is going: nothing more is written on it (its close follows, then
    // the next epoch, if any). Pumping on would write a retry call again at once, and fail again, without end.
    if (error && epoch === this.epoch) this.isOpen = false;
    // The call may be waiting in line again since a loss (this callback is then the late news of the old write).
    if (call === undefined || call.epoch !== epoch || call.place !== undefined) return;
    // A retry call whose write failed waits again, first in line, behind those whose writes failed before it.
    if (this.options.writeEnded(call, error, refused)) this.lastFailed = this.rejoin(call, this.lastFailed);
  }

  /** Whether the current epoch's transport takes frames now (see `acceptsFrames`). */
  private isWritable(): boolean {
    return this.isOpen && (this.options.acceptsFrames?.() ?? true);
  }

  /** Whether one more call may be written now. */
  private hasRoom(): boolean {
    return this.isWritable() && this.inFlight < this.options.maxInFlight && !this.isSaturated();
  }

  private isSaturated(): boolean {
    return this.options.bufferedAmount() >= this.options.highWaterMark;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(this.pump);
  }

  /** Writes what waits, first to last, while there is room. */
  private readonly pump = (): void => {
    this.pumpScheduled = false;
    while (this.isWritable() && this.line.size > 0) {
      const first = this.line.peek()!;
      if (first instanceof WaitingNotice) {
        if (this.isSaturated()) break;
        this.line.shift();
        this.notices--;
        this.waitingBytes -= first.notice.length;
        // Made while the transport could not tell yet (connecting): refused now, it is reported instead of lost.
        const refused = this.options.refuses?.(first.notice);
        if (refused) this.options.unsent?.(notSent(first.method, refused), first.method);
        else if (!this.writeNotice(first.notice)) this.options.unsent?.(notWritten(first.method, this.options.url), first.method);
        continue;
      }
      if (!this.hasRoom()) break;
      this.line.shift();
      first.place = undefined;
      this.waitingBytes -= frameBytes(first);
      this.options.release(first);
    }
    this.watchDrain();
  };

  /**
   * Held only by the socket's buffer, with no write of ours (request or notification) left to call back when it
   * drains: look again soon. Also when something joins the line: a buffer filled by cancel notices or answers to the
   * peer's calls (none of which calls back here) would otherwise hold the line until some unrelated call settles.
   * While writes of ours are under way their callbacks let the line go on: a peer that stops reading while
   * notifications are pushed to it costs no timer every DRAIN_POLL ms for as long as it stays (drainTimeout).
   */
  private watchDrain(): void {
    if (
      this.isOpen &&
      this.line.size > 0 &&
      this.writing.size === 0 &&
      this.noticesWriting === 0 &&
      this.isSaturated() &&
      this.drainTimer === undefined
    ) {
      this.drainTimer = setTimeout(() => {
        this.drainTimer = undefined;
        this.pump();
      }, DRAIN_POLL);
      this.drainTimer.unref?.();
    }
  }

  private leaveFlight(call: T): void {
    if (!call.inFlight) return;
    call.inFlight = false;
    this.inFlight--;
    if (this.line.size > 0 && this.isOpen) this.schedulePump();
  }

  /** `limit`: which limit the line is at, in words (`(maxQueued 10000)`). */
  private queueFull(what: string, limit: string): QueueFullError {
    const { maxQueued, maxInFlight, url } = this.options;
    const why = {
      notOpen: 'it is not open',
      closing: 'it is closing (the next connection takes them)',
      maxInFlight: `${countOf(maxInFlight, 'call is', 'calls are')} in flight (maxInFlight)`,
      highWaterMark: "its socket's buffer is full (highWaterMark)",
      earlier: 'earlier calls still wait',
    }[this.heldBy()];
    return new QueueFullError(
      `${what} was not sent: ${countOf(this.line.size, 'call or notification already waits', 'calls and notifications already wait')} on the connection to ${url} ${limit}, because ${why}`,
      maxQueued,
    );
  }
}

/** Why a notification that waited in line was not sent: the connection closed for good first. */
function closedWhileWaiting(method: string, url: string, error: ConnectionClosedError): ConnectionClosedError {
  const { closeCode, closeReason } = error;
  return new ConnectionClosedError(`notification "${method}" was not sent: the connection to ${url} closed while it waited in line`, {
    closeCode,
    closeReason,
    cause: error,
  });
}

/** A notification the transport refused at once: its close handshake had begun (no reconnection follows). */
function notWritten(method: string, url: string): ConnectionClosedError {
  return new ConnectionClosedError(`notification "${method}" could not be written: the connection to ${url} is closing`);
}

/** The error of a notification the transport would not carry, as `notify()` throws it. */
function notSent(method: string, reason: Error): ProtocolError {
  return new ProtocolError(`notification "${method}" was not sent: ${reason.message}`, { cause: reason });
}

/**
 * What a waiting call counts against `maxQueuedBytes`: its frame's length. A call whose write was refused at once
 * is put back for a moment before it fails, without its frame (kept only for a `retry` call): it counts 0, going
 * in and out alike.
 */
function frameBytes(call: QueuedCall): number {
  return call.frame?.length ?? 0;
}

/** A notification that cannot be written has nobody left to tell. */
export function ignoreWriteError(): void {}
