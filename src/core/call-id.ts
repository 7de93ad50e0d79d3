/**
 * The id of each outgoing call: a nanoid (21 characters of nanoid's URL-safe
 * alphabet, 126 random bits from nanoid's own random source), so that ids are
 * unique across every client without coordination, never a per-process counter.
 *
 * Built in one step, not as `nanoid()` builds it, one character appended at a
 * time: past 12 characters those appends make a rope of strings, which V8
 * flattens again when the id is serialized, hashed or compared. Made flat at
 * once, a call's id costs about 1,700 fewer instructions on the client (issue 16).
 *
 * The random bytes of several ids are drawn from nanoid at once and copied (nanoid hands out views of a buffer it
 * refills): one draw, not one per call, of the view and its checks, about 700 instructions a call (issue 16).
 */
import { random, urlAlphabet } from 'nanoid';

/** nanoid's alphabet, as character codes: `CODES[byte & 63]`, as nanoid maps its random bytes. */
const CODES = Array.from(urlAlphabet, (char) => char.charCodeAt(0));

/** Characters of an id, one random byte each. */
const SIZE = 21;
/** Ids whose bytes are drawn at once. */
const IDS_PER_DRAW = 8;
const drawn = new Uint8Array(SIZE * IDS_PER_DRAW);
/** Where the next id's bytes start in `drawn`; its length when all are used. */
let next = drawn.length;

/** A new call id: what `nanoid()` returns (same length, alphabet and randomness), as a flat string. */
export function newCallId(): string {
  if (next === drawn.length) {
    drawn.set(random(drawn.length));
    next = 0;
  }
  const i = next;
  next += SIZE;
  const b = drawn;
  const c = CODES;
  return String.fromCharCode(
    c[b[i]! & 63]!,
    c[b[i + 1]! & 63]!,
    c[b[i + 2]! & 63]!,
    c[b[i + 3]! & 63]!,
    c[b[i + 4]! & 63]!,
    c[b[i + 5]! & 63]!,
    c[b[i + 6]! & 63]!,
    c[b[i + 7]! & 63]!,
    c[b[i + 8]! & 63]!,
    c[b[i + 9]! & 63]!,
    c[b[i + 10]! & 63]!,
    c[b[i + 11]! & 63]!,
    c[b[i + 12]! & 63]!,
    c[b[i + 13]! & 63]!,
    c[b[i + 14]! & 63]!,
    c[b[i + 15]! & 63]!,
    c[b[i + 16]! & 63]!,
    c[b[i + 17]! & 63]!,
    c[b[i + 18]! & 63]!,
    c[b[i + 19]! & 63]!,
    c[b[i + 20]! & 63]!,
  );
}

/** Characters of an id that `ownIdHash` reads: 36 random bits in an id made here. */
const HASHED = 6;

/**
 * The hash of the table of this side's pending calls (an `IdHash`, see `id-table.ts`): of the length and the first
 * six characters only, as each character of an id made here is random, so these spread the ids over the table as well
 * as all 21 would, for a fraction of the instructions (about 380 fewer a call, issue 16). Only for a table whose ids
 * are made here: ids chosen by a peer may share their first characters (counters with a prefix do) and would collide.
 * The peer's ids are only looked up in it, and a lookup cannot lengthen the table's probes.
 */
export function ownIdHash(id: string | number, seed: number): number {
  const text = typeof id === 'string' ? id : String(id);
  const end = Math.min(text.length, HASHED);
  let h = 0x811c9dc5 ^ seed ^ text.length;
  for (let i = 0; i < end; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return (h ^ (h >>> 15)) >>> 0;
}
