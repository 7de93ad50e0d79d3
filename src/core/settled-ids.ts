/**
 * The memory of recently settled call ids, so that a response matching no
 * pending call is told apart: for a call that ended without an answer (timeout,
 * cancel, connection lost, write failed) it is late; for a call already
 * answered it is a duplicate; for an id never seen (or long forgotten) it is
 * unknown. A call this side cancelled (`$/cancelRequest` sent) expects one
 * -32800 answer from an LSP-style peer: that one is no surprise.
 *
 * Generations: ids go into the newest; when it holds `generationSize` ids a
 * new one starts, and the oldest of a ring is dropped whole. Enough
 * generations are kept that the last `capacity` ids (and at most one
 * generation more) are remembered, with no per-id eviction: deleting from a
 * Map one key at a time leaves holes that cost on every insert. The
 * generations are small (at most 1,024 ids): an insert into a Map of 10,000
 * string keys cost 300-450 ns here (cache misses, rehashing as it grows),
 * into one of 1,024 about 50 (issue 16). Lookups, only for answers that match
 * no pending call, go through the generations newest first.
 */
import type { UnmatchedReason } from '../types.js';

/** How a call ended: with a response ('answered'), without one ('abandoned'), or cancelled at the peer too ('cancelled'). */
export type Ending = 'answered' | 'abandoned' | 'cancelled';

/** Most ids in one generation. */
const GENERATION_SIZE = 1_024;

export class SettledIds {
  /** A ring of generations; `newest` is the index of the one ids go into. */
  private readonly generations: Array<Map<string, Ending>>;
  private newest = 0;
  private readonly generationSize: number;

  /** `capacity`: how many settled ids are remembered at least (0: none). */
  constructor(private readonly capacity: number) {
    this.generationSize = Math.max(1, Math.min(capacity, GENERATION_SIZE));
    // Full generations behind the newest hold at least `capacity` ids.
    const count = capacity === 0 ? 0 : Math.ceil(capacity / this.generationSize) + 1;
    this.generations = Array.from({ length: count }, () => new Map<string, Ending>());
  }

  remember(id: string, ending: Ending): void {
    if (this.capacity === 0) return;
    const generation = this.generations[this.newest]!;
    generation.set(id, ending);
    if (generation.size >= this.generationSize) {
      this.newest = (this.newest + 1) % this.generations.length;
      this.generations[this.newest] = new Map();
    }
  }

  /**
   * The peer answered -32800 for `id`: true when this side had cancelled that call, so the answer is the one
   * expected; false when it is not (reported as `reasonFor` says). Anything after it for that id, a second
   * -32800 included, is late, as it was before this one.
   */
  cancelAcknowledged(id: string): boolean {
    const generation = this.find(id);
    if (generation === undefined || generation.get(id) !== 'cancelled') return false;
    generation.set(id, 'abandoned');
    return true;
  }

  /** Why an answer for `id`, which no pending call has, matches nothing. */
  reasonFor(id: string): UnmatchedReason {
    const ending = this.find(id)?.get(id);
    if (ending === undefined) return 'unknown';
    return ending === 'answered' ? 'duplicate' : 'late';
  }

  /** The newest generation that holds `id`. */
  private find(id: string): Map<string, Ending> | undefined {
    const { generations } = this;
    for (let back = 0; back < generations.length; back++) {
      const generation = generations[(this.newest - back + generations.length) % generations.length]!;
      if (generation.has(id)) return generation;
    }
    return undefined;
  }
}
