/**
 * What a peer may make this side buffer for it. A peer that sends small
 * requests with large answers and never reads its socket would otherwise
 * make us buffer without bound, and the heartbeat cannot tell (every frame it
 * sends counts as life). So what waits in the socket's buffer is watched
 * after each write:
 *
 *   below highWaterMark ──────────▶ the peer's requests run
 *   at highWaterMark or more ─────▶ its new requests are answered -32000 (busy), not run
 *      └── still there, not draining, after drainTimeout ──▶ dropped (1008)
 *   past maxBufferedAmount on a full buffer ──────────────▶ dropped at once (1008)
 *
 * Busy answers are small, and requests are still read, so both ends keep
 * reading each other's answers: pausing the socket's reads instead could
 * deadlock two peers whose buffers are both full. A single large frame
 * written onto a buffer below the mark is never a reason to drop.
 */
import type { SendLimits } from '../limits.js';
import type { Clock } from '../types.js';
import { ReadMark } from './read-mark.js';
import { countOf } from '../words.js';

/**
 * Most bytes of UTF-8 one UTF-16 code unit of a frame becomes (a surrogate pair, two units, is four bytes): a frame
 * of multi-byte text adds up to three times its length to the buffer, so `amount - length` would count a buffer
 * below the mark as full, and drop the peer for that one frame.
 */
const MAX_UTF8_BYTES_PER_CHAR = 3;

export class SendBudget {
  private timer: unknown;
  /** Set when the drain timer is armed: what the peer read by its end is progress. */
  private readonly mark: ReadMark;

  constructor(
    private readonly limits: SendLimits,
    private readonly clock: Clock,
    private readonly bufferedAmount: () => number,
    /** Drops the peer, saying why. */
    private readonly drop: (reason: string) => void,
    /**
     * Bytes that have left the buffer so far (taken by the network), when the transport can tell; 0 otherwise. A peer
     * that reads while new frames fill the buffer again (answers, notifications waiting in line) leaves it no smaller
     * than it was, yet reads.
     */
    sent: () => number = () => 0,
  ) {
    this.mark = new ReadMark(bufferedAmount, sent);
  }

  /** Whether the socket holds `highWaterMark` or more unsent bytes: the peer's new requests are refused. */
  get full(): boolean {
    return this.bufferedAmount() >= this.limits.highWaterMark;
  }

  /** A frame of `length` characters was just handed to the socket. */
  wrote(length: number): void {
    const { highWaterMark, maxBufferedAmount } = this.limits;
    const amount = this.bufferedAmount();
    if (amount < highWaterMark) return;
    // The buffer counts bytes, the frame characters: full before it only if full without the most it can weigh.
    if (amount > maxBufferedAmount && amount - length * MAX_UTF8_BYTES_PER_CHAR >= highWaterMark) {
      this.stop();
      this.drop(
        `${countOf(amount, 'byte waits', 'bytes wait')} to be sent to a peer that is not reading (maxBufferedAmount ${maxBufferedAmount})`,
      );
      return;
    }
    if (this.timer === undefined) this.arm();
  }

  /** The connection is gone: no more checks. */
  stop(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    this.mark.set();
    this.timer = this.clock.setTimeout(this.check, this.limits.drainTimeout);
    // A watch alone must not keep the process alive.
    (this.timer as { unref?: () => void } | undefined)?.unref?.();
  }

  private readonly check = (): void => {
    this.timer = undefined;
    const amount = this.bufferedAmount();
    if (amount < this.limits.highWaterMark) return;
    // Less than before, or some of it left: the peer reads, slowly; watch on.
    if (this.mark.readSince()) return this.arm();
    this.drop(
      `the peer read nothing for ${this.limits.drainTimeout} ms while ${countOf(amount, 'byte')} waited to be sent to it (drainTimeout)`,
    );
  };
}
