/**
 * What every command shares: strict flag parsing with `node:util` `parseArgs`,
 * the errors that mean "you typed it wrong" (exit 2), and the exit codes.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { quotedText } from '../../core/peer-text.js';

/** Exit codes of the `callstate` command. */
export const EXIT = {
  ok: 0,
  /** The remote peer answered with a JSON-RPC error (RemoteError), unknown method included. */
  remoteError: 1,
  /** Bad command line: unknown command or flag, bad flag value, params that are not JSON. */
  usage: 2,
  /** The call got no answer within its timeout (TimeoutError). */
  timeout: 3,
  /** Anything else: unreachable URL, connection closed, a port in use, a module that does not load. */
  failure: 4,
} as const;

/** A mistake on the command line: reported in one line, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/** Parses `args` strictly: an unknown flag, a flag without its value, or a stray positional is a UsageError. */
export function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, positionals: { min: number; max: number }): Parsed {
  let parsed: Parsed;
  try {
    parsed = parseArgs({ args, options: { help: { type: 'boolean', short: 'h' }, ...options }, strict: true, allowPositionals: true });
  } catch (error) {
    // parseArgs' messages name the flag; drop its advice to use "--" (not meaningful here).
    throw new UsageError((error as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
  }
  if (parsed.values.help) return parsed;
  if (parsed.positionals.length < positionals.min) throw new UsageError('missing arguments');
  if (parsed.positionals.length > positionals.max)
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`);
  return parsed;
}

/**
 * An integer flag within [min, max], written in decimal digits, or `undefined` when absent. `Number()` alone would take
 * "0x10", "1e3", "0b1" and " 7 ", so `--port 0x1F90` would listen on 8080 and `--max-payload 1e3` cap at 1,000:
 * readings a reader of the command line does not expect.
 */
export function integerFlag(value: unknown, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    // Quoted cut: a flag value is the user's own, but a script can pass one of any length.
    throw new UsageError(`--${flag} takes an integer from ${min} to ${max}, got ${JSON.stringify(quotedText(text))}`);
  }
  return n;
}

/**
 * The `--host` flag, or `undefined` when absent. An empty one is refused: Node would listen on every
 * interface (likely an unset variable, not a choice) and the URL printed would be `http://:7070/`.
 */
export function hostFlag(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const text = String(value);
  if (text.trim() === '')
    throw new UsageError(`--host takes an interface's address or name (0.0.0.0 or :: for every interface), got ${JSON.stringify(text)}`);
  return text;
}

/** `--header name:value` flags as an object (a repeated name keeps the last value). */
export function headerFlags(values: unknown): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  const headers: Record<string, string> = {};
  for (const entry of values as string[]) {
    const colon = entry.indexOf(':');
    const name = colon === -1 ? '' : entry.slice(0, colon).trim();
    if (name === '') throw new UsageError(`--header takes name:value, got ${JSON.stringify(entry)}`);
    headers[name] = entry.slice(colon + 1).trim();
  }
  return headers;
}

/** Resolves on the first SIGINT or SIGTERM. */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * A peer's text as a line shows it: control characters (line breaks, terminal
 * escapes) written as \uXXXX, so that a method name in the log, or a server's
 * error message, can neither forge lines nor drive the operator's terminal. So are
 * the bidirectional controls (U+202E and its kin, as in "Trojan Source"): in a
 * terminal or viewer that honours them, a peer's method name reordered the rest of
 * its log line, its final state included.
 *
 * JSON text stays JSON: `JSON.stringify` escapes the C0 controls only, so a C1 one (U+009B is a CSI to many
 * terminals) or a bidirectional one reached stdout as it was; here each becomes the escape JSON itself
 * would write, and the text parses to the same value.
 */
export function printable(text: string): string {
  return text.replace(
    /[\p{Cc}\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** What a module threw, in words on one line: an Error's message, else the value itself. */
export function describeThrown(thrown: unknown): string {
  let words: string;
  try {
    words = String(wordsOf(thrown));
  } catch {
    words = 'it threw a value that cannot be read';
  }
  return words.replace(/\s*\n\s*/g, ' ');
}

function wordsOf(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  if (thrown === null || thrown === undefined) return `it threw ${String(thrown)}`;
  if (typeof thrown === 'object') {
    const message = (thrown as { message?: unknown }).message;
    if (typeof message === 'string') return message;
    try {
      return `it threw ${JSON.stringify(thrown)}`;
    } catch {
      return 'it threw a value that is not an Error';
    }
  }
  return String(thrown);
}

/** Writes a line to stdout. */
export const out = (line: string) => void process.stdout.write(`${line}\n`);
