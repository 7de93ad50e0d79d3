/** Requests refused unrun: a duplicate id, or too many calls (or too large ones) in flight. */
import type { ResponderLimits } from '../limits.js';
import { errorFrame, ErrorCodes, type ErrorFrame, type ErrorObject, type Id } from '../protocol/jsonrpc.js';
import { countOf } from '../words.js';

/**
 * The answer to a request whose id is the id of a request still being handled
 * on the same connection (or by the same NATS responder): the two cannot both
 * be answered by id, so the second is refused and the first runs on.
 */
export function duplicateRequestFrame(id: Id): ErrorFrame {
  return errorFrame(id, { code: ErrorCodes.InvalidRequest, message: `a request with id ${JSON.stringify(id)} is already being handled` });
}

/** What runs on a connection now: calls (and notifications running a method), and the size of their requests. */
export interface Running {
  readonly size: number;
  readonly bytes: number;
  /** Of `bytes`, the answers held for batches not yet complete (their calls ended); none when absent. */
  readonly held?: number;
}

/** Which in-flight limit one more call, `bytes` long, would pass where `running` runs; undefined when it fits. */
export function pastInFlightLimits(limits: ResponderLimits, running: Running, bytes: number): 'count' | 'bytes' | undefined {
  if (running.size >= limits.maxInFlight) return 'count';
  return running.bytes === 0 || running.bytes + bytes <= limits.maxInFlightBytes ? undefined : 'bytes';
}

/**
 * Why a call of `method`, `bytes` long, is refused unrun by the in-flight limits of a connection where `running`
 * runs (-32000, so the caller may retry later), or undefined. A call larger than `maxInFlightBytes` alone still runs
 * when nothing else does: `maxPayload` bounds it.
 */
export function inFlightRefusal(limits: ResponderLimits, running: Running, method: string, bytes: number): ErrorObject | undefined {
  const { maxInFlight, maxInFlightBytes, side } = limits;
  const over = pastInFlightLimits(limits, running, bytes);
  if (over === undefined) return undefined;
  if (over === 'count') {
    const message = `${side} busy: ${countOf(maxInFlight, 'call')} already in flight on this connection (maxInFlightPerConnection); "${method}" was not run`;
    return { code: ErrorCodes.ServerBusy, message, data: { maxInFlightPerConnection: maxInFlight } };
  }
  const held = running.held ? ` (${running.held} of them answers held until the rest of their batch is answered)` : '';
  // Sizes are in characters of the requests' JSON text (string length, what maxInFlightBytesPerConnection counts), not bytes.
  const message = `${side} busy: requests of ${countOf(running.bytes, 'character')} already running on this connection${held}, ${countOf(bytes, 'character')} more would pass ${maxInFlightBytes} (maxInFlightBytesPerConnection); "${method}" was not run`;
  return { code: ErrorCodes.ServerBusy, message, data: { maxInFlightBytesPerConnection: maxInFlightBytes } };
}
