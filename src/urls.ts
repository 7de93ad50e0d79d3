/**
 * URLs: which transport a URL goes to (`isNatsUrl`, `isHttpUrl`), whether a WebSocket or NATS URL is one callstate
 * takes (`validateUrl`, `validateNatsUrl`), and how a URL is shown in messages and logs, without its secrets
 * (`shownUrl`). Misuse throws TypeError, as every option check in validate.ts.
 */
import { natsConnectTarget, NatsUrlError } from './transports/nats-url.js';
import { describe } from './validate.js';

/**
 * `url` as messages and logs show it: its userinfo (a `user:password`, or a NATS token) as `***`, for each URL of a
 * `nats://` list; the rest as given. Errors are logged and printed: they must not carry secrets. Only for showing:
 * a transport gets the URL as given.
 */
export function shownUrl(url: string): string {
  if (!url.includes('@')) return url;
  return isNatsUrl(url) ? url.split(',').map(withoutUserinfo).join(',') : withoutUserinfo(url);
}

/** One URL with what precedes its host hidden; one that does not parse, with all up to its last `@` hidden. */
function withoutUserinfo(url: string): string {
  try {
    new URL(url.trim());
  } catch {
    return url.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/)?[^]*@/i, (_, scheme: string | undefined) => `${scheme ?? ''}***@`);
  }
  // The userinfo runs to the last '@' before the path, query or fragment, as URL parsing takes it.
  return url.replace(/^(\s*[a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1***@');
}

/**
 * Whether `parsed` has a fragment, an empty one ('ws://host/#') included, whose `hash` is '' (a browser's WebSocket
 * throws a SyntaxError for it). The serialized URL holds '#' only there: the parser escapes it anywhere else.
 */
function hasFragment(parsed: URL): boolean {
  return parsed.href.includes('#');
}

/** A ws:// or wss:// URL without a fragment, as the WebSocket standard requires (nats:// URLs are dispatched before this check). */
export function validateUrl(url: unknown): asserts url is string {
  const shown = typeof url === 'string' ? JSON.stringify(shownUrl(url)) : typeof url;
  let parsed: URL | undefined;
  try {
    if (typeof url === 'string') parsed = new URL(url);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')) {
    throw new TypeError(`url must be a ws://, wss://, http://, https:// or nats:// URL, got ${shown}`);
  }
  if (hasFragment(parsed)) throw new TypeError(`url must not have a fragment, got ${shown}`);
}

/**
 * True for a URL that `connect()` and `serve()` hand to the NATS transport: its scheme in any case, after any leading
 * spaces, as `validateNatsUrl` (and so `serve({ nats })`) takes it ('NATS://host').
 */
export function isNatsUrl(url: unknown): url is string {
  return typeof url === 'string' && /^nats:\/\//i.test(url.trimStart());
}

/**
 * True for a URL that `connect()` hands to the HTTP transport: http:// or https://, without a fragment or credentials
 * (fetch refuses a URL with `user:password@` on every POST, and each failure would repeat the password), nor a port
 * fetch refuses (FETCH_BAD_PORTS).
 */
export function isHttpUrl(url: unknown): url is string {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`url must be a valid http:// or https:// URL, got ${JSON.stringify(shownUrl(url))}`);
  }
  if (hasFragment(parsed)) throw new TypeError(`url must not have a fragment, got ${JSON.stringify(shownUrl(url))}`);
  if (parsed.username || parsed.password) {
    throw new TypeError(
      'url must not hold credentials (user:password@): fetch refuses them; send an Authorization header in options.headers',
    );
  }
  if (FETCH_BAD_PORTS.has(Number(parsed.port))) {
    throw new TypeError(
      `url must not name a port fetch refuses (${parsed.port}, a "bad port" of the Fetch standard), got ${JSON.stringify(shownUrl(url))}: serve on another port, or connect with a ws:// URL`,
    );
  }
  return true;
}

/**
 * The ports `fetch` refuses to connect to (the Fetch standard's "bad ports", as Node's fetch has them): a POST to one
 * fails at once with `bad port`, so an http:// URL naming one would fail every call. `parsed.port` is '' for the
 * scheme's default port (80, 443), which is not one of them.
 */
const FETCH_BAD_PORTS = new Set([
  1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117,
  119, 123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636,
  989, 990, 993, 995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/**
 * A nats://host:port URL, or several, comma-separated (tried in turn until one connects); each may carry credentials
 * (`user:password@`, or a token `token@`), the same in all that do (see natsConnectTarget).
 */
export function validateNatsUrl(url: unknown, name: string): string {
  const urls = typeof url === 'string' ? url.split(',') : [];
  const valid =
    urls.length > 0 &&
    urls.every((u) => {
      try {
        const parsed = new URL(u.trim());
        return (
          parsed.protocol === 'nats:' &&
          parsed.hostname !== '' &&
          !hasFragment(parsed) &&
          (parsed.pathname === '' || parsed.pathname === '/')
        );
      } catch {
        return false;
      }
    });
  if (!valid)
    throw new TypeError(
      `${name} must be a nats://host:port URL, got ${typeof url === 'string' ? JSON.stringify(shownUrl(url)) : describe(url)}`,
    );
  try {
    natsConnectTarget(url as string);
  } catch (error) {
    // A percent sign not followed by two hex digits in the credentials, or URLs with different ones: said without them.
    if (!(error instanceof NatsUrlError)) throw error;
    throw new TypeError(`${name}: ${error.message}, got ${JSON.stringify(shownUrl(url as string))}`);
  }
  return url as string;
}
