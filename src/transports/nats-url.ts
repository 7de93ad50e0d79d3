/**
 * How a callstate `nats://` URL (one, or a comma-separated list) becomes nats.js's connect options. No Node built-ins
 * and no NATS client: urls.ts (in the browser build too) checks URLs with it.
 */

/** Where nats.js is to connect, and as whom: `servers`, and `user` and `pass`, or `token`, when the URL carries them. */
export interface NatsConnectTarget {
  servers: string[];
  user?: string;
  pass?: string;
  token?: string;
}

/** Why a nats:// URL cannot be given to nats.js as it is (its words never show the credentials). */
export class NatsUrlError extends Error {}

/**
 * What nats.js's `connect()` is given for a callstate `nats://` URL. nats.js 3 takes neither: a comma-separated list in
 * one string is read as one server (the last host:port of it, the others never tried), and the credentials of a URL
 * are dropped (never sent: a nats-server that requires them refuses with 'Authorization Violation'). As the NATS
 * clients that take such URLs (Go's, the `nats` CLI) read them: each URL of the list is a server; `user:password@`
 * is a user and password, `token@` a token, percent-encoding decoded. nats.js sends one set of credentials to
 * whichever server it connects to: URLs that carry different ones throw `NatsUrlError` (validateNatsUrl says so as a
 * TypeError); one without credentials uses those of the others.
 */
export function natsConnectTarget(url: string): NatsConnectTarget {
  const servers: string[] = [];
  let auth: Omit<NatsConnectTarget, 'servers'> | undefined;
  let authFrom = '';
  for (const entry of url.split(',')) {
    const parsed = new URL(entry.trim());
    servers.push(`nats://${parsed.host}`);
    // The userinfo runs to the last '@' before the host, as URL parsing takes it; its ':' tells a password (even an
    // empty one) from a token, which the parsed URL does not.
    const userinfo = /^\s*nats:\/\/([^/?#]*)@/i.exec(entry)?.[1];
    if (userinfo === undefined) continue;
    if (auth !== undefined) {
      if (userinfo !== authFrom)
        throw new NatsUrlError(
          'the URLs of a nats:// list must carry the same credentials, or none (nats.js sends one set to whichever it connects to)',
        );
      continue;
    }
    const colon = userinfo.indexOf(':');
    try {
      auth =
        colon < 0
          ? { token: decodeURIComponent(userinfo) }
          : { user: decodeURIComponent(userinfo.slice(0, colon)), pass: decodeURIComponent(userinfo.slice(colon + 1)) };
    } catch {
      throw new NatsUrlError('its credentials are not valid percent-encoding');
    }
    authFrom = userinfo;
  }
  return { servers, ...auth };
}
