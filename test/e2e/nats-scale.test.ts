import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock } from 'xstate';
import { connect, serve, NoRespondersError, TimeoutError, type Client, type NatsServer } from '../../src/index.js';
import { settle } from '../helpers.js';
import { eventually, startNatsCluster, startNatsServer, type NatsServerProcess } from '../nats-helpers.js';

let client: Client | undefined;
let responders: NatsServer[] = [];
let servers: NatsServerProcess[] = [];
let children: ChildProcess[] = [];

// One hook, in order: clients and responders close while nats-server still runs, then the servers stop.
afterEach(async () => {
  for (const item of [client, ...responders]) await item?.close();
  client = undefined;
  responders = [];
  for (const child of children) child.kill('SIGKILL');
  children = [];
  await Promise.all(servers.map((server) => server.stop()));
  servers = [];
});

const fixture = fileURLToPath(new URL('../fixtures/nats-responder.ts', import.meta.url));

/** A responder process: resolves once it is subscribed; counts the `hold` calls it has started. */
async function spawnResponder(url: string, subject: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, url, subject], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.push(child);
  const responder = { child, pid: child.pid!, held: 0 };
  const lines = createInterface({ input: child.stdout! });
  const ready = once(lines, 'line');
  lines.on('line', (line) => line === 'held' && responder.held++);
  expect(await ready).toEqual(['ready']);
  return responder;
}

describe('NATS responders in other processes', () => {
  it('a responder killed mid-run: its calls time out, the others are answered, and later calls go to the survivors', async () => {
    const nats = await startNatsServer();
    servers.push(nats);
    const subject = 'work.jobs';
    const group = await Promise.all([0, 1, 2].map(() => spawnResponder(nats.url, subject)));
    const clock = new SimulatedClock();
    client = connect(nats.url, { subject, clock, timeout: 5_000 });

    // Load shared: every process answers some of 90 calls.
    const pids = await Promise.all(Array.from({ length: 90 }, () => client!.request('pid') as Promise<number>));
    for (const { pid } of group) expect(pids).toContain(pid);

    // 30 calls held by the three processes; then one holding some of them dies.
    const held = Array.from({ length: 30 }, () => settle(client!.request('hold') as Promise<number>));
    await eventually(async () => group.reduce((n, r) => n + r.held, 0) === 30, 'all 30 calls to be held');
    const victim = group.find((r) => r.held > 0)!;
    const survivors = group.filter((r) => r !== victim);
    const lost = victim.held;
    victim.child.kill('SIGKILL');
    await once(victim.child, 'exit');
    for (const survivor of survivors) survivor.child.stdin!.write('release\n');

    await eventually(async () => client!.pendingCalls === lost, 'the survivors to answer their calls');
    clock.increment(5_000);
    const outcomes = await Promise.all(held);
    const answered = outcomes.filter((o) => o.error === undefined).map((o) => o.value);
    const failed = outcomes.filter((o) => o.error !== undefined).map((o) => o.error);
    expect(answered.length).toBe(30 - lost);
    expect(answered.every((pid) => survivors.some((s) => s.pid === pid))).toBe(true);
    expect(failed.length).toBe(lost);
    for (const error of failed) expect(error).toBeInstanceOf(TimeoutError);

    // Once nats-server has dropped the dead process, every call goes to the two others.
    await eventually(async () => (await nats.monitor('connz')).num_connections === 3, 'nats-server to drop the killed responder');
    const after = await Promise.all(Array.from({ length: 60 }, () => client!.request('pid') as Promise<number>));
    expect(new Set(after)).toEqual(new Set(survivors.map((s) => s.pid)));
    expect(client.pendingCalls).toBe(0);
  });
});

describe('a cluster of 3 nats-server nodes', () => {
  it('responders on one node answer a client connected to another', async () => {
    servers = await startNatsCluster(3);
    const [a, , c] = servers as [NatsServerProcess, NatsServerProcess, NatsServerProcess];
    const subject = 'cluster.svc';
    const counts = [0, 0];
    for (const i of [0, 1]) {
      responders.push(await serve({ nats: a.url, subject, queue: 'workers', methods: { where: () => (counts[i]!++, `node-a/${i}`) } }));
    }
    client = connect(c.url, { subject });
    // The responders' interest reaches node C over the routes shortly: until then NATS answers 503.
    await eventually(async () => {
      const { error } = await settle(client!.request('where'));
      if (error !== undefined && !(error instanceof NoRespondersError)) throw error;
      return error === undefined;
    }, 'the subscription to reach node C');
    const before = counts[0]! + counts[1]!;
    const answers = await Promise.all(Array.from({ length: 100 }, () => client!.request('where')));
    expect(new Set(answers)).toEqual(new Set(['node-a/0', 'node-a/1']));
    expect(counts[0]! + counts[1]! - before).toBe(100);
  });
});
