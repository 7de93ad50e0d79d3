/**
 * Tells the peer about abandoned calls with `$/cancelRequest` notices, so its
 * handlers stop working for nobody. Notices made in the same tick (a burst of
 * timeouts, a close) go out together, after the current task's microtasks, as
 * JSON-RPC batch frames of at most `maxBatch` notices (a server's default
 * `maxBatch` accepts them), instead of a frame each.
 */
import { DEFAULT_MAX_BATCH } from '../limits.js';
import { CANCEL_METHOD, encode, notificationFrame } from '../protocol/jsonrpc.js';

export class CancelBatcher {
  private ids: string[] = [];

  /** `write` sends one frame; a notice that cannot be written has nobody left to tell, so it returns nothing. */
  constructor(
    private readonly write: (frame: string) => void,
    private readonly maxBatch = DEFAULT_MAX_BATCH,
  ) {}

  /** Notices waiting for the end of the tick. */
  get size(): number {
    return this.ids.length;
  }

  /** Queues a notice for call `id`. */
  cancel(id: string): void {
    if (this.ids.push(id) === 1) queueMicrotask(this.flush);
  }

  private readonly flush = (): void => {
    const ids = this.ids;
    this.ids = [];
    for (let start = 0; start < ids.length; start += this.maxBatch) {
      const frames = ids.slice(start, start + this.maxBatch).map((id) => notificationFrame(CANCEL_METHOD, { id }));
      this.write(encode(frames.length === 1 ? frames[0]! : frames));
    }
  };
}
