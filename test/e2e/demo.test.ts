import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/demo.js';

describe('the demo', () => {
  it('answers every echo with what it sent, times out one call and reports each unmatched reason once', async () => {
    const lines: string[] = [];
    const summary = await runDemo({ calls: 20, maxDelay: 60, write: (line) => lines.push(line) });
    expect(summary).toMatchObject({
      calls: 20,
      matched: 20,
      timedOut: 1,
      unmatched: { unknown: 1, late: 1, duplicate: 1, malformed: 1 },
      ok: true,
    });
    // Every one of the 21 calls is printed entering awaiting and a final state.
    expect(lines.filter((l) => / awaiting$/.test(l))).toHaveLength(21);
    expect(lines.filter((l) => / resolved$/.test(l))).toHaveLength(20);
    expect(lines.filter((l) => / timedOut$/.test(l))).toHaveLength(1);
    expect(lines.at(-1)).toBe('demo passed');
  });
});
