/** The table of calls by id: a Map's answers for every kind of JSON-RPC id, hostile names included. */
import { describe, expect, it } from 'vitest';
import { IdTable, MAX_PROBE } from '../src/core/id-table.js';

describe('IdTable', () => {
  it('keeps string and number ids apart, as a Map does', () => {
    const table = new IdTable<string>();
    table.set('1', 'string one');
    table.set(1, 'number one');
    table.set(1.5, 'one and a half');
    table.set(-7, 'minus seven');
    expect([table.get('1'), table.get(1), table.get(1.5), table.get(-7), table.get('1.5'), table.get(2)]).toEqual([
      'string one',
      'number one',
      'one and a half',
      'minus seven',
      undefined,
      undefined,
    ]);
    expect(table.size).toBe(4);
    expect(table.delete('1')).toBe(true);
    expect([table.has('1'), table.has(1), table.size]).toEqual([false, true, 3]);
  });

  it('treats names that objects inherit, and __proto__, as ordinary ids', () => {
    const table = new IdTable<number>();
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', ''];
    for (const name of names) expect(table.get(name)).toBeUndefined();
    names.forEach((name, i) => table.set(name, i));
    expect(names.map((name) => table.get(name))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(table.size).toBe(names.length);
    expect(table.values()).toEqual([0, 1, 2, 3, 4, 5]);
    for (const name of names) expect(table.delete(name)).toBe(true);
    expect([table.size, table.values()]).toEqual([0, []]);
  });

  it('counts an id set twice once, and a delete of an absent id changes nothing', () => {
    const table = new IdTable<string>();
    table.set('a', 'first');
    table.set('a', 'second');
    expect([table.size, table.get('a')]).toEqual([1, 'second']);
    expect([table.delete('b'), table.delete(3), table.size]).toEqual([false, false, 1]);
    expect([table.delete('a'), table.delete('a'), table.size]).toEqual([true, false, 0]);
  });

  it('lists values in insertion order, as a copy safe to change the table under', () => {
    const table = new IdTable<string>();
    for (const id of ['x', 'b', 'a']) table.set(id, id);
    table.set(2, 'two');
    table.set(1, 'one');
    const values = table.values();
    for (const id of ['x', 'b', 'a']) table.delete(id);
    expect(values).toEqual(['x', 'b', 'a', 'two', 'one']);
    expect(table.values()).toEqual(['two', 'one']);
  });

  it('stays right through heavy churn, as calls come and go', () => {
    const table = new IdTable<number>();
    const live = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      table.set(`id${i}`, i);
      live.set(`id${i}`, i);
      if (i % 3 !== 0) {
        const old = `id${i - (i % 50)}`;
        expect(table.delete(old)).toBe(live.delete(old));
      }
    }
    expect(table.size).toBe(live.size);
    expect(table.values()).toEqual([...live.values()]);
  });

  it('grows to 100,000 entries and back, keeping order and finding every id, numbers and strings alike', () => {
    const table = new IdTable<number>();
    const ids: (string | number)[] = [];
    for (let i = 0; i < 100_000; i++) ids.push(i % 4 === 0 ? i : i % 4 === 1 ? -i / 8 : i % 4 === 2 ? `${i}` : `id-${i}`);
    ids.forEach((id, i) => table.set(id, i));
    expect(table.size).toBe(ids.length);
    expect(ids.every((id, i) => table.get(id) === i)).toBe(true);
    // Number 4 and string '4' are different ids.
    expect([table.get(4), table.get('4'), table.get('6'), table.get(6)]).toEqual([4, undefined, 6, undefined]);
    for (let i = 0; i < ids.length; i += 2) table.delete(ids[i]!);
    expect(table.values()).toEqual(ids.map((_, i) => i).filter((i) => i % 2 === 1));
    for (let i = 1; i < ids.length; i += 2) expect(table.delete(ids[i]!)).toBe(true);
    expect([table.size, table.values()]).toEqual([0, []]);
    table.set('again', 1);
    table.clear();
    expect([table.size, table.get('again')]).toEqual([0, undefined]);
  });

  it('holds no index until its first entry (most tables of a connection never get one)', () => {
    const table = new IdTable<number>();
    expect([table.capacity, table.size, table.get('x'), table.has('x'), table.delete('x'), table.values()]).toEqual([
      0,
      0,
      undefined,
      false,
      false,
      [],
    ]);
    table.set('x', 1);
    expect([table.capacity, table.size, table.get('x')]).toEqual([16, 1, 1]);
  });

  it('gives back the storage of a burst once it is empty again (a timeout storm leaves no 10,000-call table behind)', () => {
    const table = new IdTable<number>();
    for (let i = 0; i < 10_000; i++) table.set(`id-${i}`, i);
    expect(table.capacity).toBeGreaterThanOrEqual(2 * 10_000);
    for (let i = 0; i < 9_999; i++) table.delete(`id-${i}`);
    // One entry left: the storage stays until the next rebuild.
    expect([table.size, table.get('id-9999')]).toEqual([1, 9_999]);
    table.delete('id-9999');
    expect([table.size, table.capacity, table.values()]).toEqual([0, 16, []]);
    table.set('again', 1);
    expect([table.size, table.get('again'), table.get('id-9999')]).toEqual([1, 1, undefined]);
    // A small table that empties on every call (one call at a time) keeps its storage: nothing is made per call.
    const small = new IdTable<number>();
    for (let i = 0; i < 64; i++) small.set(i, i);
    for (let i = 0; i < 64; i++) small.delete(i);
    expect(small.capacity).toBe(128);
  });

  it('becomes a Map when ids collide (a hostile peer), and keeps every answer and the order', () => {
    let hashed = 0;
    const table = new IdTable<number>(() => (hashed++, 0));
    const ids = Array.from({ length: 1_000 }, (_, i) => (i % 2 ? `c${i}` : i));
    ids.forEach((id, i) => {
      table.set(id, i);
      // Setting entry i probes past the i entries before it: more than MAX_PROBE from i = MAX_PROBE + 1 on.
      expect(table.isMap).toBe(i > MAX_PROBE);
    });
    const hashedBefore = hashed;
    expect(ids.every((id, i) => table.get(id) === i && table.has(id))).toBe(true);
    expect([table.get('absent'), table.has(0.5), table.size]).toEqual([undefined, false, ids.length]);
    for (let i = 0; i < ids.length; i += 2) expect(table.delete(ids[i]!)).toBe(true);
    expect(table.delete(ids[0]!)).toBe(false);
    table.set('late', -1);
    expect(table.values()).toEqual([...ids.map((_, i) => i).filter((i) => i % 2 === 1), -1]);
    // Once a Map, nothing probes (or hashes) any more.
    expect(hashed).toBe(hashedBefore);
    table.clear();
    expect([table.isMap, table.size, table.get(1)]).toEqual([false, 0, undefined]);
    const hashedAfterClear = hashed;
    table.set('x', 1);
    expect([table.get('x'), hashed]).toEqual([1, hashedAfterClear + 1]); // set hashes once; get finds it where set put it
  });

  it('hashes a call’s id once for its set and the lookups and delete that follow, and never matches a stale position', () => {
    let hashed = 0;
    const table = new IdTable<string>((id, seed) => (hashed++, (String(id).length * 31) ^ seed));
    table.set('a', 'A');
    // The response's id is another string of the same text (fresh from JSON.parse), then the settle deletes it.
    const fromWire = JSON.parse('"a"') as string;
    expect([table.get(fromWire), table.has('a'), table.delete('a'), hashed]).toEqual(['A', true, true, 1]);
    // Deleted: the remembered position holds nothing, so each lookup probes again (and finds nothing), with the hash
    // of the id last probed for: 'a' is not hashed again.
    expect([table.get('a'), table.has('a'), hashed]).toEqual([undefined, false, 1]);
    // An incoming call's id: looked up (absent), then placed, with one hash.
    expect([table.has('b'), table.set('b', 'B'), table.get('b'), hashed]).toEqual([false, undefined, 'B', 2]);
    // A number id is not the string of its digits, even at the remembered position.
    table.set(7, 'seven');
    expect([table.get('7'), table.get(7)]).toEqual([undefined, 'seven']);
    // Rebuilds move entries (here with the real hash, no collisions): a remembered position is checked, never trusted.
    const real = new IdTable<string>();
    for (let i = 0; i < 100; i++) real.set(`id${i}`, `v${i}`);
    for (let i = 0; i < 100; i += 2) real.delete(`id${i}`);
    for (let i = 100; i < 200; i++) real.set(`id${i}`, `v${i}`);
    expect(real.isMap).toBe(false);
    for (let i = 0; i < 200; i++) expect(real.get(`id${i}`)).toBe(i < 100 && i % 2 === 0 ? undefined : `v${i}`);
  });

  it('becomes a Map on a long lookup too: absent ids that land on one long run of entries', () => {
    // Entries whose home slots are consecutive make one run with no probe longer than one; an absent id homed at its
    // start walks all of it.
    const table = new IdTable<number>((id) => (id === 'absent' ? 0 : Number(id)));
    for (let i = 0; i < 400; i++) table.set(i, i);
    expect(table.isMap).toBe(false);
    expect(table.get('absent')).toBeUndefined();
    expect([table.isMap, table.size, table.get(399)]).toEqual([true, 400, 399]);
  });

  it('does not become a Map for the ids real clients send, with the real seeded hash', () => {
    const patterns: ((i: number) => string | number)[] = [
      (i) => i,
      (i) => i * 1_024,
      (i) => i * 65_536,
      (i) => -i,
      (i) => `${i}`,
      (i) => `req-${i}`,
      (i) => `V1StGXR8_Z5jdHi6B-myT${i.toString(36)}`,
      (i) => i.toString(36).padStart(21, '_'),
    ];
    for (const pattern of patterns) {
      const table = new IdTable<number>();
      for (let i = 0; i < 100_000; i++) table.set(pattern(i), i);
      for (let i = 0; i < 100_000; i += 7) table.get(`absent-${i}`);
      expect([String(pattern(3)), table.isMap]).toEqual([String(pattern(3)), false]);
      expect(table.get(pattern(99_999))).toBe(99_999);
    }
  });
});
