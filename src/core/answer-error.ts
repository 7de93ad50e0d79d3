/**
 * The answer to one call that the channel delivered as that call's (an HTTP POST's body, a NATS request's reply
 * subject) but that did not settle it by its id: when it is a single JSON-RPC error response with id null, the peer
 * could not read the request's id (-32700, -32600 past its `maxDepth`) or writes no id in its errors, and the error is
 * that call's all the same: a channel that carries one call per answer leaves no other call it could be.
 */
import { RemoteError } from '../errors.js';
import { decode } from '../protocol/jsonrpc.js';

/**
 * The peer's error in `answer` (the text that came for the call `id`), as a `RemoteError` with its code, message and
 * data, when it is a single error response to that call or with id null; undefined otherwise.
 */
export function errorForCall(answer: string | undefined, id: string | undefined): RemoteError | undefined {
  if (answer === undefined || id === undefined) return undefined;
  const decoded = decode(answer);
  if (decoded.kind !== 'single' || decoded.message.kind !== 'error') return undefined;
  const { frame } = decoded.message;
  if (frame.id !== null && frame.id !== id) return undefined;
  const { code, message, data } = frame.error;
  return new RemoteError(code, message, data);
}
