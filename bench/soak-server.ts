/**
 * The soak's server, in its own process so that the soak can SIGKILL it:
 * `node --import tsx bench/soak-server.ts [port]`. Prints `ready <url>`, then
 * one line per request it receives, the request's `seq` param, written
 * before the handler runs. Writes to a pipe are synchronous on Linux, so a
 * request the server saw is on record even when the process is killed right
 * after; the soak counts them to find requests sent twice. A line `d` says
 * a slow reader (a peer that called `big`) was dropped with 1008; a line `o`,
 * that the soak's client closed with 1009 after a call to `oversize`; `e`, that
 * such a connection ended otherwise.
 *
 * Its send limits are small, so that slow readers are dropped within seconds:
 * highWaterMark 1 MiB, maxBufferedAmount 8 MiB, drainTimeout 1 s.
 */
import type { HandlerContext } from '../src/index.js';
import { serve, type Peer } from '../src/index.js';
import { serverJunk } from './soak-junk.js';
import { poisonHandler } from './soak-poison.js';

interface SoakParams {
  seq?: number;
  tag?: number;
  /** Which hostile value `poison` produces. */
  case?: number;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** Peers that called `big` (the slow readers), and those that called `oversize` (the soak's client). */
const bigCallers = new WeakSet<Peer>();
const oversizeCallers = new WeakSet<Peer>();

/**
 * Watches a slow reader: a call to it that is never answered fails when its
 * connection ends, with the close code this side chose (1008 when dropped for
 * not reading). The peer's `close` event cannot tell: it reports what the
 * socket did (1006, the close handshake never completing).
 */
function watchSlowReader(peer: Peer): void {
  if (bigCallers.has(peer)) return;
  bigCallers.add(peer);
  peer.request('status', undefined, { timeout: 600_000 }).catch((error: { closeCode?: number }) => {
    if (error.closeCode === 1008) process.stdout.write('d\n');
  });
}

/**
 * Puts on record how a connection that called `oversize` ended: `o` when the soak's client closed it with 1009 (it
 * refused an answer over its maxPayload), `e` otherwise. A refused connection can end otherwise here: on a loaded
 * machine the client's close frame may come too late, its socket gone (1006) before this side read it.
 */
function watchOversizeCaller(peer: Peer): void {
  if (oversizeCallers.has(peer)) return;
  oversizeCallers.add(peer);
  peer.on('close', ({ code }) => process.stdout.write(code === 1009 ? 'o\n' : 'e\n'));
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
  highWaterMark: MiB,
  maxBufferedAmount: 8 * MiB,
  drainTimeout: 1_000,
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
    /** A large answer, asked for by slow readers (raw connections, no seq). */
    big: (_params: unknown, ctx: HandlerContext) => (watchSlowReader(ctx.peer as Peer), 'x'.repeat(256 * KiB)),
    /** An answer larger than the soak client's maxPayload (1 MiB): the client closes with 1009. */
    oversize: (params: SoakParams, ctx: HandlerContext) => {
      record(params);
      watchOversizeCaller(ctx.peer as Peer);
      return { ...params, padding: 'x'.repeat(2 * MiB) };
    },
    /** Returns, throws, resolves or rejects a hostile value (soak-poison.ts). */
    poison: (params: SoakParams) => (record(params), poisonHandler(params.case ?? 0)),
  },
});
process.stdout.write(`ready ${server.url}\n`);
