/**
 * Calls by JSON-RPC id, for the tables that gain and lose an entry with every
 * call (the outgoing calls awaiting an answer, the incoming calls being
 * handled): a `Map`'s interface over entries kept in insertion order in two
 * arrays (ids and values; deleted ones marked until the next rebuild) and an
 * open-addressing hash index of their positions (an `Int32Array`, linear probing).
 *
 * Why not a `Map` (issue 16): V8 rehashes a Map's table into a new one every
 * few inserts when keys come and go (deleted entries hold their slots until a
 * rehash; a table shrinks once it is half empty), and the old table keeps a
 * pointer to the new one, and its entries, for iterators. Once one of those
 * tables lives through two scavenges and is promoted, each later table is
 * reachable from the dead one before it until the next full GC: every call the
 * table held since is kept alive and promoted in turn. At 10,000 calls a
 * second that was most of what a callstate client and server promoted (a raw
 * `ws` client with a Map of pending calls promotes 120–160 KB a scavenge, 34
 * KB without), a young generation V8 then grew to its largest, and GC pauses
 * four times raw's. Here the arrays are replaced only when the table is
 * rebuilt (grown or shrunk; deleted entries are dropped in place), and nothing
 * links old arrays to new.
 * (A null-prototype dictionary object avoids the links too, but a lookup by a
 * string fresh from `JSON.parse` must first find its interned copy: three
 * times slower.)
 *
 * Ids come from the peer, so the hash is seeded (a random seed per table) and
 * no probe may run long: one that passes MAX_PROBE slots (ids crafted to
 * collide, or bad luck) turns the table into a `Map`, whose string hash V8
 * seeds per process, for the rest of its life or until `clear()`. The worst a
 * hostile peer gets is a Map's cost and its garbage, never O(n) lookups.
 *
 * Number and string ids are distinct (as JSON-RPC has them, and as a Map keys
 * them). `values()` lists entries in insertion order.
 */

/** Marks an entry that was deleted: its index slot still leads probing on past it. */
const DELETED = Symbol('deleted');
const MIN_CAPACITY = 16;
/**
 * A table of more index slots than this gives its storage back when its last entry is deleted: a burst (a timeout
 * storm, 10,000 calls at once) leaves no table of its size behind. A smaller one keeps it, so that a table emptied
 * by every call (one call at a time) makes nothing.
 */
const SHRINK_ABOVE = 1024;
const EMPTY = -1;
/**
 * The index of a table that never had an entry: one empty slot, shared, never written (the first `set` rebuilds the
 * table with an index of its own). Every connection has several tables, most never used (the calls a server makes
 * to its client, say): each one's index was about 250 bytes of an idle connection's heap.
 */
const NO_INDEX = new Int32Array(1).fill(EMPTY);
/** The longest probe tolerated before the table becomes a Map (at most 40–50% full, a random hash needs a few). */
export const MAX_PROBE = 128;

type Id = string | number;
/** A 32-bit hash of an id under a seed. */
export type IdHash = (id: Id, seed: number) => number;

export class IdTable<V> {
  /** Set once a probe has run longer than MAX_PROBE: from then on every entry lives here. */
  private map: Map<Id, V> | undefined;
  private flooded = false;
  private readonly seed = (Math.random() * 0x100000000) | 0;
  /** Entries in insertion order, deleted ones marked until the next rebuild. */
  private ids: (Id | typeof DELETED)[] = [];
  private entries: (V | undefined)[] = [];
  /** The hash index: for each slot, the position of an entry in `ids` (linear probing), or EMPTY. */
  private index = NO_INDEX;
  private mask = 0;
  private count = 0;
  /**
   * Where in `ids` the id last found or placed is: a call's id is looked up several times in a row (placed,
   * then found by its response, then deleted; on a server found four times more), and each probe hashes it
   * again, 21 characters for a nanoid. Checked by the id itself, so it is never wrong, only missed (issue 16).
   */
  private recent = -1;

  /** @param hashOf the hash of ids (tests give a degenerate one). */
  constructor(private readonly hashOf: IdHash = hash) {}

  get size(): number {
    return this.map === undefined ? this.count : this.map.size;
  }

  /** Slots of the hash index (at least 2.5 times the entries after a rebuild; 0 before the first entry); for tests. */
  get capacity(): number {
    return this.index === NO_INDEX ? 0 : this.mask + 1;
  }

  /** Whether a long probe has turned the table into a Map. */
  get isMap(): boolean {
    return this.map !== undefined;
  }

  get(id: Id): V | undefined {
    if (this.map !== undefined) return this.map.get(id);
    const at = this.find(id);
    const value = at < 0 ? undefined : this.entries[at];
    if (this.flooded) this.becomeMap();
    return value;
  }

  has(id: Id): boolean {
    if (this.map !== undefined) return this.map.has(id);
    const found = this.find(id) >= 0;
    if (this.flooded) this.becomeMap();
    return found;
  }

  /** Sets the entry of `id`. */
  set(id: Id, value: V): void {
    if (this.map !== undefined) {
      this.map.set(id, value);
      return;
    }
    const found = this.find(id);
    if (found >= 0) this.entries[found] = value;
    else {
      // Every entry made since the last rebuild, deleted or not, holds an index slot: at most half of them.
      if ((this.ids.length + 1) * 2 > this.mask + 1) this.rebuild();
      this.place(id, this.ids.length, this.probed);
      this.recent = this.ids.length;
      this.ids.push(id);
      this.entries.push(value);
      this.count++;
    }
    if (this.flooded) this.becomeMap();
  }

  /** Removes the entry of `id`; returns whether there was one. */
  delete(id: Id): boolean {
    if (this.map !== undefined) return this.map.delete(id);
    const at = this.find(id);
    if (at >= 0) {
      this.ids[at] = DELETED;
      this.entries[at] = undefined;
      if (--this.count === 0 && this.mask >= SHRINK_ABOVE) this.empty();
    }
    if (this.flooded) this.becomeMap();
    return at >= 0;
  }

  /** Removes every entry (a table that had become a Map goes back to hashing). */
  clear(): void {
    this.map = undefined;
    this.flooded = false;
    this.empty();
  }

  /** The entries' values in insertion order, copied: the table may change while the caller goes through them. */
  values(): V[] {
    if (this.map !== undefined) return [...this.map.values()];
    const out: V[] = [];
    if (this.count === 0) return out;
    for (let at = 0; at < this.ids.length; at++) if (this.ids[at] !== DELETED) out.push(this.entries[at]!);
    return out;
  }

  /**
   * Where `id`'s entry is in `ids`, or -1; a probe longer than MAX_PROBE still ends, and marks the table flooded.
   * After a probe, `probed` holds `id`'s hash, for `place` to use without hashing it again, and for the next probe
   * for the same id (a `has` then a `set`, as for each incoming call) to use too.
   */
  private find(id: Id): number {
    const { index, mask, ids, recent } = this;
    if (recent >= 0 && ids[recent] === id) return recent;
    const hashed = id === this.probedId ? this.probed : this.hashOf(id, this.seed);
    this.probed = hashed;
    this.probedId = id;
    let slot = hashed & mask;
    for (let probes = 0; ; probes++) {
      const at = index[slot]!;
      if (at === EMPTY) return -1;
      if (ids[at] === id) return (this.recent = at);
      if (probes === MAX_PROBE) this.flooded = true;
      slot = (slot + 1) & mask;
    }
  }

  /** The hash of the id `find` last probed for (it missed, so `set` places that id next), and that id. */
  private probed = 0;
  private probedId: Id | undefined = undefined;

  /** Points the first empty index slot on the probe path of the id hashed `hashed` at `at`. */
  private place(id: Id, at: number, hashed = this.hashOf(id, this.seed)): void {
    const { index, mask } = this;
    let slot = hashed & mask;
    for (let probes = 0; index[slot] !== EMPTY; probes++) {
      if (probes === MAX_PROBE) this.flooded = true;
      slot = (slot + 1) & mask;
    }
    index[slot] = at;
  }

  /** Moves every entry, in order, into a Map, and lets the arrays and index go. */
  private becomeMap(): void {
    const map = new Map<Id, V>();
    const { ids, entries } = this;
    for (let at = 0; at < ids.length; at++) {
      const id = ids[at]!;
      if (id !== DELETED) map.set(id, entries[at]!);
    }
    this.map = map;
    this.empty();
  }

  /** Drops the deleted entries (in place, or the arrays when none is left) and sizes the index for the rest, at most 40% full. */
  private rebuild(): void {
    let capacity = MIN_CAPACITY;
    while (capacity < (this.count + 1) * 2.5) capacity *= 2;
    if (capacity === this.mask + 1) this.index.fill(EMPTY);
    else this.allocate(capacity);
    if (this.count === 0) {
      // Nothing to keep (every call settled, as at low concurrency): new arrays, not these cut to length 0, as
      // setting an array's length is a call into the runtime (about 100 instructions a call at 1 in flight, issue 16).
      this.ids = [];
      this.entries = [];
      return;
    }
    const { ids, entries } = this;
    let kept = 0;
    for (let at = 0; at < ids.length; at++) {
      const id = ids[at]!;
      if (id === DELETED) continue;
      ids[kept] = id;
      entries[kept] = entries[at];
      this.place(id, kept++);
    }
    ids.length = kept;
    entries.length = kept;
  }

  /** Drops every entry and the storage they took: the arrays and an index of MIN_CAPACITY. */
  private empty(): void {
    this.ids.length = 0;
    this.entries.length = 0;
    this.count = 0;
    this.allocate(MIN_CAPACITY);
  }

  private allocate(capacity: number): void {
    this.index = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
  }
}

/**
 * A 32-bit hash of an id under a seed (FNV-1a over UTF-16 code units, from a seeded basis, for strings; integers by
 * their bits mixed with the seed, other numbers by their text).
 */
function hash(id: Id, seed: number): number {
  if (typeof id === 'number') {
    if (Number.isInteger(id)) {
      // The index takes the low bits: fold the product's high bits in, or ids that share low bits (multiples of 1,024) would share a slot.
      const h = Math.imul((id | 0) ^ ((id / 0x100000000) | 0) ^ seed, 0x9e3779b1);
      return (h ^ (h >>> 16)) >>> 0;
    }
    id = String(id);
  }
  let h = 0x811c9dc5 ^ seed;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}
