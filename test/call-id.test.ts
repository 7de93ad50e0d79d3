import { describe, expect, it } from 'vitest';
import { urlAlphabet } from 'nanoid';
import { newCallId, ownIdHash } from '../src/core/call-id.js';
import { IdTable } from '../src/core/id-table.js';

describe('newCallId', () => {
  it('makes nanoids: 21 characters of nanoid’s URL-safe alphabet, none repeated in 100,000', () => {
    const ids = Array.from({ length: 100_000 }, newCallId);
    const alphabet = new Set(urlAlphabet);
    for (const id of ids.slice(0, 1_000)) {
      expect(id).toHaveLength(21);
      expect([...id].every((char) => alphabet.has(char))).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('uses every character of the alphabet in every position (the random bytes are spread as nanoid spreads them)', () => {
    const seen = Array.from({ length: 21 }, () => new Set<string>());
    for (let i = 0; i < 20_000; i++) [...newCallId()].forEach((char, position) => seen[position]!.add(char));
    expect(seen.map((chars) => chars.size)).toEqual(Array(21).fill(64));
  });

  it('spreads its ids over a table with ownIdHash, which reads their first characters only', () => {
    const table = new IdTable<number>(ownIdHash);
    const ids = Array.from({ length: 50_000 }, newCallId);
    ids.forEach((id, i) => table.set(id, i));
    expect([table.isMap, table.size]).toEqual([false, ids.length]);
    expect(ids.every((id, i) => table.get(JSON.parse(JSON.stringify(id)) as string) === i)).toBe(true);
    // The same text hashes alike, whatever string holds it; the length counts.
    expect(ownIdHash('abcdefXYZ', 7)).toBe(ownIdHash(JSON.parse('"abcdefXYZ"') as string, 7));
    expect(ownIdHash('abcdef', 7)).not.toBe(ownIdHash('abcdefg', 7));
  });
});
