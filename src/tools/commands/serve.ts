/**
 * `callstate serve <module>`: serves the methods an ES module exports (its
 * default export, or its `methods` export) over WebSocket, or as a NATS
 * responder, until SIGINT or SIGTERM.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { InspectionEvent } from 'xstate';
import { serve } from '../../server.js';
import type { InspectOption, Methods } from '../../types.js';
import { inspectTo } from '../inspect/api.js';
import { cutText } from '../../core/peer-text.js';
import { shownUrl } from '../../urls.js';
import { machineIdOf } from '../inspect/feed.js';
import { describeThrown, EXIT, hostFlag, integerFlag, out, parse, printable, untilStopped, UsageError } from './args.js';

/** Port of `callstate serve` when --port is not given. */
export const DEFAULT_SERVE_PORT = 8080;
/** How long Ctrl-C lets running calls answer, when --drain is not given. */
export const DEFAULT_DRAIN = 5_000;

export const SERVE_USAGE = `usage: callstate serve <module> [options]

Serves the methods of an ES module: its default export, or its "methods" export, is
an object of handlers ({ add: ([a, b]) => a + b }). Prints the URL (WebSocket, and
JSON-RPC over HTTP POST on the same port); Ctrl-C (SIGINT) or SIGTERM drains the
server (no new calls, running ones may answer) and exits 0.

options:
  --port N              WebSocket port (default ${DEFAULT_SERVE_PORT}; 0 picks a free one)
  --host H              interface to listen on (default 127.0.0.1)
  --nats URL            be a NATS responder on this nats-server instead (needs --subject)
  --subject S           the NATS subject to answer on
  --queue Q             the NATS queue group (default callstate)
  --drain MS            on Ctrl-C, let running calls answer for up to MS ms (default ${DEFAULT_DRAIN})
  --log                 print one line per call: method, id, final state, duration
  --inspect URL         stream calls to a running \`callstate inspect\` page (http://host:port)
  --json                print the URL and log lines as JSON objects
  -h, --help            show this help`;

const FLAGS = {
  port: { type: 'string' },
  host: { type: 'string' },
  nats: { type: 'string' },
  subject: { type: 'string' },
  queue: { type: 'string' },
  drain: { type: 'string' },
  log: { type: 'boolean' },
  inspect: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * `promise`, or a rejection with `error()` once nothing else is left for the process to wait on: a module whose
 * top-level await never settles (it awaits an event nothing will send) leaves its import() pending with nothing
 * scheduled, and Node exits 0 without a word, as if serve had been stopped on purpose.
 */
function orIdle<T>(promise: Promise<T>, error: () => Error): Promise<T> {
  let onIdle: (() => void) | undefined;
  const idle = new Promise<never>((_resolve, reject) => {
    onIdle = () => reject(error());
    process.once('beforeExit', onIdle);
  });
  return Promise.race([promise, idle]).finally(() => process.off('beforeExit', onIdle!));
}

/**
 * What to do about a TypeScript module the Node running the command cannot load (before type stripping, Node 22.6):
 * its own words, `Unknown file extension ".ts"`, do not say that callstate can serve it once compiled or under tsx.
 */
function typeScriptHint(path: string, error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !/\.[cm]?tsx?$/i.test(path)) return '';
  return `: this Node runs no TypeScript; serve the module compiled to JavaScript (tsc), or run the command under tsx: npx tsx node_modules/.bin/callstate serve ${path}`;
}

/**
 * The methods object a module exports, in an object of its own: returned as it is from an async function, a methods
 * object with a `then` (a method named "then", or a Proxy answering every name) was taken for a promise, its `then`
 * called as one, and, never settling, serve exited 0 without a word.
 */
async function loadMethods(path: string): Promise<{ methods: Methods }> {
  let module: { default?: unknown; methods?: unknown };
  try {
    const loading = import(pathToFileURL(resolve(path)).href) as Promise<typeof module>;
    module = await orIdle(loading, () => new Error('its top-level await never settles (nothing is left to wait on)'));
  } catch (error) {
    // A module may throw anything: a string, null, an object without a message.
    throw new Error(`cannot load ${path}: ${describeThrown(error)}${typeScriptHint(path, error)}`);
  }
  const methods = module.methods ?? module.default;
  if (Array.isArray(methods)) throw new UsageError(`${path} exports an array, not a methods object ({ name: handler })`);
  if (methods === null || typeof methods !== 'object')
    throw new UsageError(`${path} exports no methods object (default or "methods" export)`);
  return { methods: methods as Methods };
}

/**
 * An inspection observer that prints one line when an incoming call ends: method,
 * id, final state and how long it ran (from its first snapshot to its last).
 */
export function callLog(write: (line: string) => void, json: boolean, now: () => number = Date.now): (event: InspectionEvent) => void {
  const started = new Map<string, number>();
  return (event) => {
    if (event.type !== '@xstate.snapshot' || machineIdOf(event.actorRef) !== 'incomingCall') return;
    const sid = event.actorRef.sessionId;
    const snapshot = event.snapshot as { status?: string; value?: unknown; context?: { method?: unknown; id?: unknown } };
    if (!started.has(sid)) started.set(sid, now());
    if (snapshot.status === 'active') return;
    const ms = now() - started.get(sid)!;
    started.delete(sid);
    // The method and id are the peer's: cut, and escaped (in JSON too, which leaves C1 and bidirectional controls).
    const id = snapshot.context?.id;
    const entry = {
      method: cutText(String(snapshot.context?.method)),
      id: typeof id === 'string' ? cutText(id) : (id ?? null),
      state: String(snapshot.value),
      ms,
    };
    write(printable(json ? JSON.stringify(entry) : `${entry.method} id=${JSON.stringify(entry.id)} ${entry.state} ${ms} ms`));
  };
}

/** Every observer asked for, as one (or none). */
function observers(list: Array<((event: InspectionEvent) => void) | undefined>): InspectOption | undefined {
  const present = list.filter((o) => o !== undefined);
  if (present.length === 0) return undefined;
  return (event: InspectionEvent) => {
    for (const observer of present) observer(event);
  };
}

/**
 * What the served module throws outside any call (a promise it left to reject, a throw in a timer of its own), as
 * the error that ends `serve`: one line, where it was thrown, exit 4. Node's default printed a stack and exited 1,
 * the code that means the server answered with an error. Its state unknown past that, the process is not kept serving.
 */
function watchCrashes(): { crashed: Promise<Error>; stop(): void } {
  let onCrash: (thrown: unknown) => void = () => {};
  const crashed = new Promise<Error>((resolve) => {
    onCrash = (thrown) => {
      let where = '';
      try {
        const frame = thrown instanceof Error ? thrown.stack?.split('\n').find((line) => /^\s+at /.test(line)) : undefined;
        if (frame !== undefined) where = `, ${frame.trim()}`;
      } catch {
        // A stack that cannot be read: the message alone.
      }
      resolve(new Error(`the module threw outside a call: ${describeThrown(thrown)}${where}`));
    };
  });
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
  return {
    crashed,
    stop: () => {
      process.off('uncaughtException', onCrash);
      process.off('unhandledRejection', onCrash);
    },
  };
}

export async function runServe(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, FLAGS, { min: 1, max: 1 });
  if (values.help) {
    out(SERVE_USAGE);
    return EXIT.ok;
  }
  const json = values.json === true;
  const port = integerFlag(values.port, 'port', 0, 65_535);
  const host = hostFlag(values.host);
  const drain = integerFlag(values.drain, 'drain', 0, 2 ** 31 - 1) ?? DEFAULT_DRAIN;
  if (values.nats === undefined && (values.subject !== undefined || values.queue !== undefined)) {
    throw new UsageError('--subject and --queue go with --nats');
  }
  if (values.nats !== undefined && (port !== undefined || host !== undefined))
    throw new UsageError('--port and --host do not go with --nats');
  if (values.nats !== undefined && values.subject === undefined) throw new UsageError('--nats needs --subject');
  let stream: ReturnType<typeof inspectTo> | undefined;
  try {
    stream = values.inspect === undefined ? undefined : inspectTo(values.inspect as string);
  } catch (error) {
    throw new UsageError(`--inspect: ${(error as Error).message}`);
  }
  const { crashed, stop } = watchCrashes();
  try {
    const inspect = observers([values.log ? callLog(out, json) : undefined, stream?.inspect]);
    const { methods } = await Promise.race([loadMethods(positionals[0]!), crashed.then((error) => Promise.reject(error))]);

    let server: { close(options?: { drain?: number }): Promise<void> };
    let shown: Record<string, unknown>;
    /** Why the server ended on its own, if it does: a NATS responder whose nats-server went away (it does not reconnect). */
    let lost = new Promise<unknown>(() => {});
    try {
      if (values.nats !== undefined) {
        const nats = await serve({
          nats: values.nats as string,
          subject: values.subject as string,
          methods,
          ...(values.queue === undefined ? {} : { queue: values.queue as string }),
          ...(inspect === undefined ? {} : { inspect }),
        });
        server = nats;
        // The line is printed and logged: a password or token in the nats-server URL is not.
        shown = { url: shownUrl(nats.url), subject: nats.subject, queue: nats.queue };
        lost = new Promise((resolve) => nats.once('close', ({ error }) => error !== undefined && resolve(error)));
      } else {
        const ws = await serve({
          port: port ?? DEFAULT_SERVE_PORT,
          host: host ?? '127.0.0.1',
          methods,
          ...(inspect === undefined ? {} : { inspect }),
        });
        server = ws;
        shown = { url: ws.url, httpUrl: ws.httpUrl };
      }
    } catch (error) {
      await stream?.close();
      // What serve() refuses before it starts (a subject with a wildcard, a queue with a space) is a command-line mistake.
      throw error instanceof TypeError || error instanceof RangeError ? new UsageError(error.message) : error;
    }
    const detail = shown.subject === undefined ? '' : ` subject ${String(shown.subject)} queue ${String(shown.queue)}`;
    out(json ? JSON.stringify(shown) : `callstate serve: ${String(shown.url)}${detail} (Ctrl-C to stop)`);
    const ended = await Promise.race([untilStopped().then(() => undefined), lost, crashed]);
    if (ended !== undefined) {
      // A module that crashed leaves its server listening: it takes no more calls (the process exits).
      void server.close().catch(() => {});
      // Exiting 0 would tell a supervisor that it was stopped on purpose: nothing answers on the subject any more.
      await stream?.close();
      throw ended;
    }
    // New calls are refused ("server closing") while running ones answer, for up to `drain` ms.
    const drained = server.close({ drain }).then(() => undefined);
    const crash = await Promise.race([drained, crashed]);
    if (crash !== undefined) throw crash;
    await stream?.close();
    return EXIT.ok;
  } finally {
    stop();
  }
}
