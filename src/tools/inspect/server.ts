/**
 * The local inspection page: an HTTP server for one self-contained page, and a
 * WebSocket stream (`/events`) of compact events derived from the `inspect`
 * option of a callstate client and server that it runs in-process, with demo
 * traffic between them. Needs no network beyond loopback.
 *
 *   GET /            the page
 *   GET /model.json  the current model (what a newly opened page starts from)
 *   ws  /events      { model } once, then { events: [...] } batches
 *
 * The stream admits only the page's own origin, and tools that send no Origin:
 * any other website open in the same browser could otherwise read the feed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { connect, type Client } from '../../client.js';
import { serve, type Server } from '../../server.js';
import { attachBroadcast, type Broadcast } from '../../transports/broadcast.js';
import type { Methods } from '../../types.js';
import { validateInteger } from '../../validate.js';
import { inspectionFeed } from './feed.js';
import { applyEvent, emptyModel, type PageEvent, type PageModel } from './model.js';
import { pageHtml } from './page.js';
import { startTraffic, trafficSettings, work, type TrafficOptions } from './traffic.js';

export interface InspectPageOptions {
  /** Port of the page; 0 picks a free one. Default: 0. */
  port?: number;
  /** Interface to listen on. Default: '127.0.0.1'. */
  host?: string;
  /** Demo traffic between the client and the server, or `false` for none (drive calls through `page.client`). Default: `{}` (on, random seed). */
  traffic?: TrafficOptions | false;
  /** Methods added to the in-process server, beside the demo's `work`. Default: none. */
  methods?: Methods;
}

export interface InspectPage {
  /** `http://host:port/`. */
  readonly url: string;
  readonly port: number;
  /** The in-process client whose calls the page shows (replaced by `reconnect()`). */
  readonly client: Client;
  /** The in-process server the client calls. */
  readonly server: Server;
  /** What the page shows now. */
  readonly model: PageModel;
  /** Closes the client and connects a new one, returned before it opens: calls made on it now wait in `queued`. */
  reconnect(): Promise<Client>;
  /** Stops the traffic, the client, the server and the page. */
  close(): Promise<void>;
}

/** Starts the page server and its in-process client and server. */
export async function startInspectPage(options: InspectPageOptions = {}): Promise<InspectPage> {
  const port = options.port === undefined ? 0 : validateInteger(options.port, 'options.port', 0, 65_535);
  const host = options.host ?? '127.0.0.1';
  const trafficOptions = options.traffic === false ? undefined : trafficSettings(options.traffic);
  const html = pageHtml();

  const model = emptyModel();
  let batch: PageEvent[] = [];
  const emit = (event: PageEvent) => {
    applyEvent(model, event);
    if (batch.length === 0) setImmediate(flush);
    batch.push(event);
  };

  const server = await serve({ methods: { ...options.methods, work }, inspect: inspectionFeed('server', emit) });
  const clientInspect = inspectionFeed('client', emit);
  const connectClient = () => connect(server.url, { inspect: clientInspect });
  let client = connectClient();

  const http = createServer((request, response) => respond(request, response));
  let stream: Broadcast | undefined;
  function flush(): void {
    const events = batch;
    batch = [];
    if (events.length > 0 && stream && stream.readers > 0) stream.send(JSON.stringify({ events }));
  }
  function respond(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD' }).end();
    } else if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
    } else if (path === '/favicon.ico') {
      response.writeHead(204).end();
    } else if (path === '/model.json') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(model));
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  }

  try {
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(port, host, () => resolve());
    });
  } catch (error) {
    await client.close();
    await server.close();
    throw error;
  }
  const bound = (http.address() as AddressInfo).port;
  const origins = pageOrigins(host, bound);
  stream = attachBroadcast(
    http,
    '/events',
    () => JSON.stringify({ model }),
    (origin) => origin === undefined || origins.has(origin),
  );

  let reconnecting: Promise<Client> | undefined;
  let closing: Promise<void> | undefined;
  const reconnect = () =>
    // Once closing, the closed client stays: calls on it reject with ConnectionClosedError.
    (reconnecting ??= (async () => {
      if (closing) return client;
      await client.close();
      client = connectClient();
      return client;
    })().finally(() => (reconnecting = undefined)));

  const traffic = trafficOptions && startTraffic(() => client, reconnect, trafficOptions);
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;

  return {
    url: `http://${urlHost}:${bound}/`,
    port: bound,
    get client() {
      return client;
    },
    server,
    model,
    reconnect,
    close: () =>
      (closing ??= (async () => {
        traffic?.stop();
        await reconnecting;
        await client.close();
        await server.close();
        flush();
        await stream?.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      })()),
  };
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
