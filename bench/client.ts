/**
 * The client worker: `node --expose-gc --import tsx bench/client.ts`, forked
 * by the orchestrator with its jobs (one system). It forks the system's server process,
 * measures from this process, stops the server and replies over IPC.
 */
import type {
  CapacityJob,
  CapacityOutcome,
  Job,
  Outcome,
  RateJob,
  RateOutcome,
  ThroughputJob,
  ThroughputOutcome,
  WorkerReply,
} from './jobs.js';
import { measureConnections, measureMemory, measureScale, measureStorm } from './measure/capacity.js';
import { closedLoop } from './measure/closed-loop.js';
import { coldStart } from './measure/cold.js';
import { openLoop, warmUp } from './measure/open-loop.js';
import { ServerProcess } from './server-process.js';
import { loadSystem } from './systems/index.js';

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function throughput(job: ThroughputJob, server: ServerProcess): Promise<ThroughputOutcome> {
  const system = await loadSystem(job.system);
  const client = await system.connect(server.url, { timeout: job.timeoutMs });
  const levels = [];
  await warmUp(client, job.warmupCalls);
  for (const concurrency of job.levels) levels.push(await closedLoop(client, server, concurrency, job.warmup, job.window));
  await client.close();
  return { kind: 'throughput', levels };
}

async function rate(job: RateJob, server: ServerProcess): Promise<RateOutcome> {
  const system = await loadSystem(job.system);
  const client = await system.connect(server.url, { timeout: job.timeoutMs });
  const rates = [];
  await warmUp(client, job.warmupCalls);
  for (const r of job.rates) {
    const windowMs = Math.max(job.windowMs, Math.ceil((job.minCalls / r) * 1_000));
    rates.push(await openLoop(client, server, r, job.warmupMs, windowMs));
  }
  await client.close();
  return { kind: 'rate', rates };
}

async function perform(job: Job, server: ServerProcess): Promise<Outcome> {
  switch (job.kind) {
    case 'throughput':
      return throughput(job, server);
    case 'capacity':
      return capacity(job, server);
    case 'rate':
      return rate(job, server);
    case 'cold':
      return { kind: 'cold', ...(await coldStart(job.system, server, job.timeoutMs)) };
  }
}

async function capacity(job: CapacityJob, server: ServerProcess): Promise<CapacityOutcome> {
  const system = await loadSystem(job.system);
  const outcome: CapacityOutcome = { kind: 'capacity', errors: [] };
  const section = async <T>(name: string, run: () => Promise<T>): Promise<T | undefined> => {
    try {
      await server.release(); // requests left held by an earlier section
      return await run();
    } catch (error) {
      outcome.errors.push({ section: name, message: message(error) });
      return undefined;
    }
  };
  // Memory first, on the freshest heap; each section on its own connection.
  const { memory, storm, scale, connections } = job;
  if (memory) outcome.memory = await section('memory', () => measureMemory(system, server, memory.pending, job.warmupCalls));
  if (storm) outcome.storm = await section('storm', () => measureStorm(system, server, storm.calls, storm.timeoutMs, job.warmupCalls));
  if (scale)
    outcome.scale = await section('scale', () => measureScale(system, server, scale.sizes, scale.repeats, scale.minCalls, job.warmupCalls));
  if (connections) outcome.connections = await section('connections', () => measureConnections(system, server, connections.count));
  return outcome;
}

/** Runs the jobs (all for one system) in order against one server process. */
async function run(jobs: Job[]): Promise<WorkerReply> {
  const server = await ServerProcess.start(jobs[0]!.system);
  try {
    const outcomes = [];
    for (const job of jobs) outcomes.push(await perform(job, server));
    return { ok: true, outcomes };
  } finally {
    await server.stop();
  }
}

process.once('message', (jobs: Job[]) => {
  void run(jobs)
    .catch((error: unknown): WorkerReply => ({ ok: false, message: message(error) }))
    .then((reply) => {
      process.send?.(reply, () => {
        process.disconnect();
        // Clients of some systems keep timers or sockets alive; the jobs are done.
        process.exit(0);
      });
    });
});
