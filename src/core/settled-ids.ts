/**
 * The memory of recently settled call ids, so that a response matching no
 * pending call is told apart: for a call that ended without an answer (timeout,
 * cancel, connection lost, write failed) it is late; for a call already
 * answered it is a duplicate; for an id never seen (or long forgotten) it is
 * unknown. A call this side cancelled (`$/cancelRequest` sent) expects one
 * -32800 answer from an LSP-style peer: that one is no surprise.
 *
 * Two generations: ids go into the newer; when it holds `capacity` ids, the
 * older is emptied and takes the next ones. So the last `capacity` ids (and at
 * most twice as many) are remembered, with no per-id eviction.
 *
 * Nothing per id is kept on the JavaScript heap (issue 16): each generation is
 * an open-addressing table in typed arrays holding two 32-bit hashes of the id
 * and how its call ended, grown as ids arrive and reused once emptied. A Map
 * of id strings kept every id alive for thousands of calls: long enough to be
 * promoted to the old generation and die there, which at 10,000 calls a second
 * grew the old space by megabytes a second and lengthened every GC pause.
 * Two 32-bit hashes make telling two ids apart certain in practice (a wrong
 * reason, never a wrong match: pending calls are matched by their id itself).
 */
import type { UnmatchedReason } from '../types.js';

/** How a call ended: with a response ('answered'), without one ('abandoned'), or cancelled at the peer too ('cancelled'). */
export type Ending = 'answered' | 'abandoned' | 'cancelled';

const ENDINGS: readonly Ending[] = ['answered', 'abandoned', 'cancelled'];
/** Slots of a generation's table once it gets its first id; it doubles while more than half full. */
const FIRST_SLOTS = 16;
/**
 * The table of a generation that never had an id: one empty slot, shared, never written (the first `put` grows it
 * into a table of its own). A connection whose side makes no calls (most of a server's) then holds none: six typed
 * arrays were about 1.5 KB of an idle connection's heap.
 */
const NO_FIRSTS = new Uint32Array(1);
const NO_SECONDS = new Uint32Array(1);
const NO_ENDINGS = new Uint8Array(1);

/** The two hashes of the last id given to `hashId` (kept here so that hashing allocates nothing). */
let first = 0;
let second = 0;

/** cyrb53's two 32-bit halves of `id`; `first` is never 0, which marks an empty slot. */
function hashId(id: string): void {
  let a = 0xdeadbeef;
  let b = 0x41c6ce57;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    a = Math.imul(a ^ c, 2654435761);
    b = Math.imul(b ^ c, 1597334677);
  }
  a = Math.imul(a ^ (a >>> 16), 2246822507) ^ Math.imul(b ^ (b >>> 13), 3266489909);
  b = Math.imul(b ^ (b >>> 16), 2246822507) ^ Math.imul(a ^ (a >>> 13), 3266489909);
  first = a >>> 0 || 1;
  second = b >>> 0;
}

/** One generation: an open-addressing table (linear probing) of id hashes and endings. */
class Generation {
  size = 0;
  private firsts = NO_FIRSTS;
  private seconds = NO_SECONDS;
  /** Index in ENDINGS, plus one (0: empty). */
  private endings = NO_ENDINGS;

  /** The slot of the id last hashed, or -1. */
  find(): number {
    const { firsts, seconds } = this;
    const mask = firsts.length - 1;
    for (let slot = first & mask; firsts[slot] !== 0; slot = (slot + 1) & mask) {
      if (firsts[slot] === first && seconds[slot] === second) return slot;
    }
    return -1;
  }

  ending(slot: number): Ending {
    return ENDINGS[this.endings[slot]! - 1]!;
  }

  setEnding(slot: number, ending: Ending): void {
    this.endings[slot] = ENDINGS.indexOf(ending) + 1;
  }

  /** Remembers the id last hashed (again, if it is here already). */
  put(ending: Ending): void {
    const found = this.find();
    if (found >= 0) return this.setEnding(found, ending);
    if ((this.size + 1) * 2 > this.firsts.length) this.grow();
    this.insert(first, second, ENDINGS.indexOf(ending) + 1);
    this.size++;
  }

  clear(): void {
    if (this.size > 0) this.firsts.fill(0);
    this.size = 0;
  }

  private insert(a: number, b: number, code: number): void {
    const { firsts } = this;
    const mask = firsts.length - 1;
    let slot = a & mask;
    while (firsts[slot] !== 0) slot = (slot + 1) & mask;
    firsts[slot] = a;
    this.seconds[slot] = b;
    this.endings[slot] = code;
  }

  private grow(): void {
    const { firsts, seconds, endings } = this;
    const slots = Math.max(FIRST_SLOTS, firsts.length * 2);
    this.firsts = new Uint32Array(slots);
    this.seconds = new Uint32Array(slots);
    this.endings = new Uint8Array(slots);
    for (let slot = 0; slot < firsts.length; slot++) {
      if (firsts[slot] !== 0) this.insert(firsts[slot]!, seconds[slot]!, endings[slot]!);
    }
  }
}

export class SettledIds {
  private newer = new Generation();
  private older = new Generation();

  /** `capacity`: how many settled ids are remembered at least (0: none). */
  constructor(private readonly capacity: number) {}

  remember(id: string, ending: Ending): void {
    if (this.capacity === 0) return;
    hashId(id);
    this.newer.put(ending);
    if (this.newer.size >= this.capacity) {
      const emptied = this.older;
      emptied.clear();
      this.older = this.newer;
      this.newer = emptied;
    }
  }

  /**
   * The peer answered -32800 for `id`: true when this side had cancelled that call, so the answer is the one
   * expected; false when it is not (reported as `reasonFor` says). Anything after it for that id, a second
   * -32800 included, is late, as it was before this one.
   */
  cancelAcknowledged(id: string): boolean {
    const found = this.find(id);
    if (found === undefined || found.generation.ending(found.slot) !== 'cancelled') return false;
    found.generation.setEnding(found.slot, 'abandoned');
    return true;
  }

  /** Why an answer for `id`, which no pending call has, matches nothing. */
  reasonFor(id: string): UnmatchedReason {
    const found = this.find(id);
    if (found === undefined) return 'unknown';
    return found.generation.ending(found.slot) === 'answered' ? 'duplicate' : 'late';
  }

  /** Where `id` is remembered, the newer generation first. */
  private find(id: string): { generation: Generation; slot: number } | undefined {
    if (this.capacity === 0) return undefined;
    hashId(id);
    for (const generation of [this.newer, this.older]) {
      const slot = generation.find();
      if (slot >= 0) return { generation, slot };
    }
    return undefined;
  }
}
