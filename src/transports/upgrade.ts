/**
 * What an access check sees of a WebSocket upgrade request, and how it answers.
 * Types only, apart from the listener: the public types (`Authenticate`) reach
 * this file, so it imports neither `ws` nor Node's `http`, and a project using
 * callstate typechecks without `@types/ws`.
 */

/** What an access check sees of an upgrade request. */
export interface UpgradeRequest {
  /** The request's headers, names in lower case (Node's `IncomingHttpHeaders`). */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** The request's path and query, e.g. `/rpc?token=x`. */
  url: string;
  remoteAddress: string | undefined;
}

/** An upgrade request that became a socket, with the data its access check attached. */
export interface AcceptedUpgrade extends UpgradeRequest {
  data: unknown;
}

/** An access check's answer: accepted with the data to attach to the connection, or the HTTP status and body to refuse with. */
export type AccessVerdict = { accepted: true; data: unknown } | { accepted: false; status: number; reason: string };

export type UpgradeCheck = (request: UpgradeRequest) => Promise<AccessVerdict>;
