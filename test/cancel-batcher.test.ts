/** The cancel batcher: `$/cancelRequest` notices of one tick go out together, in batch frames of at most `maxBatch`. */
import { describe, expect, it } from 'vitest';
import { CancelBatcher } from '../src/core/cancel-batcher.js';

const notice = (id: string) => ({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id } });

describe('CancelBatcher', () => {
  it('writes a lone notice as a single notification, after the current tick', async () => {
    const frames: string[] = [];
    const batcher = new CancelBatcher((frame) => frames.push(frame));
    batcher.cancel('a');
    expect([frames, batcher.size]).toEqual([[], 1]);
    await Promise.resolve();
    expect(frames.map((f) => JSON.parse(f))).toEqual([notice('a')]);
    expect(batcher.size).toBe(0);
  });

  it('batches the notices of one tick in frames of at most maxBatch, in order', async () => {
    const frames: string[] = [];
    const batcher = new CancelBatcher((frame) => frames.push(frame), 2);
    for (const id of ['a', 'b', 'c', 'd', 'e']) batcher.cancel(id);
    await Promise.resolve();
    expect(frames.map((f) => JSON.parse(f))).toEqual([[notice('a'), notice('b')], [notice('c'), notice('d')], notice('e')]);
    batcher.cancel('f');
    await Promise.resolve();
    expect(JSON.parse(frames.at(-1)!)).toEqual(notice('f'));
  });
});
