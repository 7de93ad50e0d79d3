/**
 * The server process is killed with SIGKILL while calls are in flight, then a
 * new one starts on the same port. The client reconnects: calls written on the
 * lost connection fail with ConnectionClosedError unless marked retry, retry
 * calls are sent again, calls made meanwhile wait in queued and go out once it
 * is back, and nothing is replayed behind the caller's back: both server
 * processes report every request they see, and each is counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { connect, ConnectionClosedError, type Client, type ReconnectingEvent } from '../../src/index.js';
import { settle } from '../helpers.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/counting-server.ts', import.meta.url));

/** A request a server process saw: the call's id and its params (each call here has its own). */
interface Seen {
  id: string;
  params: string;
}

/** A counting server process: its URL, the requests it has seen, and a wait for the count to reach n. */
async function startServer(port: number, mode: 'answer' | 'hang') {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, String(port), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const seen: Seen[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let resolveUrl!: (url: string) => void;
  const url = new Promise<string>((resolve) => (resolveUrl = resolve));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (!line.startsWith('seen ')) return resolveUrl(line);
    const [, id, params] = /^seen (\S+) (.*)$/.exec(line)!;
    seen.push({ id: id!, params: params! });
    for (const waiter of waiters) if (seen.length >= waiter.n) waiter.resolve();
  });
  const exited = once(child, 'exit').then(() => Promise.reject(new Error(`the server on port ${port} exited`)));
  const seenAtLeast = (n: number) => new Promise<void>((resolve) => (seen.length >= n ? resolve() : waiters.push({ n, resolve })));
  return { child, url: await Promise.race([url, exited]), seen, seenAtLeast };
}

const children: ChildProcess[] = [];
let client: Client | undefined;
afterEach(async () => {
  await client?.terminate();
  client = undefined;
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

const tag = (params: object) => JSON.stringify(params);

describe('server killed mid-call and restarted: reconnect', () => {
  it(
    'fails calls written on the lost connection, re-sends retry calls, sends queued ones, replays nothing else',
    { timeout: 60_000 },
    async () => {
      const first = await startServer(0, 'hang');
      const port = Number(new URL(first.url).port);
      client = connect(first.url, { reconnect: { initialDelay: 20, maxDelay: 200 }, timeout: 30_000, heartbeat: 0 });
      const reconnecting: ReconnectingEvent[] = [];
      client.on('reconnecting', (event) => reconnecting.push(event));
      await client.ready;
      expect(client.epoch).toBe(1);

      // Three plain calls and two retry calls in flight; the first server never answers.
      const plain = [1, 2, 3].map((n) => settle(client!.request('echo', { plain: n })));
      const retried = [1, 2].map((n) => settle(client!.request('echo', { retried: n }, { retry: true })));
      await first.seenAtLeast(5);

      first.child.kill('SIGKILL');
      for (const { error } of await Promise.all(plain)) {
        expect(error).toBeInstanceOf(ConnectionClosedError);
        expect(error.closeCode).toBe(1006);
        expect(error.message).toMatch(
          /was lost after the call was written \(code 1006\); it is reconnecting, and a call is re-sent only with \{ retry: true \}$/,
        );
      }
      expect(client.state).toBe('connecting');
      expect(client.reconnecting).toBe(true);
      expect(reconnecting[0]).toMatchObject({ attempt: 1, code: 1006 });

      // Made while reconnecting: they wait in queued, behind the two retry calls.
      const queued = [1, 2].map((n) => settle(client!.request('echo', { queued: n })));
      expect(client.queuedCalls).toBe(4);
      expect(client.pendingCalls).toBe(4);

      const second = await startServer(port, 'answer');
      const outcomes = await Promise.all([...retried, ...queued]);
      expect(outcomes.map((o) => o.value)).toEqual([{ retried: 1 }, { retried: 2 }, { queued: 1 }, { queued: 2 }]);
      expect(client.epoch).toBe(2);
      expect([client.pendingCalls, client.queuedCalls]).toEqual([0, 0]);
      expect(reconnecting.length).toBeGreaterThanOrEqual(1);

      // Every request each server saw, in order: no call was replayed except the retry ones, with the same ids. The
      // answers came by socket, the reports by the child's stdout: wait for the reports (more would fail below).
      await second.seenAtLeast(4);
      const plainTags = [1, 2, 3].map((n) => tag({ plain: n }));
      const retryTags = [1, 2].map((n) => tag({ retried: n }));
      const queuedTags = [1, 2].map((n) => tag({ queued: n }));
      expect(first.seen.map((s) => s.params).sort()).toEqual([...plainTags, ...retryTags].sort());
      expect(second.seen.map((s) => s.params)).toEqual([...retryTags, ...queuedTags]);
      const idOf = (seen: Seen[], t: string) => seen.find((s) => s.params === t)!.id;
      expect(retryTags.map((t) => idOf(second.seen, t))).toEqual(retryTags.map((t) => idOf(first.seen, t)));
      expect(new Set([...first.seen, ...second.seen].map((s) => s.id)).size).toBe(3 + 2 + 2);
    },
  );
});
