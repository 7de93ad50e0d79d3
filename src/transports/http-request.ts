/**
 * The HTTP side of JSON-RPC over HTTP POST on the server, with nothing of the
 * core: which requests are JSON-RPC at all (path, method, content type, CORS
 * preflight), reading a body within a byte limit, and plain status answers.
 * The server's endpoint (src/http-server.ts) dispatches what passes.
 *
 *   request ─ path ≠ path ──────────────▶ 404
 *           ─ OPTIONS ──────────────────▶ 204 (CORS preflight for an allowed origin, else 403) │ 204 Allow
 *           ─ GET/HEAD (no upgrade) ────▶ 426 Upgrade: websocket (this path speaks WebSocket on GET)
 *           ─ not POST ─────────────────▶ 405 Allow: POST, OPTIONS
 *           ─ not application/json ─────▶ 415
 *           ─ Content-Encoding (gzip…) ─▶ 415 Accept-Encoding: identity (a compressed body is not inflated)
 *           ─ Transfer-Encoding: gzip… ─▶ 501 (a transfer coding other than chunked is not decoded either)
 *           ─ body read already (the app's) ▶ 500 (a body parser ran before the request was handed over)
 *           ─ Content-Length > limit ───▶ 413 before reading; a chunked body past the limit: 413 once it passes it
 *           ─ Expect: 100-continue ─────▶ 100 Continue, now that the body is wanted (not before: a refused client sends none)
 *           ─ else ─────────────────────▶ the body, as text (without a leading UTF-8 byte order mark)
 *
 * An answer given before the body is read (413, a refusal, 408) closes the TCP connection: the rest of
 * the body is never read. Every answer to a request from an allowed origin carries the CORS headers
 * (`corsHeaders`), refusals and errors too: without them a browser shows its page a network error, not the status.
 */
import { isUtf8 } from 'node:buffer';
import { STATUS_CODES, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { pathnameOf } from './attach.js';
import { notUtf8, UTF8_REASON } from './transport.js';
import { countOf } from '../words.js';

/** What the endpoint allows, for `Allow` and `Access-Control-Allow-Methods`. */
export const ALLOWED_METHODS = 'POST, OPTIONS';

/**
 * The body of the 426 to a GET (someone opening the endpoint in a browser, or `curl` without `-d`): what the
 * path takes instead, rather than Node's bare "Upgrade Required".
 */
export const GET_REASON =
  'Upgrade Required: this path takes WebSocket upgrades (ws://) and JSON-RPC 2.0 requests by POST with Content-Type: application/json';

/** Media types taken as JSON-RPC (parameters such as `charset=utf-8` aside). */
const JSON_TYPES = new Set(['application/json', 'application/json-rpc', 'application/jsonrequest']);

/** How long a browser may cache a preflight's answer, in seconds. */
const PREFLIGHT_MAX_AGE = '600';

/** Header names a preflight may ask for: tokens, comma-separated. */
const HEADER_LIST = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+(\s*,\s*[!#$%&'*+.^_`|~0-9A-Za-z-]+)*$/;

/** Whether the request's path (its URL without the query, or its scheme and host in absolute form) is `path`. */
export function pathMatches(request: IncomingMessage, path: string): boolean {
  return pathnameOf(request.url) === path;
}

/** Whether the request's Content-Type is JSON. */
export function isJson(request: IncomingMessage): boolean {
  const type = request.headers['content-type'];
  if (type === undefined) return false;
  const semicolon = type.indexOf(';');
  return JSON_TYPES.has((semicolon === -1 ? type : type.slice(0, semicolon)).trim().toLowerCase());
}

/** Charsets a body is read in: UTF-8, and ASCII, which is UTF-8 too. */
const UTF8_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/** The `charset` parameter of a Content-Type (unquoted), if it has one. */
function charsetOf(type: string | undefined): string | undefined {
  for (const parameter of type?.split(';').slice(1) ?? []) {
    const [name, value] = parameter.split('=', 2).map((part) => part.trim());
    if (name?.toLowerCase() === 'charset' && value) return value.replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

/**
 * Answers a request whose body is encoded in a way nothing here decodes, and returns whether it did: a
 * `Content-Encoding` other than `identity` (gzip, say) gets 415 naming the codings taken (`Accept-Encoding`,
 * RFC 7694), a transfer coding other than `chunked` (`Transfer-Encoding: gzip, chunked`, which Node leaves
 * as it came) 501 (RFC 9112 §6.1). Read as it is, such a body was answered -32700 quoting its binary bytes,
 * an answer that says nothing of why.
 */
export function answerEncoded(request: IncomingMessage, response: ServerResponse, cors: OutgoingHttpHeaders): boolean {
  // JSON text is UTF-8 (RFC 8259): a body in another charset (UTF-16, say) was read as UTF-8 and answered -32700
  // quoting what that made of it.
  const charset = charsetOf(request.headers['content-type']);
  if (charset !== undefined && !UTF8_CHARSETS.has(charset.toLowerCase())) {
    answer(response, 415, cors, `charset ${charset} is not supported: send the body in UTF-8 (${UTF8_REASON})`);
    return true;
  }
  const content = request.headers['content-encoding']?.trim();
  if (content !== undefined && content !== '' && content.toLowerCase() !== 'identity') {
    answer(
      response,
      415,
      { ...cors, 'Accept-Encoding': 'identity' },
      `Content-Encoding ${content} is not supported: send the body uncompressed`,
    );
    return true;
  }
  const transfer = request.headers['transfer-encoding'];
  const codings = transfer?.split(',').map((coding) => coding.trim().toLowerCase()) ?? [];
  if (codings.some((coding) => coding !== 'chunked' && coding !== 'identity' && coding !== '')) {
    answer(response, 501, cors, `Transfer-Encoding ${transfer} is not supported: send the body chunked only, or with a Content-Length`);
    return true;
  }
  return false;
}

/**
 * CORS headers for every answer to a request from `origin`: `*` when every origin is allowed (`allowed`
 * undefined), the origin itself and `Vary: Origin` when it is in `allowed`; none without an Origin or
 * for an origin not allowed (its page may read nothing of the answer).
 */
export function corsHeaders(origin: string | undefined, allowed: ReadonlySet<string> | undefined): OutgoingHttpHeaders {
  if (origin === undefined) return {};
  if (allowed === undefined) return { 'Access-Control-Allow-Origin': '*' };
  return allowed.has(origin) ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : {};
}

/**
 * Answers an OPTIONS request: a CORS preflight from an allowed origin (`cors`, from `corsHeaders`, not
 * empty) gets 204 with the methods and the headers it asked for; from another origin, 403. An OPTIONS
 * that is no preflight gets 204 with `Allow`.
 */
export function answerOptions(request: IncomingMessage, response: ServerResponse, cors: OutgoingHttpHeaders): void {
  const origin = request.headers.origin;
  if (origin === undefined || request.headers['access-control-request-method'] === undefined) {
    return answer(response, 204, { Allow: ALLOWED_METHODS });
  }
  if (cors['Access-Control-Allow-Origin'] === undefined) return answer(response, 403, {}, `origin ${origin} is not allowed`);
  const asked = request.headers['access-control-request-headers'];
  answer(response, 204, {
    ...cors,
    'Access-Control-Allow-Methods': ALLOWED_METHODS,
    'Access-Control-Allow-Headers': asked !== undefined && HEADER_LIST.test(asked) ? asked : 'Content-Type',
    'Access-Control-Max-Age': PREFLIGHT_MAX_AGE,
  });
}

/** Answers with `status`, its reason phrase (or `body`) as plain text. `close` ends the TCP connection after it. */
export function answer(response: ServerResponse, status: number, headers: OutgoingHttpHeaders, body?: string, close = false): void {
  if (response.headersSent || response.destroyed) return;
  const text = status === 204 ? '' : (body ?? STATUS_CODES[status] ?? '');
  response.writeHead(status, {
    ...headers,
    ...(text === '' ? {} : { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) }),
    ...(close ? { Connection: 'close' } : {}),
  });
  response.end(text);
}

/** Answers with a JSON body (a JSON-RPC response or batch), 200; returns its length in bytes (0: not answered). */
export function answerJson(response: ServerResponse, text: string, headers: OutgoingHttpHeaders): number {
  if (response.headersSent || response.destroyed) return 0;
  const length = Buffer.byteLength(text);
  response.writeHead(200, { ...headers, 'Content-Type': 'application/json', 'Content-Length': length });
  response.end(text);
  return length;
}

/**
 * Reads the body as UTF-8 text, up to `limit` bytes (a leading byte order mark stays: `decode` skips it, whatever the
 * transport). A body that says it is longer (Content-Length) is
 * refused without reading a byte of it; one that turns out longer (chunked) is refused once it passes the
 * limit, without keeping more: either way `done(undefined)` is called once, after a 413 that closes the TCP
 * connection (the rest of the body is never read). A body already read (by the app, before handing the request
 * over) is answered 500 at once, then `done(undefined)`. Request errors (the client went away) call nothing.
 * `cors` goes with those answers (the request's CORS headers).
 */
export function readBody(
  request: IncomingMessage,
  response: ServerResponse,
  limit: number,
  cors: OutgoingHttpHeaders,
  done: (text: string | undefined) => void,
): void {
  // The app read the body before handing the request over (a body parser such as express.json() ran first):
  // none of it will come again, and waiting for it would end in a 408 that blames the client. Read in part, the rest
  // was parsed as the body (a -32700 quoting what the client never sent as it is).
  if (request.readableEnded || request.readableDidRead) {
    answer(response, 500, cors, 'the request body was read before it reached callstate: hand the request over before any body parser');
    return done(undefined);
  }
  const tooLarge = () => {
    answerUnread(request, response, 413, cors, `the body is larger than ${countOf(limit, 'byte')} (maxPayload)`);
    done(undefined);
  };
  const declared = request.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return tooLarge();
  continueBody(request, response);
  let body: Buffer | undefined;
  let length = 0;
  let over = false;
  request.on('data', (chunk: Buffer) => {
    if (over) return;
    if (length + chunk.length > limit) {
      over = true;
      body = undefined;
      tooLarge();
      return;
    }
    body = append(body, length, chunk, limit);
    length += chunk.length;
  });
  // Paused by the app (a middleware that stopped the stream before handing it over), the body would never come here.
  if (request.isPaused()) request.resume();
  request.on('end', () => {
    if (over) return;
    // Read as UTF-8 anyway, each byte that is not would become U+FFFD in the params a handler is given.
    if (body !== undefined && !isUtf8(body.subarray(0, length))) {
      answer(response, 400, cors, notUtf8('the body'));
      return done(undefined);
    }
    const text = body === undefined ? '' : body.toString('utf8', 0, length);
    done(text);
  });
}

/**
 * `body` (its first `length` bytes) with `chunk` after them: the first chunk as it is, the next ones copied into a
 * buffer that doubles when they do not fit (never past `limit`, which they are within). Not a list of the chunks:
 * a chunked body may come a byte per chunk, and a Buffer for each, about 200 bytes of heap, made a body within
 * `maxPayload` hold some 200 times its size.
 */
function append(body: Buffer | undefined, length: number, chunk: Buffer, limit: number): Buffer {
  if (body === undefined) return chunk;
  let into = body;
  if (length + chunk.length > body.length) {
    into = Buffer.allocUnsafe(Math.min(limit, Math.max(2 * body.length, length + chunk.length)));
    body.copy(into, 0, 0, length);
  }
  chunk.copy(into, length);
  return into;
}

/**
 * An `Expect` Node takes for 100-continue (its `continueExpression`): such a request comes as 'checkContinue', or
 * after Node's own 100. Only the exact value was taken: `100-continue, x-trace` was never told to send its body.
 */
const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * A client that sent `Expect: 100-continue` waits to be told to send its body: told once the body is wanted (the
 * access check passed, the size is within the limit), so that a refused one never sends it. Unless a 100 Continue
 * went out already: Node sends one itself, before the request is seen, on a server with no `checkContinue`
 * listener (the app's server behind `handleRequest`, say; one we are attached to has ours, attach.ts); it marks the
 * response when it does (`_sent100`). A final
 * answer sent instead ends the TCP connection (Node's doing: the client may or may not send the body).
 */
function continueBody(request: IncomingMessage, response: ServerResponse): void {
  const expect = request.headers.expect;
  // HTTP/1.1 only, as Node reads it: an HTTP/1.0 client knows no 100 Continue.
  if (expect === undefined || request.httpVersion !== '1.1' || !CONTINUE.test(expect)) return;
  if ((response as ServerResponse & { _sent100?: boolean })._sent100 !== true) response.writeContinue();
}

/**
 * Answers a request whose body is not (all) read, with `status` and `body`, and ends its TCP connection
 * once the answer is written: the rest of the body is never read (nor is the next request on it).
 */
export function answerUnread(
  request: IncomingMessage,
  response: ServerResponse,
  status: number,
  headers: OutgoingHttpHeaders,
  body?: string,
): void {
  if (response.headersSent || response.destroyed) return void request.socket.destroy();
  answer(response, status, headers, body, true);
  response.once('finish', () => request.socket.destroy());
}
