/**
 * The memory of recently settled call ids, so that a response matching no
 * pending call is told apart: for a call that ended without an answer (timeout,
 * cancel, connection lost, write failed) it is late; for a call already
 * answered it is a duplicate; for an id never seen (or long forgotten) it is
 * unknown. A call this side cancelled (`$/cancelRequest` sent) expects one
 * -32800 answer from an LSP-style peer: that one is no surprise.
 *
 * Two generations: ids go into `recent`; when it holds `capacity` ids it
 * becomes `older` and the previous `older` is dropped whole. So the last
 * `capacity` ids (and at most twice as many) are remembered, with no per-id
 * eviction: deleting from a Map one key at a time leaves holes that cost on
 * every insert.
 */
import type { UnmatchedReason } from '../types.js';

/** How a call ended: with a response ('answered'), without one ('abandoned'), or cancelled at the peer too ('cancelled'). */
export type Ending = 'answered' | 'abandoned' | 'cancelled';

export class SettledIds {
  private recent = new Map<string, Ending>();
  private older = new Map<string, Ending>();

  /** `capacity`: how many settled ids are remembered at least (0: none). */
  constructor(private readonly capacity: number) {}

  remember(id: string, ending: Ending): void {
    if (this.capacity === 0) return;
    this.recent.set(id, ending);
    if (this.recent.size >= this.capacity) {
      this.older = this.recent;
      this.recent = new Map();
    }
  }

  /**
   * The peer answered -32800 for `id`: true when this side had cancelled that call, so the answer is the one
   * expected; false when it is not (reported as `reasonFor` says). Anything after it for that id, a second
   * -32800 included, is late, as it was before this one.
   */
  cancelAcknowledged(id: string): boolean {
    const generation = this.recent.get(id) === 'cancelled' ? this.recent : this.older.get(id) === 'cancelled' ? this.older : undefined;
    generation?.set(id, 'abandoned');
    return generation !== undefined;
  }

  /** Why an answer for `id`, which no pending call has, matches nothing. */
  reasonFor(id: string): UnmatchedReason {
    const ending = this.recent.get(id) ?? this.older.get(id);
    if (ending === undefined) return 'unknown';
    return ending === 'answered' ? 'duplicate' : 'late';
  }
}
