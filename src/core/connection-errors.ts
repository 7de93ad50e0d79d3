/**
 * How a connection's end is put in words: the `ConnectionClosedError` that
 * fails its pending calls, built from the connection actor's context. One
 * error object per event, shared by every call that event failed.
 */
import type { ConnectionContext } from '../../machines/connection.machine.js';
import { ConnectionClosedError } from '../errors.js';
import { countOf } from '../words.js';

/** The connection closed for good (or never opened): every pending call fails with this. */
export function closedError(url: string, context: ConnectionContext, opened: boolean): ConnectionClosedError {
  const { closeCode, closeReason, error, attempt, reconnect } = context;
  const { code, because } = closeCause(context);
  const gaveUp = reconnect && attempt > 0 ? `; gave up after ${countOf(attempt, 'attempt')} to reconnect (maxAttempts)` : '';
  const message = opened
    ? `the connection to ${url} closed before the call settled${code}${because}${gaveUp}`
    : `could not connect to ${url}${code}${because}${gaveUp}`;
  return new ConnectionClosedError(message, { closeCode, closeReason, cause: error });
}

/** What a lost call's error adds when the connection reconnects: why this call was not re-sent. */
const NOT_RETRY = '; it is reconnecting, and a call is re-sent only with { retry: true }';

/** Calls written on a lost epoch fail with this: the connection reconnects, but a call is re-sent only if marked retry. */
export function lostError(url: string, context: ConnectionContext): ConnectionClosedError {
  const { closeCode, closeReason, error } = context;
  const { code, because } = closeCause(context);
  const message = `the connection to ${url} was lost after the call was written${code}${because}${NOT_RETRY}`;
  return new ConnectionClosedError(message, { closeCode, closeReason, cause: error });
}

/**
 * A retry call lost with its connection once more than `retry` allows fails with this: `lost` is the error of the
 * calls lost with it (one per call: the counts are its own). `writes`: how many times it was written, each time lost.
 */
export function retriesSpentError(lost: ConnectionClosedError, writes: number): ConnectionClosedError {
  const why = lost.message.endsWith(NOT_RETRY) ? lost.message.slice(0, -NOT_RETRY.length) : lost.message;
  const retries = writes - 1;
  return new ConnectionClosedError(
    `${why}; this retry call was written ${countOf(writes, 'time')}, each time on a connection then lost, and is not sent again (retry: at most ${countOf(retries, 're-send')})`,
    { closeCode: lost.closeCode, closeReason: lost.closeReason, cause: lost.cause },
  );
}

/** A call or notification made on a closing or closed connection fails at once with this. */
export function notOpenError(
  url: string,
  state: string,
  verb: 'call' | 'notify',
  method: string,
  context: ConnectionContext,
  cause: unknown,
) {
  const { closeCode, closeReason } = context;
  return new ConnectionClosedError(`cannot ${verb} "${method}": the connection to ${url} is ${state}`, { closeCode, closeReason, cause });
}

/** This side closed, terminated or dropped the connection: pending calls fail with this instead of a description of the close. */
export function localCloseError(url: string, how: string, closeCode: number, closeReason: string): ConnectionClosedError {
  return new ConnectionClosedError(`the connection to ${url} was ${how}`, { closeCode, closeReason });
}

/** The close code and transport error of a connection, in words. */
function closeCause({ closeCode, closeReason, error }: ConnectionContext): { code: string; because: string } {
  return {
    code: closeCode === undefined ? '' : ` (code ${closeCode}${closeReason ? `, reason "${closeReason}"` : ''})`,
    because: error instanceof Error ? `: ${error.message}` : '',
  };
}
