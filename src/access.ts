/**
 * Who may open a connection: the `origins` allow-list and the `authenticate`
 * hook of `serve()`, combined into one check that the WebSocket listener runs
 * on each upgrade request, before the socket is accepted. A refused client
 * gets an HTTP answer (401 or 403, with the reason as its body), never a socket;
 * an accepted one may carry data, which its connection keeps (`ctx.connection.data`).
 */
import type { AccessVerdict, UpgradeCheck, UpgradeRequest } from './transports/upgrade.js';

export type { AccessVerdict, UpgradeRequest } from './transports/upgrade.js';

/** How `authenticate` refuses with a chosen status and reason. */
export interface Refusal {
  /** Default: 401. */
  status?: 401 | 403;
  /** Sent as the body of the HTTP answer, shown in the client's error. Default: the status text. */
  reason?: string;
}

/** How `authenticate` accepts and attaches data to the connection (`ctx.connection.data`). */
export interface Acceptance {
  data: unknown;
}

/**
 * Decides on an upgrade request (or a NATS message): `true` accepts it, `{ data }` accepts it and
 * attaches `data` to the connection, `false` refuses it with 401, a `Refusal` refuses it with its
 * status and reason. An object is an acceptance only when it has a `data` property and neither
 * `status` nor `reason`; any other answer refuses (401). A hook that throws or rejects refuses with 500.
 */
export type Authenticate = (request: UpgradeRequest) => boolean | Refusal | Acceptance | Promise<boolean | Refusal | Acceptance>;

/** In `origins`: allow requests without an Origin header (clients other than browsers). */
export const NO_ORIGIN = 'none';

const ACCEPTED: AccessVerdict = { accepted: true, data: undefined };

/** Validates `origins` and `authenticate`; returns the combined check, or undefined when neither is set. */
export function accessCheck(origins: unknown, authenticate: unknown): UpgradeCheck | undefined {
  const allowed = origins === undefined ? undefined : validateOrigins(origins);
  if (authenticate !== undefined && typeof authenticate !== 'function') {
    throw new TypeError(`options.authenticate must be a function, got ${authenticate === null ? 'null' : typeof authenticate}`);
  }
  if (allowed === undefined && authenticate === undefined) return undefined;
  const hook = authenticate as Authenticate | undefined;
  return async (request) => {
    if (allowed !== undefined) {
      // Node gives one string; several Origin headers (an array) match no allowed origin.
      const header = request.headers.origin;
      const origin = Array.isArray(header) ? header.join(', ') : header;
      if (origin === undefined ? !allowed.has(NO_ORIGIN) : !allowed.has(origin)) {
        return { accepted: false, status: 403, reason: origin === undefined ? 'no Origin header' : `origin ${origin} is not allowed` };
      }
    }
    if (hook === undefined) return ACCEPTED;
    // Reading the answer runs the app's code too (a getter, a Proxy's traps): a throw there refuses as the
    // hook's own would. Outside the try it would reject the check, which its callers do not catch (the
    // process would die of an unhandled rejection, and the caller wait for its deadline).
    try {
      return verdictOf(await hook(request));
    } catch {
      return { accepted: false, status: 500, reason: 'authentication failed' };
    }
  };
}

/** Reads `authenticate`'s answer; anything but `true` or an unambiguous `{ data }` refuses (fail closed). */
function verdictOf(answer: unknown): AccessVerdict {
  if (answer === true) return ACCEPTED;
  if (answer === false || answer === null || typeof answer !== 'object') return { accepted: false, status: 401, reason: 'Unauthorized' };
  const { status: asked, reason: given } = answer as Refusal;
  if ('data' in answer && asked === undefined && given === undefined) return { accepted: true, data: (answer as Acceptance).data };
  const status = asked === 403 ? 403 : 401;
  const reason = typeof given === 'string' && given !== '' ? given : status === 403 ? 'Forbidden' : 'Unauthorized';
  return { accepted: false, status, reason };
}

/** A check's verdict, or a 408 refusal once `ms` have passed without one (`option` names the limit in the reason). */
export function withDeadline(verdict: Promise<AccessVerdict>, ms: number, option: string): Promise<AccessVerdict> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<AccessVerdict>((resolve) => {
    timer = setTimeout(
      () => resolve({ accepted: false, status: 408, reason: `authenticate did not answer within ${ms} ms (${option})` }),
      ms,
    );
  });
  return Promise.race([verdict, late]).finally(() => clearTimeout(timer));
}

/** The `origins` option as a set (validated), or undefined when every origin is allowed. */
export function allowedOrigins(origins: unknown): ReadonlySet<string> | undefined {
  return origins === undefined ? undefined : validateOrigins(origins);
}

/**
 * Each entry is an origin as browsers send it (`https://app.example`, with a
 * port when not the default: scheme, host and port only), `'null'` (the
 * Origin of sandboxed and file pages) or `'none'` (NO_ORIGIN).
 */
function validateOrigins(origins: unknown): Set<string> {
  if (!Array.isArray(origins))
    throw new TypeError(`options.origins must be an array of origins, got ${origins === null ? 'null' : typeof origins}`);
  origins.forEach((origin, i) => {
    if (typeof origin !== 'string') throw new TypeError(`options.origins[${i}] must be a string, got ${typeof origin}`);
    if (origin === NO_ORIGIN || origin === 'null') return;
    let serialized: string | undefined;
    try {
      serialized = new URL(origin).origin;
    } catch {
      // reported below
    }
    if (serialized !== origin) {
      throw new TypeError(
        `options.origins[${i}] must be an origin such as "https://app.example" (scheme, host and port only), 'null' or '${NO_ORIGIN}', got ${JSON.stringify(origin)}`,
      );
    }
  });
  return new Set(origins as string[]);
}
