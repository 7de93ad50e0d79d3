/**
 * How callstate puts a count in words, in one place for every message: `countOf(1, 'call')` is '1 call',
 * `countOf(2, 'call')` '2 calls'. A leaf below every layer (it imports nothing), so that the protocol and the
 * transports, which import nothing of the core, may use it too.
 */

/**
 * `n` and the words for that many: `one` when `n` is 1, else `many` (the noun with an s, unless given). Give whole
 * phrases when a verb follows the noun: `countOf(n, 'request already waits', 'requests already wait')`.
 */
export function countOf(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
