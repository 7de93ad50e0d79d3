/**
 * The page server: an HTTP server for one self-contained page, the model it
 * shows, and its two streams:
 *
 *   GET  /            the page
 *   GET  /model.json  the current model (what a newly opened page starts from)
 *   ws   /events      { model } once, then { events: [...] } batches, every 100 ms at most
 *   POST /ingest      { source, events } from another process (`inspectTo`)
 *
 * In-process observers call `emit`; other processes POST to /ingest. Both
 * admit only the page's own origin, and tools that send no Origin: any other
 * website open in the same browser could otherwise read the feed or write to it.
 * Both are bounded in number: each viewer costs a socket and a share of every
 * batch, each ingest being read up to 1 MiB; past the bound, HTTP 503 says which.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { attachBroadcast, type Broadcast } from '../../transports/broadcast.js';
import { urlHost } from '../../transports/url-host.js';
import { optionalHost, optionalInteger } from '../../validate.js';
import { checkBatch, MAX_INGEST_BYTES } from './ingest.js';
import { applyEvent, emptyModel, type PageEvent, type PageModel } from './model.js';
import { pageHtml } from './page.js';
import { countOf } from '../../words.js';

/** How often batched events go to the pages, in ms. */
const FLUSH_EVERY = 100;
/**
 * Viewers of one page when `maxViewers` is not given: far more browser tabs and tools than anyone
 * watches one application with, and few enough that every batch's copies stay small (64 frames of
 * each batch, each viewer's backlog capped at 4 MiB before it is dropped).
 */
export const DEFAULT_MAX_VIEWERS = 64;
/**
 * Ingest requests read at once when `maxIngests` is not given. A streaming process sends one batch at
 * a time (`inspectTo`), read in a few ms, so 16 at once is more than many processes need; a request
 * holds up to 1 MiB while it is read, so 16 hold at most 16 MiB.
 */
export const DEFAULT_MAX_INGESTS = 16;
/**
 * How long an ingest request may take to arrive whole once admitted, in ms: past it, it is answered 408 and its
 * connection closed. A batch of at most 1 MiB from a local process arrives in milliseconds; a sender that trickles its
 * body would otherwise hold its slot (one of `maxIngests`) for Node's `requestTimeout`, 300 s.
 */
export const INGEST_TIMEOUT = 10_000;
/**
 * How often each viewer is pinged, in ms; one that has not answered by the next ping is dropped, so a
 * viewer gone without closing (a laptop put to sleep) gives its place back within two intervals.
 */
export const VIEWER_HEARTBEAT = 30_000;
/**
 * TCP connections the page server holds past `maxViewers` + `maxIngests`: for loading the page, `/model.json` and the
 * 503s of viewers and ingests past their limits. One more is dropped as it is accepted; without a bound, idle
 * connections were held only by Node's `headersTimeout` (60 s), as many as anyone opened.
 */
export const SPARE_CONNECTIONS = 64;

export interface PageServerOptions {
  /** Port of the page; 0 picks a free one. Default: 0. */
  port?: number;
  /** Interface to listen on ('0.0.0.0' or '::' for every interface; not empty). Default: '127.0.0.1'. */
  host?: string;
  /** Viewers of the event stream connected at once (pages open, tools); one more is refused with HTTP 503. Default: 64. */
  maxViewers?: number;
  /** `POST /ingest` requests read at once (from `inspectTo`); one more is answered 503, and the batch counted as dropped by its sender. Default: 16. */
  maxIngests?: number;
}

export interface PageServer {
  /** `http://host:port/`. */
  readonly url: string;
  readonly port: number;
  /** What the page shows now. */
  readonly model: PageModel;
  /** Viewers of the event stream connected now. */
  readonly viewers: number;
  /** Applies one event to the model and queues it for the pages. */
  emit(event: PageEvent): void;
  /** Sends what is queued, stops accepting, and closes every page's stream. */
  close(): Promise<void>;
}

/** Starts the page server; rejects when it cannot listen (EADDRINUSE, say). */
export async function startPageServer(options: PageServerOptions = {}): Promise<PageServer> {
  const port = optionalInteger(options.port, 'options.port', 0, 0, 65_535);
  const host = optionalHost(options.host);
  const maxViewers = optionalInteger(options.maxViewers, 'options.maxViewers', DEFAULT_MAX_VIEWERS, 1, 10_000);
  const maxIngests = optionalInteger(options.maxIngests, 'options.maxIngests', DEFAULT_MAX_INGESTS, 1, 1_000);
  let ingesting = 0;
  const html = pageHtml();
  const model = emptyModel();
  let batch: PageEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  let stream: Broadcast | undefined;
  let origins = new Set<string>();

  const flush = () => {
    timer = undefined;
    const events = batch;
    batch = [];
    if (events.length > 0 && stream && stream.readers > 0) stream.send(JSON.stringify({ events }));
  };
  /** Bumped by each change of the model: its JSON is made once per version, however many viewers and GETs ask. */
  let version = 0;
  let shown: { version: number; greeting: Buffer } | undefined;
  const GREETING_HEAD = '{"model":';
  /**
   * Each new viewer's greeting, `{"model":…}`. Made for each of them, a model of some 35 MB (5,500 calls, each with 50
   * states and a long method and id) was a JSON.stringify each and a copy of its bytes per viewer: 64 viewers that do
   * not read held 4.5 GB, and each stringify held the event loop (the application's, with createInspector). Now one
   * copy per version of the model, shared by the viewers and by /model.json (a view of its bytes).
   */
  const greeting = () => {
    if (shown?.version !== version) shown = { version, greeting: Buffer.from(`${GREETING_HEAD}${JSON.stringify(model)}}`) };
    return shown.greeting;
  };
  const modelJson = () => greeting().subarray(GREETING_HEAD.length, -1);
  const emit = (event: PageEvent) => {
    version++;
    applyEvent(model, event);
    if (!timer) timer = setTimeout(flush, FLUSH_EVERY);
    batch.push(event);
  };

  const http = createServer((request, response) => respond(request, response));
  http.maxConnections = maxViewers + maxIngests + SPARE_CONNECTIONS;
  function respond(request: IncomingMessage, response: ServerResponse): void {
    const path = pathOf(request.url);
    if (path === undefined) {
      // A request-target no URL parser takes (`GET http://[ HTTP/1.1`): thrown here, it would end the process.
      response.writeHead(400, { 'content-type': 'text/plain', connection: 'close' }).end('bad request target\n');
    } else if (!servesHost(request.headers.host, host)) {
      response
        .writeHead(403, { 'content-type': 'text/plain', connection: 'close' })
        .end(`host ${request.headers.host} is not served here\n`);
      request.resume();
    } else if (path === '/ingest' && request.method === 'POST') {
      ingest(request, response);
    } else if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
    } else if (path === '/favicon.ico') {
      response.writeHead(204).end();
    } else if (path === '/model.json') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(modelJson());
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }
  function ingest(request: IncomingMessage, response: ServerResponse): void {
    const origin = request.headers.origin;
    if (origin !== undefined && !origins.has(origin)) {
      response.writeHead(403, { 'content-type': 'text/plain', connection: 'close' }).end(`origin ${origin} is not allowed\n`);
      request.resume();
      return;
    }
    if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) {
      response.writeHead(415, { 'content-type': 'text/plain', connection: 'close' }).end('send application/json\n');
      request.resume();
      return;
    }
    if (ingesting >= maxIngests) {
      response
        .writeHead(503, { 'content-type': 'text/plain', connection: 'close' })
        .end(`the page is reading ${countOf(maxIngests, 'batch', 'batches')}, the most it reads at once (maxIngests); try again later\n`);
      request.resume();
      return;
    }
    // Counted until its answer is sent or its connection is gone, whichever comes first.
    ingesting++;
    let counted = true;
    const deadline = setTimeout(() => {
      response
        .writeHead(408, { 'content-type': 'text/plain', connection: 'close' })
        .end(`the batch did not arrive within ${INGEST_TIMEOUT} ms\n`);
      request.destroy();
    }, INGEST_TIMEOUT);
    const release = () => {
      clearTimeout(deadline);
      if (counted) ingesting--;
      counted = false;
    };
    response.once('finish', release).once('close', release);
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_INGEST_BYTES) {
        response
          .writeHead(413, { 'content-type': 'text/plain', connection: 'close' })
          .end(`at most ${countOf(MAX_INGEST_BYTES, 'byte')}\n`);
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => {
      const checked = checkBatch(Buffer.concat(chunks).toString('utf8'));
      if ('error' in checked) {
        response.writeHead(400, { 'content-type': 'text/plain' }).end(`${checked.error}\n`);
        return;
      }
      for (const event of checked.events) emit(event);
      response.writeHead(204).end();
    });
    request.on('error', () => request.destroy());
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  const bound = (http.address() as AddressInfo).port;
  origins = pageOrigins(host, bound);
  stream = attachBroadcast(http, '/events', greeting, (origin) => origin === undefined || origins.has(origin), {
    readers: maxViewers,
    reason: `the page has ${countOf(maxViewers, 'viewer')}, the most it takes (maxViewers); try again later`,
    heartbeat: VIEWER_HEARTBEAT,
  });
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost(host)}:${bound}/`,
    port: bound,
    model,
    get viewers() {
      return stream?.readers ?? 0;
    },
    emit,
    close: () =>
      (closing ??= (async () => {
        if (timer) clearTimeout(timer);
        flush();
        await stream?.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      })()),
  };
}

/**
 * Whether a Host header names the page: by an IP address, as localhost, or by the name it was bound
 * to. A browser sends no Origin on a same-origin GET, so a site whose DNS name is made to resolve to
 * this address once its page has loaded (DNS rebinding) could read /model.json; only its name, in
 * Host, gives it away. A request without Host (HTTP/1.0) comes from a tool, not a browser.
 */
function servesHost(header: string | undefined, bound: string): boolean {
  if (header === undefined) return true;
  let name: string;
  try {
    name = new URL(`http://${header}`).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return false;
  }
  return isIP(name) !== 0 || name === 'localhost' || name === bound.toLowerCase();
}

/** The path of a request-target, or undefined when it is not one. */
function pathOf(target = '/'): string | undefined {
  try {
    return new URL(target, 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

/**
 * The origins a browser sends from the page served on `host`:`port`: that
 * address, and every spelling of loopback when it is loopback; bound to every
 * interface, also each interface's address.
 */
function pageOrigins(host: string, port: number): Set<string> {
  const wildcard = host === '0.0.0.0' || host === '::';
  const hosts = [host];
  if (wildcard || host === 'localhost' || host === '::1' || host.startsWith('127.')) hosts.push('127.0.0.1', 'localhost', '::1');
  if (wildcard) {
    for (const addresses of Object.values(networkInterfaces())) hosts.push(...(addresses ?? []).map(({ address }) => address));
  }
  const origins = new Set<string>();
  for (const name of hosts) {
    try {
      // As browsers serialize it: IPv6 in brackets and shortest form, no port 80.
      origins.add(new URL(`http://${name.includes(':') ? `[${name}]` : name}:${port}`).origin);
    } catch {
      // An address no URL can hold (an IPv6 zone, for one): no browser sends it either.
    }
  }
  return origins;
}
