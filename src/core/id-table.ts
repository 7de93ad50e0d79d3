/**
 * Calls by JSON-RPC id, for the tables that gain and lose an entry with every
 * call (the outgoing calls awaiting an answer, the incoming calls being
 * handled): a `Map`'s interface over null-prototype dictionary objects.
 *
 * Why not a `Map` (issue 16): V8 rehashes a Map's table into a new one every
 * few inserts when keys come and go (deleted entries hold their slots until a
 * rehash; a table shrinks once it is half empty), and the old table keeps a
 * pointer to the new one, and its entries, for iterators. Once one of those
 * tables lives through two scavenges and is promoted, each later table is
 * reachable from the dead one before it, until the next full GC: every call
 * the table held since is kept alive and promoted in turn. At 10,000 calls a
 * second that was most of what a client and a server promoted (a raw `ws`
 * client with a Map of pending calls, 120–160 KB a scavenge; with a
 * dictionary object, 34 KB), a young generation V8 then grew to its largest,
 * and GC pauses four times raw's. A dictionary that grows or shrinks copies
 * into a new one too, but nothing links the old to the new.
 *
 * Number and string ids are distinct (as JSON-RPC has them, and as a Map keys
 * them): each kind has its own dictionary. Iteration (`values`) is in
 * insertion order for ids that are not array indices (`"42"`, or the number
 * 42, come first, in numeric order); callstate's own ids are nanoids.
 */
type Dictionary<V> = Record<string, V | undefined>;

export class IdTable<V> {
  private strings: Dictionary<V> = Object.create(null);
  private numbers: Dictionary<V> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: string | number): V | undefined {
    return typeof id === 'string' ? this.strings[id] : this.numbers?.[id];
  }

  has(id: string | number): boolean {
    return this.get(id) !== undefined;
  }

  /** Sets the entry of `id` (`value` is never undefined). */
  set(id: string | number, value: V): void {
    const table = typeof id === 'string' ? this.strings : (this.numbers ??= Object.create(null) as Dictionary<V>);
    if (table[id] === undefined) this.count++;
    table[id] = value;
  }

  /** Removes the entry of `id`; returns whether there was one. */
  delete(id: string | number): boolean {
    const table = typeof id === 'string' ? this.strings : this.numbers;
    if (table === undefined || table[id] === undefined) return false;
    delete table[id];
    this.count--;
    return true;
  }

  /** Removes every entry. */
  clear(): void {
    this.strings = Object.create(null);
    this.numbers = undefined;
    this.count = 0;
  }

  /** The entries' values, copied: the table may change while the caller goes through them. */
  values(): V[] {
    const out: V[] = [];
    if (this.count === 0) return out;
    for (const table of [this.numbers, this.strings]) {
      if (table === undefined) continue;
      for (const id in table) out.push(table[id]!);
    }
    return out;
  }
}
