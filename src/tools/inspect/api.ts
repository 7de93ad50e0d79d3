/**
 * The inspector for your own application, as the package exports it:
 *
 *   createInspector({ port, host })  serves the page in this process: { url, inspect, close }
 *   inspectTo(url)                   streams this process's actors to a page already running
 *                                    (`callstate inspect`, or another process's createInspector)
 *
 * Light on purpose: the page server is imported only when createInspector is called.
 */
import { nanoid } from 'nanoid';
import type { InspectionEvent } from 'xstate';
import { optionalInteger } from '../../validate.js';
import { inspectionFeed } from './feed.js';
import type { PageEvent } from './model.js';

export interface InspectorOptions {
  /** Port of the page; 0 picks a free one. Default: 0. */
  port?: number;
  /** Interface to listen on ('0.0.0.0' or '::' for every interface; not empty). Default: '127.0.0.1'. */
  host?: string;
  /** Viewers of the page's event stream connected at once (pages open, tools); one more is refused with HTTP 503. Default: 64. */
  maxViewers?: number;
  /** Batches from other processes (`inspectTo`) read at once; one more is answered 503, and counted as dropped by its sender. Default: 16. */
  maxIngests?: number;
}

export interface Inspector {
  /** The page: `http://host:port/`. */
  readonly url: string;
  /** Pass to `connect()` or `serve()` as `inspect`: their connections and calls show on the page. */
  readonly inspect: (event: InspectionEvent) => void;
  /** Stops the page server. */
  close(): Promise<void>;
}

/**
 * Serves the inspection page in this process and returns the observer that feeds it.
 *
 * ```ts
 * const inspector = await createInspector({ port: 7070 });
 * const server = await serve({ methods, inspect: inspector.inspect });
 * console.log(inspector.url); // open it in a browser
 * ```
 */
export async function createInspector(options: InspectorOptions = {}): Promise<Inspector> {
  const { startPageServer } = await import('./hub.js');
  const page = await startPageServer(options);
  return { url: page.url, inspect: inspectionFeed(page.emit), close: page.close };
}

export interface InspectToOptions {
  /** Events kept while the page is slow or gone; past this, new events are dropped (and counted on the page). Default: 10,000. */
  maxBuffered?: number;
  /** How often a batch is sent, in ms. Default: 100. */
  interval?: number;
}

export interface InspectStream {
  /** Pass to `connect()` or `serve()` as `inspect`. */
  readonly inspect: (event: InspectionEvent) => void;
  /** Events dropped so far: the buffer was full, or a batch could not be delivered. */
  readonly dropped: number;
  /** Events waiting to be sent (at most `maxBuffered`). */
  readonly buffered: number;
  /** Sends everything buffered, batch by batch, then stops; once a batch fails, the rest is dropped (and counted). Every call resolves when that is done. */
  close(): Promise<void>;
}

/** Most events in one POST (the page takes 5,000 and 1 MiB at most). */
const MAX_BATCH = 2_000;
/** Most bytes of events in one POST, leaving room for the rest of the body (the page takes 1 MiB at most). */
const MAX_BATCH_BYTES = 1024 * 1024 - 1024;
/** A batch the page has not taken within this long is given up on, in ms. */
const POST_TIMEOUT = 5_000;

/** The page's ingest endpoint for `url` (http, https, ws or wss: the page serves both on one port). */
function ingestUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`inspectTo needs the page's URL (http://host:port), got ${JSON.stringify(url)}`);
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(parsed.protocol)) {
    throw new TypeError(`inspectTo needs an http, https, ws or wss URL, got ${JSON.stringify(url)}`);
  }
  // fetch refuses every POST to such a URL: each batch would be dropped without a word (and the page asks for none).
  if (parsed.username || parsed.password) {
    throw new TypeError('inspectTo needs a URL without credentials (user:password@): the page takes none, and fetch refuses them');
  }
  parsed.protocol = parsed.protocol.replace(/^ws/, 'http');
  return new URL('/ingest', parsed);
}

/**
 * The next batch of `buffer`, each event as JSON: at most MAX_BATCH events and
 * MAX_BATCH_BYTES bytes. Counting events is not enough: a string cut at 200
 * characters still takes up to 1,200 bytes of JSON (control characters are
 * escaped as \u0001), and a body past the page's limit loses the whole batch.
 */
function takeBatch(buffer: readonly PageEvent[]): string[] {
  const batch: string[] = [];
  let bytes = 0;
  for (const event of buffer) {
    if (batch.length === MAX_BATCH) break;
    const json = JSON.stringify(event);
    bytes += Buffer.byteLength(json) + 1;
    // The first event always goes: with its strings cut, one event is far below the limit.
    if (bytes > MAX_BATCH_BYTES && batch.length > 0) break;
    batch.push(json);
  }
  return batch;
}

/**
 * Streams this process's connections and calls to a running inspection page.
 * Never blocks the application and never holds more than `maxBuffered` events:
 * while the page is slow or gone, events past that are dropped, counted, and
 * the count is shown on the page ("N dropped") once it takes events again.
 *
 * ```ts
 * const stream = inspectTo('http://127.0.0.1:7070');   // `callstate inspect` runs there
 * const client = connect(url, { inspect: stream.inspect });
 * ```
 */
export function inspectTo(url: string, options: InspectToOptions = {}): InspectStream {
  const target = ingestUrl(url);
  const maxBuffered = optionalInteger(options.maxBuffered, 'options.maxBuffered', 10_000, 1, 10_000_000);
  const interval = optionalInteger(options.interval, 'options.interval', 100, 1, 60_000);
  const source = nanoid(10);
  let buffer: PageEvent[] = [];
  let dropped = 0;
  /** Dropped events the page has not been told about yet. */
  let unreported = 0;
  let sending: Promise<boolean> | undefined;
  let closed = false;
  let closing: Promise<void> | undefined;

  const inspect = inspectionFeed((event) => {
    if (closed) return;
    if (buffer.length >= maxBuffered) {
      dropped++;
      unreported++;
      return;
    }
    buffer.push(event);
  });

  /** Sends one batch (or waits for the one on its way); resolves with whether the page took it. */
  const send = (): Promise<boolean> => {
    if (sending || (buffer.length === 0 && unreported === 0)) return sending ?? Promise.resolve(true);
    const events = takeBatch(buffer);
    buffer = buffer.slice(events.length);
    const report = unreported;
    unreported = 0;
    const parts = report > 0 ? [JSON.stringify({ k: 'dropped', n: report }), ...events] : events;
    const body = `{"source":${JSON.stringify(source)},"events":[${parts.join(',')}]}`;
    sending = fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      // The events (calls' params and results) go to the page named, or nowhere: a 307 would re-post them elsewhere.
      redirect: 'error',
      signal: AbortSignal.timeout(POST_TIMEOUT),
    })
      .then(async (response) => {
        await response.body?.cancel();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        return true;
      })
      .catch(() => {
        // The page is gone or refused the batch: those events are lost, and counted.
        dropped += events.length;
        unreported += report + events.length;
        return false;
      })
      .finally(() => (sending = undefined));
    return sending;
  };
  /**
   * Sends every batch left, one at a time (a batch holds at most MAX_BATCH events). Once one
   * fails the page is gone: what is left is dropped and counted, not kept by a closed stream.
   */
  const flushAll = async (): Promise<void> => {
    while (buffer.length > 0 || unreported > 0) {
      if (await send()) continue;
      dropped += buffer.length;
      buffer = [];
      return;
    }
  };
  const timer = setInterval(() => void send(), interval);
  timer.unref();

  return {
    inspect,
    get dropped() {
      return dropped;
    },
    get buffered() {
      return buffer.length;
    },
    // Each call resolves once everything is sent: a second one (a shutdown path and a `finally`) that resolved at once
    // let the process exit with the last batches still on their way.
    close: () =>
      (closing ??= (async () => {
        closed = true;
        clearInterval(timer);
        await sending;
        await flushAll();
      })()),
  };
}
