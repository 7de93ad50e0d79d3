/** Collects the replies to one batch, each already encoded, and writes them as one array frame. */
export class BatchReply {
  private readonly replies: string[] = [];
  private expected = 0;
  private sealed = false;
  private written = false;

  constructor(private readonly write: (text: string) => void) {}

  expect(): void {
    this.expected++;
  }

  /** One reply, encoded as JSON (`encode(frame)`). */
  add(text: string): void {
    this.replies.push(text);
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
    if (this.replies.length > 0) this.write(`[${this.replies.join(',')}]`);
  }
}
