import { afterEach, describe, expect, it } from 'vitest';
import { planCall, seededRandom } from '../../src/tools/inspect/traffic.js';
import { startInspectPage, type InspectPage } from '../../src/tools/inspect/server.js';

let page: InspectPage | undefined;
afterEach(async () => {
  await page?.close();
  page = undefined;
});

describe('demo traffic', () => {
  it('plans the same calls from the same seed, and every kind of ending', () => {
    const plans = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 500 }, () => planCall(random, 1_000));
    };
    expect(plans(42)).toEqual(plans(42));
    expect(plans(42)).not.toEqual(plans(43));
    const kinds = new Map<string, number>();
    for (const plan of plans(42)) kinds.set(plan.kind, (kinds.get(plan.kind) ?? 0) + 1);
    expect([...kinds.keys()].sort()).toEqual(['answered', 'cancel', 'error', 'timeout']);
    for (const plan of plans(42)) {
      if (plan.kind === 'timeout') expect(plan.timeout).toBeLessThan(plan.delay);
      if (plan.kind === 'cancel') expect(plan.cancelAfter).toBeLessThan(plan.delay);
    }
  });

  it('refuses traffic options out of range before starting anything', async () => {
    await expect(startInspectPage({ traffic: { rate: 0 } })).rejects.toThrow(
      new RangeError('traffic.rate must be between 1 and 1000, got 0'),
    );
    await expect(startInspectPage({ traffic: { maxDelay: 1.5 } })).rejects.toThrow(
      new TypeError('traffic.maxDelay must be an integer, got number 1.5'),
    );
    await expect(startInspectPage({ port: -1 })).rejects.toThrow(RangeError);
  });

  it('ends calls in every final state, and after a reconnection some calls waited in queued', async () => {
    page = await startInspectPage({ traffic: { seed: 7, rate: 100, maxDelay: 30, reconnectEvery: 150 } });
    const { model } = page;
    const seen = () => Object.values(model.counts.client).every((n) => n > 0) && model.recent.some((c) => c.path[0] === 'queued');
    // Bounded by a number of polls, not asserted as a duration.
    for (let i = 0; i < 400 && !seen(); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(Object.values(model.counts.client).every((n) => n > 0)).toBe(true);
    expect(model.recent.some((c) => c.path.join(' ') === `queued sent awaiting ${c.state}`)).toBe(true);
  });
});
