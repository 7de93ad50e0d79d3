/**
 * TLS options of a `wss://` client. Types only: the public types reach this
 * file, so it imports neither `ws` nor Node's `tls` (a project using callstate
 * typechecks without `@types/ws`).
 */

export interface ClientTlsOptions {
  /** Certificates to trust besides the system's (PEM), e.g. a private CA's or a self-signed server's. */
  ca?: string | Uint8Array | Array<string | Uint8Array>;
  /** Client certificate (PEM), for servers that ask for one. */
  cert?: string | Uint8Array | Array<string | Uint8Array>;
  /** The client certificate's private key (PEM). */
  key?: string | Uint8Array | Array<string | Uint8Array>;
  /** `false` accepts any server certificate: for tests only. Default: true. */
  rejectUnauthorized?: boolean;
  /** Name to verify the server's certificate against (SNI). Default: the URL's host. */
  servername?: string;
}
