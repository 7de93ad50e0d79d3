import { encode, errorFrame, ErrorCodes, type ErrorObject, type Id } from '../protocol/jsonrpc.js';
import { countOf } from '../words.js';

/**
 * How long a batch's reply may be once answers too long to be joined into one string have been replaced (see
 * `joined`): well within the longest string of any engine (V8's: 2^29 - 24 characters).
 */
const SHRUNK_REPLY_LENGTH = 2 ** 27;

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
  /** The id each reply answers (undefined: a refusal the dispatcher made, always short). */
  private readonly ids: Array<Id | undefined> = [];
  private expected = 0;
  private sealed = false;
  private written = false;
  /** Characters of the replies held, counted in `held`. */
  private heldBytes = 0;

  constructor(
    private readonly write: (text: string) => void,
    private readonly held?: HeldReplies,
    /** An answer replaced by `error` for being too long to join with the others (see `joined`): for the hooks. */
    private readonly shortened?: (id: Id, error: ErrorObject) => void,
  ) {}

  expect(): void {
    this.expected++;
  }

  /** One reply, encoded as JSON (`encode(frame)`), to the call `id`. */
  add(text: string, id?: Id): void {
    this.replies.push(text);
    this.ids.push(id);
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
    if (this.replies.length > 0) this.write(this.joined());
  }

  /**
   * The replies as one array. Answers together longer than the longest string the engine can make (100 calls of a
   * method returning 6 MB each) cannot be joined: the join's RangeError would escape from the step that answered the
   * last call, leaving it unreleased (and, with the light engine, ending the process). The longest answers are then
   * replaced by -32603, each to its own id, until the rest fits.
   */
  private joined(): string {
    try {
      return `[${this.replies.join(',')}]`;
    } catch {
      const replies = [...this.replies];
      let length = replies.reduce((sum, text) => sum + text.length + 1, 1);
      const longest = replies.map((_, i) => i).sort((a, b) => replies[b]!.length - replies[a]!.length);
      for (const i of longest) {
        if (length <= SHRUNK_REPLY_LENGTH) break;
        const id = this.ids[i];
        if (id === undefined) continue;
        const message = `internal error: the answer to this call (${countOf(replies[i]!.length, 'character')}) and the others of its batch are too long together for one reply; make the call outside a batch`;
        const error = { code: ErrorCodes.InternalError, message };
        const text = encode(errorFrame(id, error));
        length += text.length - replies[i]!.length;
        replies[i] = text;
        this.shortened?.(id, { ...error });
      }
      return `[${replies.join(',')}]`;
    }
  }
}
