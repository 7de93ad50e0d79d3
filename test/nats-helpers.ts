/**
 * Real nats-server processes for the NATS tests: each on free loopback ports
 * (found by binding port 0 first), with its monitoring endpoint, killed after.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect as tcpConnect, createServer } from 'node:net';
import { delimiter } from 'node:path';
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';

export interface NatsServerProcess {
  /** nats://127.0.0.1:PORT */
  readonly url: string;
  readonly process: ChildProcess;
  /** GETs a monitoring endpoint (`connz`, `routez`, `subsz`…) as JSON. */
  monitor(endpoint: string): Promise<any>;
  /** Kills the server and waits for it to exit. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `count` distinct free ports: every probe stays bound until all are chosen
 * (ports probed one after another can come back equal once released).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer().listen(0, '127.0.0.1'));
  await Promise.all(servers.map((server) => once(server, 'listening')));
  const ports = servers.map((server) => (server.address() as { port: number }).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `attempt` until it returns true; polls (no assertion on time), bounded by `tries`. */
export async function eventually(attempt: () => Promise<boolean>, what: string, tries = 200): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await attempt().catch(() => false)) return;
    await sleep(25);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * Starts `nats-server -a 127.0.0.1 -p <free port> -m <free port>`, plus any
 * extra arguments (cluster flags), and resolves once its monitor answers.
 */
export async function startNatsServer(extraArgs: string[] = [], ports?: { port: number; monitor: number }): Promise<NatsServerProcess> {
  if (ports) return startNatsServerOn(extraArgs, ports.port, ports.monitor);
  // Ports chosen here may be taken by another process before nats-server binds them: try fresh ones.
  for (let attempt = 1; ; attempt++) {
    const [port, monitor] = await freePorts(2);
    try {
      return await startNatsServerOn(extraArgs, port!, monitor!);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startNatsServerOn(extraArgs: string[], port: number, monitorPort: number): Promise<NatsServerProcess> {
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort), ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Debian installs it in /usr/sbin, which a user's PATH often lacks.
    env: { ...process.env, PATH: [process.env.PATH, '/usr/local/sbin', '/usr/sbin'].join(delimiter) },
  });
  let log = '';
  child.stderr!.on('data', (chunk) => (log += chunk));
  const exited = once(child, 'exit');
  const monitor = async (endpoint: string) => {
    const response = await fetch(`http://127.0.0.1:${monitorPort}/${endpoint}`);
    return response.json();
  };
  try {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`nats-server exited: ${log}`);
      return ((await monitor('varz')) as { port?: number }).port === port;
    }, `nats-server on port ${port}`);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${log}`);
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    process: child,
    monitor,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/**
 * Three nats-server nodes routed to each other on loopback; resolves once every
 * node has its two routes. A port taken by another process between choosing it
 * and binding it fails one attempt; it is tried again with fresh ports.
 */
export async function startNatsCluster(size = 3, attempts = 3): Promise<NatsServerProcess[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNatsClusterOnce(size);
    } catch (error) {
      if (attempt >= attempts || !/address already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startNatsClusterOnce(size: number): Promise<NatsServerProcess[]> {
  const ports = await freePorts(size * 3);
  const nodes = Array.from({ length: size }, (_, i) => ({ port: ports[3 * i]!, monitor: ports[3 * i + 1]!, cluster: ports[3 * i + 2]! }));
  const started = await Promise.allSettled(
    nodes.map((node, i) =>
      startNatsServer(
        [
          '--cluster_name',
          'callstate-test',
          '--cluster',
          `nats://127.0.0.1:${node.cluster}`,
          '--routes',
          nodes
            .filter((_, j) => j !== i)
            .map((other) => `nats://127.0.0.1:${other.cluster}`)
            .join(','),
        ],
        node,
      ),
    ),
  );
  const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failure = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failure) {
    await Promise.all(servers.map((server) => server.stop()));
    throw failure.reason;
  }
  try {
    for (const server of servers) {
      await eventually(async () => (await server.monitor('routez')).num_routes === size - 1, 'the cluster routes');
    }
  } catch (error) {
    await Promise.all(servers.map((server) => server.stop()));
    throw error;
  }
  return servers;
}

/**
 * One nats-server for the tests of a file or a describe block, started before them and
 * stopped after, with a plain nats.js connection to it for publishing raw frames.
 */
export function useNatsServer(): { readonly url: string; readonly raw: NatsConnection } {
  let nats: NatsServerProcess | undefined;
  let raw: NatsConnection | undefined;
  beforeAll(async () => {
    nats = await startNatsServer();
    raw = await natsConnect({ servers: nats.url });
  });
  afterAll(async () => {
    await raw?.close();
    await nats?.stop();
  });
  return {
    get url() {
      return nats!.url;
    },
    get raw() {
      return raw!;
    },
  };
}

/**
 * Publishes one message to nats-server over a bare TCP connection, its header block as given: nats.js refuses to
 * publish headers it would not parse (a header name with a space), nats-server carries them. Resolves once
 * nats-server has processed it (the PONG to a PING sent after it).
 */
export async function publishRaw(url: string, subject: string, headerBlock: string, body = '', reply?: string): Promise<void> {
  const { hostname, port } = new URL(url.replace(/^nats:/, 'http:'));
  const socket = tcpConnect(Number(port), hostname);
  try {
    await once(socket, 'connect');
    let received = '';
    socket.on('data', (chunk) => (received += chunk));
    const header = Buffer.from(headerBlock);
    const payload = Buffer.from(body);
    socket.write('CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\n');
    socket.write(`HPUB ${subject}${reply ? ` ${reply}` : ''} ${header.length} ${header.length + payload.length}\r\n`);
    socket.write(Buffer.concat([header, payload, Buffer.from('\r\nPING\r\n')]));
    await eventually(async () => received.includes('PONG'), 'the PONG after a raw publish');
    if (received.includes('-ERR')) throw new Error(`nats-server refused the raw publish: ${received}`);
  } finally {
    socket.destroy();
  }
}
