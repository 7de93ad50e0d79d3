/** Requests refused unrun: a duplicate id, or too many calls in flight. */
import { errorFrame, ErrorCodes, type ErrorFrame, type ErrorObject, type Id } from '../protocol/jsonrpc.js';

/**
 * The answer to a request whose id is the id of a request still being handled
 * on the same connection (or by the same NATS responder): the two cannot both
 * be answered by id, so the second is refused and the first runs on.
 */
export function duplicateRequestFrame(id: Id): ErrorFrame {
  return errorFrame(id, { code: ErrorCodes.InvalidRequest, message: `a request with id ${JSON.stringify(id)} is already being handled` });
}

/**
 * Why a request is refused unrun when `limit` incoming calls already run on
 * the connection (or the NATS responder): -32000, so the caller may retry later.
 */
export function inFlightBusy(limit: number, method: string): ErrorObject {
  const message = `server busy: ${limit} calls already in flight on this connection (maxInFlightPerConnection); "${method}" was not run`;
  return { code: ErrorCodes.ServerBusy, message, data: { maxInFlightPerConnection: limit } };
}
