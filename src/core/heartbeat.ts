/**
 * Detects a peer that is gone without a close frame (a half-open connection:
 * a cable pulled, a process frozen, a NAT entry expired). Every half interval
 * it pings; a peer that has answered nothing (no pong, no frame) by the next
 * half interval is declared gone. So a dead peer is noticed within one
 * interval of its last sign of life, and the connection is dropped at once,
 * failing its pending calls then instead of at their timeouts.
 *
 *   ping ──(interval/2)──▶ heard since? ─yes─▶ ping ──▶ …
 *                                 └──no──▶ read since? ─yes─▶ ping ──▶ …
 *                                                └──no──▶ gone
 *
 * A peer reading a large frame on a slow link answers the ping only once it has read what was sent before it: that
 * it reads (what waits in the socket's buffer shrank since the ping, and some still waits) is a sign of life too. A dead peer reads nothing.
 *
 * A tick that comes a half interval or more late judges nothing: this side did not run meanwhile (a frozen or
 * throttled page, a suspended process), and the pong may be waiting behind the tick, unread (what runs first when a
 * page or a process resumes, its late timers or the reading of what arrived meanwhile, is not set). It pings again, and the next
 * tick judges, late or not, so a peer is never kept by late ticks alone.
 */
import type { Clock } from '../types.js';

export class Heartbeat {
  private timer: unknown;
  private heardSincePing = true;
  private running = false;
  /** When the scheduled tick is due, on `now`. */
  private dueAt = 0;
  /** Whether the last tick came late and judged nothing (see the file comment). */
  private skipped = false;

  constructor(
    private readonly interval: number,
    private readonly clock: Clock,
    /** The time on `clock`. */
    private readonly now: () => number,
    private readonly ping: () => void,
    private readonly gone: () => void,
    /** Whether the peer read some of what waited to be sent to it since the last ping. */
    private readonly reading: () => boolean = () => false,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.heardSincePing = true;
    this.skipped = false;
    this.schedule();
  }

  /** The peer showed a sign of life: a pong or any frame. */
  heard(): void {
    this.heardSincePing = true;
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    this.dueAt = this.now() + this.interval / 2;
    this.timer = this.clock.setTimeout(this.tick, this.interval / 2);
    // A heartbeat alone must not keep the process alive.
    (this.timer as { unref?: () => void } | undefined)?.unref?.();
  }

  private readonly tick = (): void => {
    this.timer = undefined;
    if (!this.running) return;
    const late = !this.skipped && this.now() - this.dueAt >= this.interval / 2;
    this.skipped = late;
    if (!late && !this.heardSincePing && !this.reading()) {
      this.running = false;
      this.gone();
      return;
    }
    this.heardSincePing = false;
    this.ping();
    this.schedule();
  };
}
