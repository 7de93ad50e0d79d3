/** The cancel batcher: `$/cancelRequest` notices of one tick go out together after it, a frame each. */
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

  it('writes the notices of one tick together after it, each as a frame of its own, in order', async () => {
    const frames: string[] = [];
    const batcher = new CancelBatcher((frame) => frames.push(frame));
    for (const id of ['a', 'b', 'c', 'd', 'e']) batcher.cancel(id);
    expect(frames).toEqual([]);
    await Promise.resolve();
    expect(frames.map((f) => JSON.parse(f))).toEqual(['a', 'b', 'c', 'd', 'e'].map(notice));
    batcher.cancel('f');
    await Promise.resolve();
    expect(JSON.parse(frames.at(-1)!)).toEqual(notice('f'));
  });
});
