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
 * Number and string ids are distinct (as JSON-RPC has them, and as a Map keys
 * them). `values()` lists entries in insertion order.
 */

/** Marks an entry that was deleted: its index slot still leads probing on past it. */
const DELETED = Symbol('deleted');
const MIN_CAPACITY = 16;
const EMPTY = -1;

type Id = string | number;

export class IdTable<V> {
  /** Entries in insertion order, deleted ones marked until the next rebuild. */
  private readonly ids: (Id | typeof DELETED)[] = [];
  private readonly entries: (V | undefined)[] = [];
  /** The hash index: for each slot, the position of an entry in `ids` (linear probing), or EMPTY. */
  private index = new Int32Array(MIN_CAPACITY).fill(EMPTY);
  private mask = MIN_CAPACITY - 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: Id): V | undefined {
    const at = this.find(id);
    return at < 0 ? undefined : this.entries[at];
  }

  has(id: Id): boolean {
    return this.find(id) >= 0;
  }

  /** Sets the entry of `id`. */
  set(id: Id, value: V): void {
    const found = this.find(id);
    if (found >= 0) {
      this.entries[found] = value;
      return;
    }
    // Every entry made since the last rebuild, deleted or not, holds an index slot: at most half of them.
    if ((this.ids.length + 1) * 2 > this.mask + 1) this.rebuild();
    this.place(id, this.ids.length);
    this.ids.push(id);
    this.entries.push(value);
    this.count++;
  }

  /** Removes the entry of `id`; returns whether there was one. */
  delete(id: Id): boolean {
    const at = this.find(id);
    if (at < 0) return false;
    this.ids[at] = DELETED;
    this.entries[at] = undefined;
    this.count--;
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.ids.length = 0;
    this.entries.length = 0;
    this.count = 0;
    this.allocate(MIN_CAPACITY);
  }

  /** The entries' values in insertion order, copied: the table may change while the caller goes through them. */
  values(): V[] {
    const out: V[] = [];
    if (this.count === 0) return out;
    for (let at = 0; at < this.ids.length; at++) if (this.ids[at] !== DELETED) out.push(this.entries[at]!);
    return out;
  }

  /** Where `id`'s entry is in `ids`, or -1. */
  private find(id: Id): number {
    const { index, mask, ids } = this;
    let slot = hash(id) & mask;
    for (;;) {
      const at = index[slot]!;
      if (at === EMPTY) return -1;
      if (ids[at] === id) return at;
      slot = (slot + 1) & mask;
    }
  }

  /** Points the first empty index slot on `id`'s probe path at `at`. */
  private place(id: Id, at: number): void {
    const { index, mask } = this;
    let slot = hash(id) & mask;
    while (index[slot] !== EMPTY) slot = (slot + 1) & mask;
    index[slot] = at;
  }

  /** Drops the deleted entries (in place) and sizes the index for the rest, at most 40% full. */
  private rebuild(): void {
    let capacity = MIN_CAPACITY;
    while (capacity < (this.count + 1) * 2.5) capacity *= 2;
    if (capacity === this.mask + 1) this.index.fill(EMPTY);
    else this.allocate(capacity);
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

  private allocate(capacity: number): void {
    this.index = new Int32Array(capacity).fill(EMPTY);
    this.mask = capacity - 1;
  }
}

/** A 32-bit hash of an id (FNV-1a over UTF-16 code units for strings; numbers by their bits, or text when not integers). */
function hash(id: Id): number {
  if (typeof id === 'number') {
    if (Number.isInteger(id)) return Math.imul((id | 0) ^ ((id / 0x100000000) | 0), 0x9e3779b1) >>> 0;
    id = String(id);
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}
