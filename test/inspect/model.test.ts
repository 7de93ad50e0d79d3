import { describe, expect, it } from 'vitest';
import { applyEvent, emptyModel, type PageEvent } from '../../src/tools/inspect/model.js';

const call = (sid: string, state: string, at: number, done = false, side: 'client' | 'server' = 'client'): PageEvent & { k: 'call' } => ({
  k: 'call',
  side,
  sid,
  method: 'm',
  id: `id-${sid}`,
  state,
  done,
  at,
});

describe('the page model', () => {
  it('keeps a call in flight with its path until it ends, then counts it and puts it first in the timeline', () => {
    const model = emptyModel();
    applyEvent(model, call('a', 'queued', 1));
    applyEvent(model, call('a', 'sent', 2));
    applyEvent(model, call('a', 'awaiting', 3));
    expect(model.inflight.a).toMatchObject({ state: 'awaiting', path: ['queued', 'sent', 'awaiting'], started: 1 });
    applyEvent(model, call('a', 'timedOut', 9, true));
    expect(model.inflight).toEqual({});
    expect(model.counts.client).toEqual({ resolved: 0, failed: 0, timedOut: 1, cancelled: 0 });
    expect(model.recent).toEqual([
      {
        sid: 'a',
        side: 'client',
        method: 'm',
        id: 'id-a',
        state: 'timedOut',
        path: ['queued', 'sent', 'awaiting', 'timedOut'],
        times: [1, 2, 3, 9],
        causes: ['', '', '', ''],
        started: 1,
        ended: 9,
      },
    ]);
  });

  it("counts server calls and lists them with the client's, and tracks each side's connections by sessionId", () => {
    const model = emptyModel();
    applyEvent(model, { k: 'connection', side: 'server', sid: 'c1', state: 'open', at: 1 });
    applyEvent(model, { k: 'connection', side: 'server', sid: 'c2', state: 'open', at: 1 });
    applyEvent(model, call('s', 'handling', 1, false, 'server'));
    applyEvent(model, call('s', 'replied', 2, true, 'server'));
    expect(model.connections).toEqual({ client: 'none', server: 'open' });
    expect(model.live.server).toEqual({ c1: 'open', c2: 'open' });
    applyEvent(model, { k: 'connection', side: 'server', sid: 'c1', state: 'closed', done: true, at: 3 });
    expect(model.live.server).toEqual({ c2: 'open' });
    expect(model.counts.server.replied).toBe(1);
    expect(model.recent.map((c) => [c.side, c.path])).toEqual([['server', ['handling', 'replied']]]);
  });

  it('keeps the 500 most recent calls, newest first, and the cause and time of each state', () => {
    const model = emptyModel();
    for (let i = 0; i < 505; i++) applyEvent(model, { ...call(String(i), 'resolved', i, true), cause: 'response.result' });
    expect(model.recent).toHaveLength(500);
    expect(model.recent[0]).toMatchObject({ sid: '504', times: [504], causes: ['response.result'] });
    expect(model.recent.at(-1)!.sid).toBe('5');
    expect(model.counts.client.resolved).toBe(505);
  });

  it('holds at most 5,000 calls in flight (forgetting the oldest) and 1,000 live connections per side, and adds up dropped events', () => {
    const model = emptyModel();
    for (let i = 0; i < 5_010; i++) applyEvent(model, call(`c${i}`, 'awaiting', i));
    expect(Object.keys(model.inflight)).toHaveLength(5_000);
    expect(model.inflightCount).toBe(5_000);
    expect(model.inflight.c0).toBeUndefined();
    expect(model.inflight.c5009).toBeDefined();
    applyEvent(model, call('c5009', 'resolved', 9_999, true));
    expect(model.inflightCount).toBe(4_999);
    for (let i = 0; i < 1_005; i++) applyEvent(model, { k: 'connection', side: 'client', sid: `k${i}`, state: 'open', at: i });
    expect(Object.keys(model.live.client)).toHaveLength(1_000);
    applyEvent(model, { k: 'dropped', n: 3 });
    applyEvent(model, { k: 'dropped', n: 4 });
    expect(model.dropped).toBe(7);
    // Streamed counts are safe integers each, not summed: the total stops at the largest exact one.
    applyEvent(model, { k: 'dropped', n: Number.MAX_SAFE_INTEGER });
    applyEvent(model, { k: 'dropped', n: Number.MAX_SAFE_INTEGER });
    expect(model.dropped).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('forgets the oldest call or connection past its bound without listing every key each time (once full, 2 s per 5,000 new calls)', () => {
    const model = emptyModel();
    let listed = 0;
    // A JSON-parsed model, as the page holds it: its tables are plain objects, whose keys are listed only through ownKeys.
    const watched = <T extends object>(target: T): T => new Proxy(target, { ownKeys: (t) => (listed++, Reflect.ownKeys(t)) });
    model.inflight = watched(model.inflight);
    model.live.client = watched(model.live.client);
    for (let i = 0; i < 6_000; i++) applyEvent(model, call(`c${i}`, 'awaiting', i));
    for (let i = 0; i < 2_000; i++) applyEvent(model, { k: 'connection', side: 'client', sid: `k${i}`, state: 'open', at: i });
    // At most once per table: to learn the order of a table that came as JSON.
    expect(listed).toBeLessThanOrEqual(2);
    expect(Object.keys(model.inflight)).toEqual(Array.from({ length: 5_000 }, (_, i) => `c${i + 1_000}`));
    expect(Object.keys(model.live.client)).toEqual(Array.from({ length: 1_000 }, (_, i) => `k${i + 1_000}`));
    expect(JSON.parse(JSON.stringify(model)).inflightCount).toBe(5_000);
  });

  it('keeps the last 50 states of a call whose state keeps changing, with their times and causes', () => {
    // A streamed batch may move one call back and forth forever (5,000 events a POST, POST after POST).
    const model = emptyModel();
    for (let i = 0; i < 10_000; i++) applyEvent(model, { ...call('a', i % 2 ? 'awaiting' : 'sent', i), cause: `e${i}` });
    const kept = model.inflight.a!;
    expect([kept.path.length, kept.times.length, kept.causes.length]).toEqual([50, 50, 50]);
    expect([kept.path.at(-1), kept.times.at(-1), kept.causes.at(-1), kept.times[0], kept.started]).toEqual([
      'awaiting',
      9_999,
      'e9999',
      9_950,
      0,
    ]);
  });
});
