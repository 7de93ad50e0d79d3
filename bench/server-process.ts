/** The client worker's handle on its server process, and the IPC messages between them. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export type ServerCommand = { id: number; cmd: 'held' | 'release' | 'cpu' | 'gcCount' | 'gcMs' | 'heap' | 'close' };
export type ServerMessage =
  { type: 'ready'; url: string } | { type: 'failed'; message: string } | { type: 'reply'; id: number; value: number };

const entry = fileURLToPath(new URL('./server.ts', import.meta.url));

export class ServerProcess {
  private nextId = 0;
  private readonly replies = new Map<number, (value: number) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {
    child.on('message', (message: ServerMessage) => {
      if (message.type !== 'reply') return;
      this.replies.get(message.id)?.(message.value);
      this.replies.delete(message.id);
    });
  }

  /** Forks the server of `system` and waits until it listens. */
  static start(system: string): Promise<ServerProcess> {
    const child = fork(entry, [system], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`server for ${system} exited (code ${code}) before listening`));
      child.once('exit', onExit);
      child.once('message', (message: ServerMessage) => {
        child.off('exit', onExit);
        if (message.type === 'ready') resolve(new ServerProcess(child, message.url));
        else if (message.type === 'failed') reject(new Error(`server for ${system} failed: ${message.message}`));
      });
    });
  }

  private command(cmd: ServerCommand['cmd']): Promise<number> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error('server process is gone'));
      this.replies.set(id, resolve);
      this.child.send({ id, cmd } satisfies ServerCommand);
    });
  }

  /** Requests to `hold` the server has received and not answered. */
  held(): Promise<number> {
    return this.command('held');
  }

  /** Answers every held request; resolves with how many. */
  release(): Promise<number> {
    return this.command('release');
  }

  /** The server process's CPU time so far (user + system), in µs. */
  cpu(): Promise<number> {
    return this.command('cpu');
  }

  /** The server process's GC pauses so far: how many, and their total duration in ms. */
  async gc(): Promise<{ count: number; ms: number }> {
    return { count: await this.command('gcCount'), ms: await this.command('gcMs') };
  }

  /** The server process's JS heap in use after a full collection, in bytes. */
  heap(): Promise<number> {
    return this.command('heap');
  }

  /** Waits until the server holds `count` requests (they are in flight until then). */
  async waitHeld(count: number): Promise<void> {
    while ((await this.held()) < count) await new Promise((resolve) => setTimeout(resolve, 2));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    // A server that does not finish closing in time is killed (this child only, by its handle).
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    if (this.child.connected) void this.command('close').catch(() => undefined);
    await exited;
    clearTimeout(kill);
  }
}
