/**
 * What the caller of a replayed call path receives (call.model.test.ts): the
 * value or the error of the event that ended the call, class, code and message.
 */
import { expect } from 'vitest';
import { ConnectionClosedError, RemoteError, TimeoutError } from '../../src/index.js';

/** The caller's promise settled as the final state says, with the error of the event that ended the call. */
export function expectOutcome(
  outcome: { value?: unknown; error?: any },
  final: string,
  last: string,
  lastFrom: string | undefined,
  epochs: number,
  timeout: number,
): void {
  switch (final) {
    case 'resolved':
      expect(outcome).toEqual({ value: 3 });
      break;
    case 'timedOut':
      expect(outcome.error).toBeInstanceOf(TimeoutError);
      expect(outcome.error).toMatchObject({ code: 'ERR_CALL_TIMEOUT', method: 'sum', timeout });
      break;
    case 'cancelled':
      expect(outcome.error).toBeInstanceOf(DOMException);
      expect(outcome.error.name).toBe('AbortError');
      break;
    case 'failed': {
      if (last === 'response.error') {
        expect(outcome.error).toBeInstanceOf(RemoteError);
        expect(outcome.error).toMatchObject({ code: -32601, message: 'Method not found' });
        break;
      }
      expect(outcome.error).toBeInstanceOf(ConnectionClosedError);
      expect(outcome.error.code).toBe('ERR_CONNECTION_CLOSED');
      // In `sent` the write fails before the loss is reported (see call.model.test.ts).
      const lostInFlight = last === 'request.writeFailed' || lastFrom === 'sent';
      const because =
        last === 'connection.lost'
          ? lostInFlight
            ? /could not be written/
            : /was lost after the call was written .*re-sent only with \{ retry: true \}/
          : last === 'request.writeFailed'
            ? /could not be written/
            : lastFrom !== 'queued'
              ? /was closed locally/
              : epochs === 0
                ? /could not connect .*gave up after 1 attempt to reconnect/
                : /closed before the call settled .*gave up after 1 attempt to reconnect/;
      expect(outcome.error.message).toMatch(because);
      break;
    }
  }
}
