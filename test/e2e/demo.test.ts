import { describe, expect, it } from 'vitest';
import { runDemo } from '../../src/tools/demo.js';

/** A printed state line: `  123 ms  call  7 echo({"n":42})       awaiting` or `  12 ms  connection    open`. */
const LINE = /^\s*\d+ ms {2}(?:call +(\d+) (\w+)\((.*)\)|(connection)) +(\w+)$/;
const FULL_PATH = ['queued', 'sent', 'awaiting', 'resolved'];
const FAST_PATH = ['queued', 'sent', 'resolved'];
const CONNECTION_STATES = new Set(['opening', 'open', 'reconnecting', 'closing', 'closed']);

describe.each(['light', 'xstate'] as const)('the demo (engine: %s)', (engine) => {
  it('answers every echo with what it sent, times out one call and reports each unmatched reason once', async () => {
    const lines: string[] = [];
    const summary = await runDemo({ calls: 20, maxDelay: 60, engine, write: (line) => lines.push(line) });
    expect(summary).toMatchObject({
      calls: 20,
      matched: 20,
      timedOut: 1,
      unmatched: { unknown: 1, late: 1, duplicate: 1, malformed: 1 },
      ok: true,
    });
    expect(lines.at(-1)).toBe('demo passed');

    // Each state line names its actor by the machine it runs: a numbered call with its method and params, or the connection.
    const states = lines.map((line) => LINE.exec(line)).filter((m) => m !== null);
    const calls = new Map<number, { method: string; params: string; path: string[] }>();
    const connection: string[] = [];
    for (const [, n, method, params, isConnection, state] of states) {
      if (isConnection) {
        connection.push(state!);
        continue;
      }
      const call = calls.get(Number(n)) ?? { method: method!, params: params!, path: [] };
      // One label per call: its number always comes with the same method and params.
      expect({ method, params }).toEqual({ method: call.method, params: call.params });
      call.path.push(state!);
      calls.set(Number(n), call);
    }
    // Calls are numbered 1..21 in the order they were made: 20 echoes, then the slow call.
    expect([...calls.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    for (let n = 1; n <= 20; n++) {
      const call = calls.get(n)!;
      expect(call.method).toBe('echo');
      expect(call.params).toMatch(/^\{"n":\d+\}$/);
      // Made before the socket opened, each call waits, is written, awaits its answer and resolves: one line per state.
      // (`sent` takes the answer too, should it beat the write's callback; that is the only other path.)
      expect([FULL_PATH, FAST_PATH], `call ${n}: ${call.path.join(' → ')}`).toContainEqual(call.path);
    }
    expect([...calls.values()].filter((call) => call.path.includes('awaiting')).length).toBeGreaterThan(0);
    // The slow call is made on the open connection: it goes out at once, and times out awaiting.
    expect(calls.get(21)).toEqual({ method: 'slow', params: '{"n":-1}', path: ['sent', 'awaiting', 'timedOut'] });
    // The connection's lines show only connection states, from opening to closed.
    expect(connection[0]).toBe('opening');
    expect(connection.at(-1)).toBe('closed');
    expect(connection.filter((state) => !CONNECTION_STATES.has(state))).toEqual([]);
  });
});
