/**
 * Whether a peer read some of what waited to be sent to it since a mark was set: the socket's buffer holds less
 * than it did, or bytes left it since (a peer that reads while new frames fill the buffer again leaves it no smaller
 * than it was, yet reads). The heartbeat and the send budget's drain watch both judge a peer by it.
 */
export class ReadMark {
  private buffered = 0;
  private sent = 0;

  constructor(
    private readonly bufferedAmount: () => number,
    /** Bytes that have left the buffer so far (taken by the network), when the transport can tell; 0 otherwise. */
    private readonly bytesSent: () => number,
  ) {}

  /** Marks now: what waits in the buffer, and what has left it. */
  set(): void {
    this.buffered = this.bufferedAmount();
    this.sent = this.bytesSent();
  }

  /** Less waits than at the mark, or some of it left since. */
  readSince(): boolean {
    return this.bufferedAmount() < this.buffered || this.bytesSent() > this.sent;
  }
}
