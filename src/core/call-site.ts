/**
 * The stack a caller sees on a call that fails later, from a timer or a socket
 * event: the frames of the line that made the call (with `callSiteStacks`),
 * never those of callstate's timer or socket handler. Errors made inside
 * callstate are made without frames (`unframed`, several µs an error saved) and
 * given the call site's (`pointAt`); `failure` puts a call's end in an error.
 */
import type { CallContext, CallStatus } from '../../machines/call.logic.js';
import { AbortError, CallstateError, ConnectionClosedError, TimeoutError } from '../errors.js';

/**
 * Why a call that did not resolve failed, as the caller sees it: our errors show the caller's stack; an abort reason is
 * the caller's own. `unsent`: what held a call that timed out still waiting in `queued`; `lost`: it was written on a
 * connection since lost (a `retry` call), see TimeoutError.
 */
export function failure(
  status: Exclude<CallStatus, 'resolved'>,
  context: CallContext,
  site: Error | undefined,
  unsent?: string,
  lost?: boolean,
): unknown {
  const { method, id, error } = context;
  switch (status) {
    case 'timedOut':
      return pointAt(
        unframed(() => new TimeoutError(method, id, context.timeout, unsent, lost)),
        site,
      );
    case 'cancelled':
      return error !== undefined
        ? error
        : pointAt(
            unframed(() => new AbortError(`call "${method}" (id ${id}) was aborted`)),
            site,
          );
    case 'failed':
      if (!(error instanceof CallstateError))
        return pointAt(
          unframed(() => new ConnectionClosedError(`call "${method}" (id ${id}) could not be written`, { cause: error })),
          site,
        );
      // A close's error is one object for every call it fails (and for `ready`), as net/rpc's ErrShutdown: it shows the first caller's stack.
      if (error instanceof ConnectionClosedError && pointed.has(error)) return error;
      return pointAt(error, site);
  }
}

/**
 * Stack frames kept of a call site: `start`, `Peer.request` and two of the
 * caller's. Each frame costs about 64 bytes for as long as the call is pending
 * (ten, V8's default, would double the heap of a pending call); a process that
 * raised `Error.stackTraceLimit` past the default gets as many as it asked for.
 */
const CALL_SITE_FRAMES = 4;
const DEFAULT_STACK_TRACE_LIMIT = 10;

/**
 * Where the caller made the call, captured when it is made (as nats.js's
 * `RequestError`): errors settle the call later, from a timer or a socket
 * event, where their own stack would show only callstate's internals. The
 * stack is captured now and formatted only if the call fails.
 */
export function captureCallSite(): Error | undefined {
  const limit = Error.stackTraceLimit;
  if (!(limit > 0)) return undefined;
  if (limit <= DEFAULT_STACK_TRACE_LIMIT) Error.stackTraceLimit = Math.min(limit, CALL_SITE_FRAMES);
  const site = new Error();
  Error.stackTraceLimit = limit;
  return site;
}

/**
 * Makes an error that settles a call from inside callstate (a deadline, a socket event) without stack frames:
 * they would show only callstate's timer or socket handler, never the caller, and capturing ten of them costs
 * several µs an error, most of a timeout storm's time. `pointAt` gives it the call site's frames when captured.
 * A process that raised `Error.stackTraceLimit` past the default keeps its frames.
 */
export function unframed<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  if (!(limit > 0 && limit <= DEFAULT_STACK_TRACE_LIMIT)) return make();
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Errors whose stack already shows a call site. */
const pointed = new WeakSet<Error>();

/** Gives `error` the stack of the call site: its own first line, then the caller's frames (below `start`). */
export function pointAt<E extends Error>(error: E, site: Error | undefined): E {
  if (site === undefined) return error;
  const frames = site.stack;
  if (typeof frames !== 'string') return error;
  // The site's first line is its empty header ("Error"), its first frame `start` itself.
  const first = frames.indexOf('\n    at ');
  const below = first < 0 ? -1 : frames.indexOf('\n', first + 1);
  error.stack = `${error.name}: ${error.message}${below < 0 ? '' : frames.slice(below)}`;
  pointed.add(error);
  return error;
}
