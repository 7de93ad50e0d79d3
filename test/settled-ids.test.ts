/** The memory of settled ids: late after an abandoned call, duplicate after an answered one, unknown otherwise or once forgotten. */
import { describe, expect, it } from 'vitest';
import { SettledIds } from '../src/core/settled-ids.js';

describe('SettledIds', () => {
  it('tells a late answer (call abandoned) from a duplicate (call answered) and from an unknown id', () => {
    const ids = new SettledIds(10);
    ids.remember('a', 'answered');
    ids.remember('b', 'abandoned');
    expect([ids.reasonFor('a'), ids.reasonFor('b'), ids.reasonFor('c')]).toEqual(['duplicate', 'late', 'unknown']);
  });

  it('remembers at least the last `capacity` ids, in two generations, and forgets older ones whole', () => {
    const ids = new SettledIds(3);
    for (const id of ['1', '2', '3', '4', '5', '6', '7']) ids.remember(id, 'answered');
    // '1'–'3' filled the first generation, '4'–'6' the second and dropped the first; '7' starts a third.
    expect(['1', '2', '3', '4', '5', '6', '7'].map((id) => ids.reasonFor(id))).toEqual([
      'unknown',
      'unknown',
      'unknown',
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
    ]);
  });

  it('remembers the last `capacity` ids of a large capacity, and at most twice as many', () => {
    const capacity = 10_000;
    const ids = new SettledIds(capacity);
    const total = 25_000;
    for (let i = 0; i < total; i++) ids.remember(`id${i}`, i % 2 === 0 ? 'answered' : 'abandoned');
    for (let i = total - capacity; i < total; i++) expect(ids.reasonFor(`id${i}`)).toBe(i % 2 === 0 ? 'duplicate' : 'late');
    for (let i = 0; i < total - 2 * capacity; i += 7) expect(ids.reasonFor(`id${i}`)).toBe('unknown');
    // Ids never remembered, however alike, are unknown.
    for (let i = total; i < total + 10_000; i++) expect(ids.reasonFor(`id${i}`)).toBe('unknown');
  });

  it('remembers an id again with its latest ending', () => {
    const ids = new SettledIds(10);
    ids.remember('a', 'abandoned');
    ids.remember('a', 'answered');
    expect(ids.reasonFor('a')).toBe('duplicate');
  });

  it('remembers nothing with capacity 0', () => {
    const ids = new SettledIds(0);
    ids.remember('a', 'abandoned');
    expect(ids.reasonFor('a')).toBe('unknown');
  });

  it('takes one -32800 for a call it cancelled as expected; anything after it, or other answers for it, are late', () => {
    const ids = new SettledIds(10);
    ids.remember('c', 'cancelled');
    ids.remember('t', 'abandoned');
    expect(ids.reasonFor('c')).toBe('late');
    expect(ids.cancelAcknowledged('t')).toBe(false);
    expect(ids.cancelAcknowledged('unseen')).toBe(false);
    expect(ids.cancelAcknowledged('c')).toBe(true);
    expect(ids.cancelAcknowledged('c')).toBe(false);
    expect(ids.reasonFor('c')).toBe('late');
  });
});
