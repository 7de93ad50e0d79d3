/**
 * The demo inspection page (`callstate inspect --demo`): the page server
 * (hub.ts) fed by a callstate client and server that it runs in-process, with
 * demo traffic between them. Needs no network beyond loopback.
 */
import { connect, type Client } from '../../client.js';
import { serve, type Server } from '../../server.js';
import type { Methods } from '../../types.js';
import { inspectionFeed } from './feed.js';
import { startPageServer } from './hub.js';
import type { PageModel } from './model.js';
import { startTraffic, trafficSettings, work, type TrafficOptions } from './traffic.js';

export interface InspectPageOptions {
  /** Port of the page; 0 picks a free one. Default: 0. */
  port?: number;
  /** Interface to listen on ('0.0.0.0' or '::' for every interface; not empty). Default: '127.0.0.1'. */
  host?: string;
  /** Viewers of the event stream connected at once; one more is refused with HTTP 503. Default: 64. */
  maxViewers?: number;
  /** Batches from other processes read at once; one more is answered 503. Default: 16. */
  maxIngests?: number;
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
  const trafficOptions = options.traffic === false ? undefined : trafficSettings(options.traffic);
  const { port, host, maxViewers, maxIngests } = options;
  const page = await startPageServer({ port, host, maxViewers, maxIngests });
  const inspect = inspectionFeed(page.emit);
  let server: Server;
  try {
    server = await serve({ methods: { ...options.methods, work }, inspect });
  } catch (error) {
    await page.close();
    throw error;
  }
  const connectClient = () => connect(server.url, { inspect });
  let client = connectClient();

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

  return {
    url: page.url,
    port: page.port,
    get client() {
      return client;
    },
    server,
    model: page.model,
    reconnect,
    close: () =>
      (closing ??= (async () => {
        traffic?.stop();
        await reconnecting;
        await client.close();
        await server.close();
        await page.close();
      })()),
  };
}
