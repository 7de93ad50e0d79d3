/**
 * An app's `http.Server` (or `https.Server`) shared by every callstate server attached to it
 * (`serve({ server, path })`), each on a path of its own. One wrapper of the app's 'upgrade' listeners
 * and one of its 'request' listeners serve them all, whatever their number and whichever closes first:
 *
 *   upgrade on a route's path ──▶ that route          (another path: the app's own 'upgrade' listeners; 404 when it has none)
 *   request on a route's path ──▶ that route's handler (another path: the app's request listeners; 404 when it has none)
 *
 * Each server attaching a listener of its own instead let an upgrade on a path none of them took go
 * unanswered (each saw the other's listener as the app's), and the second wrapped the first, which could
 * then never give the app its listeners back when it closed first. The app's request and upgrade listeners
 * are taken off the server while anything is attached (as engine.io's `attach()` does with request listeners)
 * and given back, in their order, when the last route leaves: an upgrade listener in `ws`'s README shape, which
 * destroys every socket on a path it does not know, destroyed callstate's too. One the app adds later is called
 * by the server itself, for every path. Its 'checkContinue' listeners (requests with `Expect: 100-continue`) likewise.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';

type AppServer = HttpServer | HttpsServer;
type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

/** What one attached callstate server takes on its path. */
export interface Route {
  upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Plain requests on the path; undefined: they stay the app's. */
  request: RequestHandler | undefined;
}

/** How a request or an upgrade on a path nobody takes is answered, when the app has no listener of its own for it. */
export interface NotFound {
  upgrade(socket: Duplex): void;
  request(response: ServerResponse): void;
}

interface Attachment {
  routes: Map<string, Route>;
  detach(): void;
}

const attachments = new WeakMap<AppServer, Attachment>();

/**
 * Takes upgrades (and, with `route.request`, plain requests) on `path` of the app's `server`; returns
 * what gives them back. Throws TypeError when another callstate server takes `path` on it already.
 */
export function attach(server: AppServer, path: string, route: Route, notFound: NotFound): () => void {
  const attachment = attachments.get(server) ?? install(server, notFound);
  if (attachment.routes.has(path)) {
    throw new TypeError(`options.path ${JSON.stringify(path)} is taken on this server by another serve() already: give each its own path`);
  }
  attachment.routes.set(path, route);
  return () => {
    if (attachment.routes.get(path) !== route) return;
    attachment.routes.delete(path);
    if (attachment.routes.size === 0) attachment.detach();
  };
}

function install(server: AppServer, notFound: NotFound): Attachment {
  const routes = new Map<string, Route>();
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const route = routes.get(pathnameOf(request.url));
    if (route !== undefined) return route.upgrade(request, socket, head);
    // Other paths belong to the app: its own upgrade listeners answer them; with none, nobody would.
    if (!upgrades.call(request, socket, head) && server.listenerCount('upgrade') === 1) notFound.upgrade(socket);
  };
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    const handler = routes.get(pathnameOf(request.url))?.request;
    if (handler !== undefined) return handler(request, response);
    // A listener the app added since is called by the server itself: a 404 here would answer over it.
    if (!requests.call(request, response) && server.listenerCount('request') === 1) notFound.request(response);
  };
  // A request with `Expect: 100-continue` comes as 'checkContinue', not 'request', on a server with a listener for it:
  // with the app's, its listener answered callstate's calls. A route's handler sends the 100 itself once it wants the
  // body; on another path, the app's listeners get it, or, with none, what Node does without one: 100, then 'request'.
  const onCheckContinue = (request: IncomingMessage, response: ServerResponse) => {
    const handler = routes.get(pathnameOf(request.url))?.request;
    if (handler !== undefined) return handler(request, response);
    // One the app added since is called by the server itself, and answers it: Node then sends no 100 and no 'request'.
    if (continues.call(request, response) || server.listenerCount('checkContinue') > 1) return;
    response.writeContinue();
    server.emit('request', request, response);
  };
  const requests = take(server, 'request', onRequest);
  const upgrades = take(server, 'upgrade', onUpgrade);
  const continues = take(server, 'checkContinue', onCheckContinue);
  const attachment: Attachment = {
    routes,
    detach: () => {
      attachments.delete(server);
      requests.giveBack();
      upgrades.giveBack();
      continues.giveBack();
    },
  };
  attachments.set(server, attachment);
  return attachment;
}

/** The app's listeners of one event, taken off its server while callstate is attached: callstate calls them. */
interface Taken<Args extends unknown[]> {
  /** Calls the app's listeners with `args`, as the server would; false when it has none. */
  call(...args: Args): boolean;
  /** Puts them back where `own` is (unless the app took `own` off), in their order, and takes `own` off. */
  giveBack(): void;
}

/**
 * Takes the app's `event` listeners off `server` and puts `own` there instead. Raw: `listeners()` unwraps a `once()`
 * listener, which, called for each event and put back with `on()`, then ran for every one. Its wrapper (which names
 * the app's function `listener`) runs once: spent, it is not the app's to get back, where it was put back as a
 * listener that did nothing (and was still handed every request: one with no other listener was never answered).
 * Put back unfired, it still runs once (it takes itself off).
 */
function take<Args extends unknown[]>(
  server: AppServer,
  event: 'request' | 'upgrade' | 'checkContinue',
  own: (...args: Args) => void,
): Taken<Args> {
  type Listener = (...args: Args) => void;
  const app = server.rawListeners(event) as Listener[];
  server.removeAllListeners(event);
  server.on(event, own);
  return {
    call: (...args) => {
      if (app.length === 0) return false;
      for (const listener of [...app]) {
        if ('listener' in listener) app.splice(app.indexOf(listener), 1);
        listener.apply(server, args);
      }
      return true;
    },
    giveBack: () => {
      const now = server.rawListeners(event) as Listener[];
      if (!now.includes(own)) return;
      // In place of `own`: appended after any the app added since, they came after them (the app's order reversed).
      server.removeAllListeners(event);
      for (const listener of now.flatMap((listener) => (listener === own ? app : [listener]))) server.on(event, listener);
    },
  };
}

/** The scheme and authority of a request target in absolute form (`http://host:8080/rpc`). */
const ABSOLUTE_FORM = /^[a-z][a-z\d+.-]*:\/\/[^/?#]*/i;

/**
 * The path of a request's URL, without its query. A target in absolute form (`POST http://host/rpc`), as a client
 * sends to a proxy and some proxies pass on, has its scheme and host dropped: servers must accept it (RFC 9112
 * §3.2.2), and Node gives it as it came, which matched no path (404 on the right one, or the app's route instead).
 */
export function pathnameOf(url: string | undefined): string {
  const target = url ?? '/';
  const origin = ABSOLUTE_FORM.exec(target)?.[0].length ?? 0;
  const query = target.indexOf('?', origin);
  return target.slice(origin, query === -1 ? undefined : query) || '/';
}
