import { describe, expect, it } from 'vitest';
import { applyEvent, emptyModel, type PageEvent } from '../../src/tools/inspect/model.js';

const call = (sid: string, state: string, at: number, done = false, side: 'client' | 'server' = 'client'): PageEvent => ({
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
        started: 1,
        ended: 9,
      },
    ]);
  });

  it("counts server calls without adding them to the timeline, and tracks each side's connection", () => {
    const model = emptyModel();
    applyEvent(model, { k: 'connection', side: 'server', state: 'open', at: 1 });
    applyEvent(model, call('s', 'handling', 1, false, 'server'));
    applyEvent(model, call('s', 'replied', 2, true, 'server'));
    expect(model.connections).toEqual({ client: 'none', server: 'open' });
    expect(model.counts.server.replied).toBe(1);
    expect(model.recent).toEqual([]);
  });

  it('keeps the 40 most recent calls, newest first', () => {
    const model = emptyModel();
    for (let i = 0; i < 45; i++) applyEvent(model, call(String(i), 'resolved', i, true));
    expect(model.recent).toHaveLength(40);
    expect(model.recent[0]!.sid).toBe('44');
    expect(model.recent.at(-1)!.sid).toBe('5');
    expect(model.counts.client.resolved).toBe(45);
  });
});
