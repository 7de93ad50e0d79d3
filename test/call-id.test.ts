import { describe, expect, it } from 'vitest';
import { urlAlphabet } from 'nanoid';
import { newCallId } from '../src/core/call-id.js';

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
});
