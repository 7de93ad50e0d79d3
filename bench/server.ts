/**
 * The server process: `node --import tsx bench/server.ts <system>`, forked by
 * a client worker. Reports its URL over IPC, then answers control commands
 * (held count, release, CPU usage, GC pauses, heap, close) over IPC, outside the system under test.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { GcCounter } from './measure/open-loop.js';
import { loadSystem } from './systems/index.js';
import { Held } from './systems/types.js';
import type { ServerCommand, ServerMessage } from './server-process.js';

function send(message: ServerMessage): void {
  process.send?.(message);
}

const name = process.argv[2] ?? '';
const gc = new GcCounter().start();
try {
  const system = await loadSystem(name);
  const held = new Held();
  const server = await system.serve(held);
  process.on('message', (message: ServerCommand) => {
    switch (message.cmd) {
      case 'held':
        return send({ type: 'reply', id: message.id, value: held.size });
      case 'release':
        return send({ type: 'reply', id: message.id, value: held.release() });
      case 'cpu': {
        const { user, system: sys } = process.cpuUsage();
        return send({ type: 'reply', id: message.id, value: user + sys });
      }
      case 'gcCount':
        return send({ type: 'reply', id: message.id, value: gc.count });
      case 'gcMs':
        return send({ type: 'reply', id: message.id, value: gc.ms });
      case 'heap':
        return send({ type: 'reply', id: message.id, value: heapAfterGc() });
      case 'close':
        // Held requests are dropped, not answered: the process ends here.
        void server.close().finally(() => {
          send({ type: 'reply', id: message.id, value: 0 });
          process.disconnect();
          process.exit(0);
        });
    }
  });
  send({ type: 'ready', url: server.url });
} catch (error) {
  send({ type: 'failed', message: error instanceof Error ? error.message : String(error) });
  process.exitCode = 1;
  process.disconnect();
}

/** The heap in use after two full collections (the process runs without --expose-gc: the flag is set here). */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
