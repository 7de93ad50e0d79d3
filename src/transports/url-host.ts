/**
 * The host part of a URL that reaches a listener bound to `host`: a wildcard (every interface) as
 * loopback, which a client on this machine can reach (a browser opens no wildcard address), and an
 * IPv6 address in brackets.
 */
export function urlHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}
