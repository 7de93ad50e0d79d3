/**
 * `callstate call <url> <method> [params]` and `callstate notify …`: one call
 * (or notification) from the shell, through `connect()`, so every URL scheme
 * `connect()` accepts works here too.
 */
import { connect, type ClientOptions } from '../../client.js';
import { RemoteError, TimeoutError } from '../../errors.js';
import { constants } from 'node:buffer';
import { isHttpUrl, isNatsUrl } from '../../urls.js';
import { DEFAULT_CLIENT_MAX_PAYLOAD } from '../../limits.js';
import { withoutBom } from '../../protocol/jsonrpc.js';
import { countOf } from '../../words.js';
import { quotedText } from '../../core/peer-text.js';
import type { UnmatchedEvent } from '../../types.js';
import { EXIT, headerFlags, integerFlag, out, parse, printable, UsageError } from './args.js';

/**
 * What `--timeout` is when not given, in ms: the bound on the call's answer (`call`) or on connecting
 * (`notify`). Longer than the library's 10 s default: from a shell, a slow method is more often meant.
 */
export const DEFAULT_CALL_TIMEOUT = 30_000;

/** 30000 as 30,000. */
const shown = DEFAULT_CALL_TIMEOUT.toLocaleString('en-US');

/**
 * Most `--max-payload` takes: the longest string Node can hold (`buffer.constants.MAX_STRING_LENGTH`, about 512 MiB),
 * since the params read are parsed from one string.
 */
const MAX_PAYLOAD_FLAG = constants.MAX_STRING_LENGTH;

export const CALL_USAGE = `usage: callstate call <url> <method> [params-json | -] [options]

Calls <method> on the server at <url> (ws://, wss://, nats:// with --subject, or any
URL connect() accepts) and prints the result as JSON. Params are a JSON array or
object; "-" reads them from stdin.

options:
  --timeout MS          give up on the answer after MS ms (default ${shown})
  --max-payload BYTES   the most params read from stdin, and the largest answer taken
                        (also the client's maxPayload, but over NATS; default 16 MiB)
  --header name:value   an HTTP header on the upgrade request (NATS: a message header); repeatable
  --subject S           the NATS subject (required with nats://)
  --json                print errors as JSON on stdout too ({"error":{...}})
  -h, --help            show this help

exit codes: 0 result printed; 1 the server answered with an error (code and message on
stderr); 2 bad command line or params; 3 timed out; 4 could not connect or the
connection closed`;

export const NOTIFY_USAGE = `usage: callstate notify <url> <method> [params-json | -] [options]

Sends a notification (no answer is expected) to the server at <url> and exits 0 once
it is written.

options:
  --header name:value   as for call; repeatable
  --subject S           the NATS subject (required with nats://)
  --timeout MS          bound on connecting (default ${shown})
  --max-payload BYTES   the most params read from stdin (default 16 MiB)
  --json                print {"sent":true} (or {"error":{...}}) on stdout
  -h, --help            show this help`;

const FLAGS = {
  timeout: { type: 'string' },
  'max-payload': { type: 'string' },
  header: { type: 'string', multiple: true },
  subject: { type: 'string' },
  json: { type: 'boolean' },
} as const;

/**
 * All of stdin, up to `limit` bytes (`--max-payload`, by default DEFAULT_CLIENT_MAX_PAYLOAD, the most a client takes
 * in one frame): past that, an endless stdin (`yes | callstate call … -`) is a mistake, not something to hold until
 * the heap runs out. A byte order mark before the JSON is dropped.
 */
async function readStdin(limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new UsageError(`params on stdin are longer than ${countOf(limit, 'byte')}: raise --max-payload`);
    chunks.push(chunk);
  }
  return withoutBom(Buffer.concat(chunks).toString('utf8'));
}

/** Params from the command line or stdin (at most `limit` bytes of it), parsed as JSON; absent stays absent. */
async function readParams(arg: string | undefined, limit: number): Promise<unknown> {
  if (arg === undefined) return undefined;
  const source = arg === '-' ? await readStdin(limit) : arg;
  try {
    return JSON.parse(source);
  } catch (error) {
    throw new UsageError(`params are not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * Connect options from the flags, with nothing undefined in them (the library's defaults hold).
 * `--timeout` bounds the call itself (a request option), and connecting only for `notify`: a short
 * call timeout must not make a slow connect look like an unreachable server.
 */
function clientOptions(
  url: string,
  values: Record<string, unknown>,
  timeout: number,
  notify: boolean,
  maxPayload: number | undefined,
): ClientOptions {
  const options: ClientOptions = {};
  // nats-server sets the largest message over NATS (connect() refuses maxPayload there): the flag bounds stdin alone.
  if (maxPayload !== undefined && !isNatsUrl(url)) options.maxPayload = maxPayload;
  // Over HTTP nothing opens (connect() refuses handshakeTimeout there).
  if (notify && !isHttpUrl(url)) options.handshakeTimeout = timeout;
  // Over HTTP a notification is a POST of its own: it gets `--timeout` for its answer, and close() waits that long for it.
  if (notify && isHttpUrl(url)) options.timeout = options.closeTimeout = timeout;
  const headers = headerFlags(values.header);
  if (headers !== undefined) options.headers = headers;
  if (values.subject !== undefined) options.subject = values.subject as string;
  return options;
}

/**
 * A value from the server as JSON text. No depth limit applies to answers (the library takes a result as the
 * server sent it), and JSON.stringify overflows its stack on one nested a few thousand levels deep: 10 KB of
 * brackets. Thrown as it is, that RangeError read "Maximum call stack size exceeded" and exited 2, as if the
 * command line were wrong.
 */
function jsonOf(value: unknown, what: string): string {
  try {
    return JSON.stringify(value) ?? 'null';
  } catch (error) {
    throw new Error(`the server's ${what} cannot be printed as JSON (${(error as Error).message}: nested too deep)`);
  }
}

/** An error's `data` as --json prints it: itself, or in words when it cannot be printed (see jsonOf). */
function printableData(data: unknown): unknown {
  try {
    jsonOf(data, 'error data');
    return data;
  } catch (error) {
    return `[${(error as Error).message}]`;
  }
}

/**
 * Counts the frames that answered no call, keeping the first in words. The one call the command makes times out
 * "with no response" when the server did answer, in a way that matches no call: an error with id null (its refusal
 * of a request it could not read, as JSON-RPC answers it), or text that is not JSON-RPC (a plain WebSocket echo or
 * chat server). Said with the timeout, that tells the user what the server sent instead of leaving them to wait again.
 */
function watchStrays(client: { on(event: 'unmatched', listener: (event: UnmatchedEvent) => void): unknown }): () => string | undefined {
  let count = 0;
  let first = '';
  client.on('unmatched', ({ message, detail }) => {
    if (count++ > 0) return;
    let text: string;
    try {
      text = typeof message === 'string' ? message : jsonOf(message, 'frame');
    } catch (error) {
      text = `[${(error as Error).message}]`;
    }
    first = `${quotedText(text)} (${detail})`;
  });
  return () => (count === 0 ? undefined : `the server sent ${countOf(count, 'frame')} that answered no call, the first: ${first}`);
}

/** The error's exit code and what to print about it; `strays`: the frames that answered no call, in words. */
function describeFailure(error: unknown, strays: string | undefined): { code: number; json: Record<string, unknown>; line: string } {
  if (error instanceof RemoteError) {
    const data = error.data === undefined ? {} : { data: printableData(error.data) };
    const json = { name: error.name, code: error.code, message: error.message, ...data };
    return { code: EXIT.remoteError, json, line: `error ${error.code}: ${error.message}` };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  const code = e instanceof TimeoutError ? EXIT.timeout : e instanceof TypeError || e instanceof RangeError ? EXIT.usage : EXIT.failure;
  const json = { name: e.name, code: (e as { code?: unknown }).code, message: e.message };
  if (e instanceof TimeoutError && strays !== undefined)
    return { code, json: { ...json, unmatched: strays }, line: `${e.message}; ${strays}` };
  return { code, json, line: e.message };
}

/** Runs `call` (notify false) or `notify`; resolves with the exit code. */
export async function runCall(args: string[], notify: boolean): Promise<number> {
  const { values, positionals } = parse(args, FLAGS, { min: 2, max: 3 });
  if (values.help) {
    out(notify ? NOTIFY_USAGE : CALL_USAGE);
    return EXIT.ok;
  }
  const [url, method, paramsArg] = positionals as [string, string, string | undefined];
  const timeout = integerFlag(values.timeout, 'timeout', 1, 2 ** 31 - 1) ?? DEFAULT_CALL_TIMEOUT;
  const maxPayload = integerFlag(values['max-payload'], 'max-payload', 1, MAX_PAYLOAD_FLAG);
  const params = await readParams(paramsArg, maxPayload ?? DEFAULT_CLIENT_MAX_PAYLOAD);
  let client;
  // What the client could not deliver (over HTTP, a notification's POST that failed): `notify` fails with it.
  const unsent: unknown[] = [];
  try {
    const options = clientOptions(url, values, timeout, notify, maxPayload);
    if (notify) options.onError = (error, { kind }) => void (kind === 'unsent' && unsent.push(error));
    client = connect(url, options);
  } catch (error) {
    // connect() refuses a bad URL or option synchronously: a command-line mistake.
    throw new UsageError((error as Error).message);
  }
  const strays = watchStrays(client);
  try {
    if (notify) {
      await client.ready;
      client.notify(method, params);
      // Sent once the connection lets it go: over HTTP, once its POST is answered (or failed, or timed out).
      await client.close();
      if (unsent.length > 0) throw unsent[0];
      if (values.json) out(JSON.stringify({ sent: true }));
    } else {
      const result = await client.request(method, params, { timeout });
      // JSON.stringify leaves C1 and bidirectional controls as they are: escaped, for the terminal (same JSON value).
      out(printable(jsonOf(result, 'result')));
    }
    return EXIT.ok;
  } catch (error) {
    const failure = describeFailure(error, strays());
    if (values.json) out(printable(JSON.stringify({ error: failure.json })));
    // The message may be the server's own words (a RemoteError's, or a malformed answer's text): one line, escaped.
    process.stderr.write(`callstate ${notify ? 'notify' : 'call'}: ${printable(failure.line)}\n`);
    return failure.code;
  } finally {
    await client.close();
  }
}
