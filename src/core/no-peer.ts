/**
 * What handlers get as `ctx.peer` where there is no way back to the caller (a NATS responder,
 * an HTTP request): calling or notifying the caller fails with `NotSupportedError`, saying why.
 */
import { NotSupportedError } from '../errors.js';
import { callProxy } from './call-proxy.js';
import type { PeerApi } from '../types.js';

/** A `ctx.peer` for callers reached over `over` (e.g. 'NATS', 'HTTP'), which cannot be called back. */
export function noPeer(over: string): PeerApi<any> {
  const request = (method: string) =>
    Promise.reject(new NotSupportedError(`cannot call "${method}" on the caller: responders cannot call back over ${over}`));
  return {
    request,
    call: callProxy(request),
    notify: (method: string) => {
      throw new NotSupportedError(`cannot notify "${method}" to the caller: responders cannot notify callers over ${over}`);
    },
    on: () => () => {},
    once: () => () => {},
    close: () => Promise.resolve(),
  };
}
