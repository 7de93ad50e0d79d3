/**
 * A nats-server for the NATS systems: each bench server process starts its
 * own on a free loopback port (Debian's `nats-server` on the PATH) and stops it on close.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect as tcpConnect, type AddressInfo } from 'node:net';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

export interface NatsServerProcess {
  url: string;
  stop(): Promise<void>;
}

export async function startNatsServer(): Promise<NatsServerProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (error) => reject(new Error(`cannot start nats-server (apt-get install nats-server): ${error.message}`))),
  );
  for (let i = 0; i < 200; i++) {
    if (await Promise.race([accepts(port), failed])) {
      return {
        url: `nats://127.0.0.1:${port}`,
        stop: async () => {
          if (child.exitCode !== null) return;
          child.kill('SIGTERM');
          await once(child, 'exit');
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  throw new Error('nats-server did not start listening');
}
