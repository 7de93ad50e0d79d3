/**
 * Tells the peer about abandoned calls with `$/cancelRequest` notices, so its
 * handlers stop working for nobody. Notices made in the same tick (a burst of
 * timeouts, a close) go out together, after the current task's microtasks, each
 * as a frame of its own: the transport gathers the frames of one tick into a
 * few socket writes, and a frame per notice reaches every JSON-RPC server,
 * whatever its `maxBatch` and whether or not it takes batches at all
 * (vscode-jsonrpc does not), where a batch beyond a server's `maxBatch` would
 * be refused whole and its handlers left running.
 */
import { cancelFrame } from '../protocol/jsonrpc.js';

export class CancelBatcher {
  private ids: string[] = [];

  /** `write` sends one frame; a notice that cannot be written has nobody left to tell, so it returns nothing. */
  constructor(private readonly write: (frame: string) => void) {}

  /** Notices waiting for the end of the tick. */
  get size(): number {
    return this.ids.length;
  }

  /** Queues a notice for call `id`. */
  cancel(id: string): void {
    if (this.ids.push(id) === 1) queueMicrotask(this.flush);
  }

  /** Sends the notices waiting now, not at the end of the tick: the connection is about to stop taking frames. */
  flushNow(): void {
    this.flush();
  }

  private readonly flush = (): void => {
    const ids = this.ids;
    this.ids = [];
    for (const id of ids) this.write(cancelFrame(id));
  };
}
