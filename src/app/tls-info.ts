/**
 * What a TLS connection tells about itself, for apps (`info.tls` of a fetch
 * handler) and the access log (`%({ssl_client_s_dn}e)s`, nginx's variable
 * names): read from a node:tls socket (node:https, node:http2) when asked,
 * once per connection. Servers that expose no TLS socket (Bun.serve,
 * Deno.serve) have none of it.
 */
import type { X509Certificate } from "node:crypto";

/** The TLS side of a request; `client*` are null when the client sent no certificate. */
export interface TlsInfo {
  /** TLSv1.2, TLSv1.3 */
  readonly protocol: string | null;
  /** the cipher suite's standard name */
  readonly cipher: string | null;
  /** what ALPN chose: h2, http/1.1 (null: the client offered none) */
  readonly alpn: string | null;
  /** the client certificate chains to --ca-certs */
  readonly clientVerified: boolean;
  /** why it does not (OpenSSL's code, e.g. UNABLE_TO_GET_ISSUER_CERT), null when it does or none was sent */
  readonly clientVerifyError: string | null;
  /** the client certificate's subject and issuer, RFC 2253 (as nginx's $ssl_client_s_dn): CN=client,O=Acme */
  readonly clientSubject: string | null;
  readonly clientIssuer: string | null;
  /** its serial number, hexadecimal */
  readonly clientSerial: string | null;
}

/** the part of node:tls's TLSSocket read here */
interface TlsSocketLike {
  encrypted?: boolean;
  authorized?: boolean;
  authorizationError?: Error | string | null;
  alpnProtocol?: string | false | null;
  getProtocol?(): string | null;
  getCipher?(): { standardName?: string; name?: string } | undefined;
  getPeerX509Certificate?(): X509Certificate | undefined;
}

const seen = new WeakMap<object, TlsInfo>();

/** RFC 2253 order is the certificate's, reversed: X509Certificate lists it as written, one per line */
const rfc2253 = (name: string): string => name.split("\n").reverse().join(",");

function read(socket: TlsSocketLike): TlsInfo {
  const cert = socket.getPeerX509Certificate?.();
  const error = socket.authorizationError;
  const cipher = socket.getCipher?.();
  return {
    protocol: socket.getProtocol?.() ?? null,
    cipher: cipher?.standardName ?? cipher?.name ?? null,
    alpn: socket.alpnProtocol || null,
    clientVerified: cert !== undefined && socket.authorized === true,
    clientVerifyError: cert && error ? String((error as { code?: string }).code ?? error) : null,
    clientSubject: cert ? rfc2253(cert.subject) : null,
    clientIssuer: cert ? rfc2253(cert.issuer) : null,
    clientSerial: cert?.serialNumber ?? null,
  };
}

/** The TLS side of the connection `socket` (a node:tls socket, or what node:http2 gives for one), undefined for a plain one. */
export function tlsInfo(socket: unknown): TlsInfo | undefined {
  const s = socket as TlsSocketLike | null | undefined;
  if (!s?.encrypted || typeof s.getProtocol !== "function") return undefined;
  let info = seen.get(s);
  if (!info) seen.set(s, info = read(s));
  return info;
}

/** nginx's names for them, as the access log's %({name}e)s writes them */
const VARIABLES: Record<string, (t: TlsInfo) => string | null> = {
  ssl_protocol: (t) => t.protocol,
  ssl_cipher: (t) => t.cipher,
  ssl_alpn_protocol: (t) => t.alpn,
  ssl_client_s_dn: (t) => t.clientSubject,
  ssl_client_i_dn: (t) => t.clientIssuer,
  ssl_client_serial: (t) => t.clientSerial,
  ssl_client_verify: (t) => (t.clientSubject === null ? "NONE" : t.clientVerified ? "SUCCESS" : `FAILED:${t.clientVerifyError ?? "unknown"}`),
};

/** The TLS variable `name` of a connection, undefined on a plain one. */
export function tlsVariable(socket: unknown, name: string): string | undefined {
  const info = tlsInfo(socket);
  return info ? VARIABLES[name.toLowerCase()]?.(info) ?? undefined : undefined;
}
