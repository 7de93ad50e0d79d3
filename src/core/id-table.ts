/**
 * Calls by JSON-RPC id, for the tables that gain and lose an entry with every
 * call (the outgoing calls awaiting an answer, the incoming calls being
 * handled): a `Map`'s interface over an open-addressing hash table in two
 * plain arrays (ids and values, linear probing, deleted slots marked).
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
 * four times raw's. Here the arrays are replaced only when the table grows,
 * shrinks or is cleared of deleted slots, and nothing links old arrays to new.
 * (A null-prototype dictionary object avoids the links too, but a lookup by a
 * string fresh from `JSON.parse` must first find its interned copy: three
 * times slower.)
 *
 * Number and string ids are distinct (as JSON-RPC has them, and as a Map keys
 * them). `values()` lists entries in insertion order.
 */

/** Marks a slot whose entry was deleted: probing goes on past it. */
const DELETED = Symbol('deleted');
const MIN_CAPACITY = 16;

type Id = string | number;

export class IdTable<V> {
  private ids: (Id | typeof DELETED | undefined)[] = new Array(MIN_CAPACITY).fill(undefined);
  private entries: (V | undefined)[] = new Array(MIN_CAPACITY).fill(undefined);
  /** When each entry was set (a count): `values()` lists them in that order. */
  private order: number[] = new Array(MIN_CAPACITY).fill(0);
  private mask = MIN_CAPACITY - 1;
  private count = 0;
  /** Slots taken by entries or marked deleted. */
  private used = 0;
  private sets = 0;

  get size(): number {
    return this.count;
  }

  get(id: Id): V | undefined {
    const slot = this.find(id);
    return slot < 0 ? undefined : this.entries[slot];
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
    if ((this.used + 1) * 2 > this.mask + 1) this.resize();
    const { ids, mask } = this;
    let slot = hash(id) & mask;
    // The first free or deleted slot on the probe path (`find` has shown `id` is not further on).
    while (ids[slot] !== undefined && ids[slot] !== DELETED) slot = (slot + 1) & mask;
    if (ids[slot] === undefined) this.used++;
    ids[slot] = id;
    this.entries[slot] = value;
    this.order[slot] = this.sets++;
    this.count++;
  }

  /** Removes the entry of `id`; returns whether there was one. */
  delete(id: Id): boolean {
    const slot = this.find(id);
    if (slot < 0) return false;
    this.ids[slot] = DELETED;
    this.entries[slot] = undefined;
    this.count--;
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.allocate(MIN_CAPACITY);
  }

  /** The entries' values in insertion order, copied: the table may change while the caller goes through them. */
  values(): V[] {
    if (this.count === 0) return [];
    const slots: number[] = [];
    for (let slot = 0; slot <= this.mask; slot++) if (this.isEntry(slot)) slots.push(slot);
    slots.sort((a, b) => this.order[a]! - this.order[b]!);
    return slots.map((slot) => this.entries[slot]!);
  }

  private isEntry(slot: number): boolean {
    const id = this.ids[slot];
    return id !== undefined && id !== DELETED;
  }

  /** The slot of `id`, or -1. */
  private find(id: Id): number {
    const { ids, mask } = this;
    let slot = hash(id) & mask;
    for (;;) {
      const there = ids[slot];
      if (there === id) return slot;
      if (there === undefined) return -1;
      slot = (slot + 1) & mask;
    }
  }

  /** New arrays sized for the entries (at most a quarter full), without deleted slots, in the same order. */
  private resize(): void {
    const { ids, entries, order } = this;
    let capacity = MIN_CAPACITY;
    while (capacity < (this.count + 1) * 4) capacity *= 2;
    this.allocate(capacity);
    const { mask } = this;
    for (let old = 0; old < ids.length; old++) {
      const id = ids[old];
      if (id === undefined || id === DELETED) continue;
      let slot = hash(id) & mask;
      while (this.ids[slot] !== undefined) slot = (slot + 1) & mask;
      this.ids[slot] = id;
      this.entries[slot] = entries[old];
      this.order[slot] = order[old]!;
      this.count++;
      this.used++;
    }
  }

  private allocate(capacity: number): void {
    this.ids = new Array(capacity).fill(undefined);
    this.entries = new Array(capacity).fill(undefined);
    this.order = new Array(capacity).fill(0);
    this.mask = capacity - 1;
    this.count = 0;
    this.used = 0;
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
