/**
 * The POSTs an HTTP client has not sent yet: `fetch` opens a connection for
 * every POST in flight, so at most `maxConnections` are, and the rest wait
 * here, in the order they were made. What waits counts as the transport's
 * unsent bytes (`bufferedAmount`), so the client's `highWaterMark` holds new
 * calls and notifications back in its own line, up to `maxQueued`.
 *
 * A call's POST that waits can be dropped (its call was cancelled, timed out
 * or settled by another POST's answer): it is never sent. Each POST's `done`
 * is called as it leaves, sent or dropped, in the order of the POSTs: the
 * client expects its writes to end in the order it made them. Dropped POSTs
 * at the front leave at once (`shiftDropped`): with every connection held by
 * long calls, the calls timing out behind them otherwise stayed in line, each
 * with its frame (and, in the client, its call), until a connection was free.
 */

/** A POST that waits: its frame, its call's id (undefined for a notification), and what to call when it leaves. */
export interface WaitingPost {
  /**
   * Its frame, and its call's id (a slice of the frame, which keeps all of it): both let go once it is dropped, as it
   * may wait long behind a POST still to be sent (all connections held by long calls), and is never sent.
   */
  text: string;
  id: string | undefined;
  readonly done: ((error?: Error) => void) | undefined;
  /** Not to be sent (its call ended while it waited). */
  dropped: boolean;
  next: WaitingPost | undefined;
}

export class PostLine {
  private first: WaitingPost | undefined;
  private last: WaitingPost | undefined;
  /** The calls' POSTs that wait, by call id. */
  private readonly calls = new Map<string, WaitingPost>();
  /** Characters of the frames that wait to be sent (dropped ones not counted). */
  length = 0;
  /** Notifications that wait to be sent. */
  notices = 0;

  push(text: string, id: string | undefined, done: ((error?: Error) => void) | undefined): void {
    const post: WaitingPost = { text, id, done, dropped: false, next: undefined };
    if (this.last) this.last.next = post;
    else this.first = post;
    this.last = post;
    this.length += text.length;
    if (id === undefined) this.notices++;
    else this.calls.set(id, post);
  }

  /** The first POST in line, taken out of it (dropped or not), or undefined. */
  shift(): WaitingPost | undefined {
    const post = this.first;
    if (post === undefined) return undefined;
    this.first = post.next;
    if (this.first === undefined) this.last = undefined;
    post.next = undefined;
    if (!post.dropped) this.forget(post);
    return post;
  }

  /** Drops the POST of call `id` if it waits, so that it is never sent. Returns whether it waited. */
  drop(id: string): boolean {
    const post = this.calls.get(id);
    if (post === undefined) return false;
    this.forget(post);
    post.dropped = true;
    post.text = '';
    post.id = undefined;
    return true;
  }

  /**
   * The first POST in line if it was dropped, taken out of it, or undefined. Nothing waits before it, so it may leave
   * now (its `done` called) without waiting for a connection to be free.
   */
  shiftDropped(): WaitingPost | undefined {
    return this.first?.dropped ? this.shift() : undefined;
  }

  /** Drops every call's POST that waits (the client closes: its calls are failed); notifications still wait. */
  dropCalls(): void {
    for (const id of [...this.calls.keys()]) this.drop(id);
  }

  private forget(post: WaitingPost): void {
    this.length -= post.text.length;
    if (post.id === undefined) this.notices--;
    else this.calls.delete(post.id);
  }
}
