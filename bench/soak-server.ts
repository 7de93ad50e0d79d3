/**
 * The soak's server, in its own process so that the soak can SIGKILL it:
 * `node --import tsx bench/soak-server.ts [port]`. Prints `ready <url>`, then
 * one line per request it receives, the request's `seq` param, written
 * before the handler runs. Writes to a pipe are synchronous on Linux, so a
 * request the server saw is on record even when the process is killed right
 * after; the soak counts them to find requests sent twice.
 */
import type { HandlerContext } from '../src/index.js';
import { serve, type Peer } from '../src/index.js';
import { serverJunk } from './soak-junk.js';

interface SoakParams {
  seq?: number;
  tag?: number;
}

/** Puts a request's `seq` on record (stdout), if it carries one (hostile frames may not). */
function record(params: SoakParams | undefined): void {
  if (typeof params?.seq === 'number') process.stdout.write(`${params.seq}\n`);
}

let junkCount = 0;

const port = Number(process.argv[2] ?? 0);
const server = await serve({
  port,
  heartbeat: 0,
  methods: {
    echo: (params: SoakParams) => (record(params), params),
    /** Never answers; ends when the caller cancels or the connection closes. */
    hang: (params: SoakParams, ctx: HandlerContext) => {
      record(params);
      return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('cancelled'))));
    },
    /** Drops the caller's socket at once, without a close frame (the call is never answered). */
    drop: (params: SoakParams, ctx: HandlerContext) => {
      record(params);
      void (ctx.peer as Peer).terminate();
      return params;
    },
    /** Writes hostile frames to the caller, then answers like echo. */
    hostile: (params: SoakParams, ctx: HandlerContext) => {
      record(params);
      const peer = ctx.peer as Peer;
      for (let i = 0; i < 3; i++) peer.sendRaw(serverJunk(junkCount++));
      return params;
    },
  },
});
process.stdout.write(`ready ${server.url}\n`);
