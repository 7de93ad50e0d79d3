/**
 * The answer to a request that reaches a server while it drains
 * (`close({ drain })`): -32000, as a busy server answers, so that the caller
 * may retry elsewhere. The same words on every transport.
 */
import { ErrorCodes, type ErrorObject } from '../protocol/jsonrpc.js';

export function serverClosing(method: string): ErrorObject {
  return {
    code: ErrorCodes.ServerBusy,
    message: `server closing: no new calls are accepted; "${method}" was not run`,
    data: { closing: true },
  };
}
