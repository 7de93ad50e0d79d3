/** Where the answers of an unfinished batch count while they wait (a connection's in-flight bytes). */
export interface HeldReplies {
  /** `bytes` more characters of answers are held (negative: released, the batch written). */
  hold(bytes: number): void;
}

/**
 * Collects the replies to one batch, each already encoded, and writes them as one array frame. Until then the
 * replies are held in memory, after their calls have ended: they count in `held` (the in-flight bytes of the
 * connection), else a batch with one call that never ends could hold the answers of all the others, a frame's
 * worth, per call counted.
 */
export class BatchReply {
  private readonly replies: string[] = [];
  private expected = 0;
  private sealed = false;
  private written = false;
  /** Characters of the replies held, counted in `held`. */
  private heldBytes = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly held?: HeldReplies,
  ) {}

  expect(): void {
    this.expected++;
  }

  /** One reply, encoded as JSON (`encode(frame)`). */
  add(text: string): void {
    this.replies.push(text);
    if (this.held !== undefined && !this.written) {
      this.heldBytes += text.length;
      this.held.hold(text.length);
    }
    this.flushIfDone();
  }

  /** A request that will never be answered (cancelled): stop waiting for it. */
  drop(): void {
    this.expected--;
    this.flushIfDone();
  }

  /** Every message of the batch has been seen. */
  seal(): void {
    this.sealed = true;
    this.flushIfDone();
  }

  private flushIfDone(): void {
    if (this.written || !this.sealed || this.replies.length < this.expected) return;
    this.written = true;
    if (this.heldBytes !== 0) this.held!.hold(-this.heldBytes);
    this.heldBytes = 0;
    if (this.replies.length > 0) this.write(`[${this.replies.join(',')}]`);
  }
}
