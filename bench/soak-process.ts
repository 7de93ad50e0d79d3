/**
 * The soak's handle on its server process (soak-server.ts): start it, SIGKILL
 * it, start it again on the same port, and count the requests it received
 * per `seq` from the lines it prints, across every process it ran, and the
 * slow readers it dropped (lines `d`), the client's 1009 closes it saw (lines `o`) and the other ends of
 * connections that had called `oversize` (lines `e`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('./soak-server.ts', import.meta.url));
const NEWLINE = 10;
const SPACE = 32;
const D = 100;
const O = 111;
const E = 101;

export class SoakServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** ws://127.0.0.1:port, the same for every process once the first chose its port. */
  url = '';
  /** Processes that exited without being killed by us (a crash). */
  crashes = 0;
  /** The last words of a crashed process (its stderr tail). */
  crashOutput = '';
  /** Slow readers the server processes dropped with 1008. */
  slowReadersDropped = 0;
  /** Connections the soak's client closed with 1009, as the server processes saw them. */
  clientCloses1009 = 0;
  /** Connections that had called `oversize` and ended otherwise than closed with 1009, as the server processes saw them. */
  oversizeCallersOtherEnds = 0;

  /** @param received requests received per seq (saturating at 255), filled as the server reports them. */
  constructor(readonly received: Uint8Array) {}

  /** Starts a server process (on the port of the first one, once there was one) and waits until it listens. */
  async start(): Promise<void> {
    const port = this.url ? new URL(this.url).port : '0';
    const child = spawn(process.execPath, ['--import', 'tsx', entry, port], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let killed = false;
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4_000)));
    const ready = this.readLines(child);
    const closed = new Promise<void>((resolve) =>
      child.once('close', (code, signal) => {
        killed ||= signal === 'SIGKILL';
        if (!killed) {
          this.crashes++;
          this.crashOutput = `exit ${code ?? signal}: ${stderr}`;
        }
        resolve();
      }),
    );
    this.exited = closed;
    this.markKilled = () => (killed = true);
    const url = await Promise.race([ready, closed.then(() => Promise.reject(new Error(`soak server exited before listening: ${stderr}`)))]);
    this.url ||= url;
  }

  private markKilled = () => {};

  /** SIGKILLs the server process and waits until it is gone and all it printed is counted. */
  async kill(): Promise<void> {
    this.markKilled();
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** The running process's resident set size in bytes (from /proc, Linux), or undefined. */
  rss(): number | undefined {
    try {
      const status = readFileSync(`/proc/${this.child?.pid}/status`, 'latin1');
      const kB = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
      return kB === undefined ? undefined : Number(kB) * 1024;
    } catch {
      return undefined;
    }
  }

  /**
   * Parses the child's stdout: first `ready <url>`, then one seq (or `d`, `o`, `e`) per line,
   * counted without making a string per line (the soak measures its own heap).
   */
  private readLines(child: ChildProcess): Promise<string> {
    return new Promise((resolve) => {
      let header: number[] | undefined = [];
      let value = 0;
      child.stdout!.on('data', (chunk: Buffer) => {
        for (let i = 0; i < chunk.length; i++) {
          const byte = chunk[i]!;
          if (header) {
            if (byte !== NEWLINE) header.push(byte);
            else {
              const line = Buffer.from(header).toString('utf8');
              header = undefined;
              resolve(line.slice(line.indexOf(' ') + 1));
            }
          } else if (byte === D || byte === O || byte === E) {
            if (byte === D) this.slowReadersDropped++;
            else if (byte === O) this.clientCloses1009++;
            else this.oversizeCallersOtherEnds++;
            value = -1;
          } else if (byte === NEWLINE) {
            if (value >= 0 && value < this.received.length && this.received[value]! < 255) this.received[value] = this.received[value]! + 1;
            value = 0;
          } else if (byte !== SPACE) value = value * 10 + (byte - 48);
        }
      });
    });
  }
}
