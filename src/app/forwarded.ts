/**
 * A proxy that ends TLS and passes the request on over plain HTTP says so in
 * `X-Forwarded-Proto: https` (or `X-Forwarded-Ssl: on`). From a peer the
 * operator trusts (Gunicorn's forwarded_allow_ips: by default this host's own
 * proxy), a fetch app's request then says `https://` in its URL, as it would
 * had tsgw ended the TLS itself: absolute redirects, cookie and origin checks
 * stay right. A header from any other peer is ignored, so a client cannot
 * claim it; a peer on a unix socket is trusted. Node listeners read the header themselves (Express's trust proxy).
 */
import type { FetchHandler } from "./contract.ts";
import { requestHeader } from "./request-header.ts";

/** An IPv4 peer as node:net may give it on a dual-stack socket (::ffff:127.0.0.1) */
export function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

/** `allowIps`: exact addresses, or `*` for any peer; none (or only empty ones: `--forwarded-allow-ips ''`): the headers are never believed. */
export function forwardedScheme(handler: FetchHandler, given: readonly string[]): FetchHandler {
  const allowIps = given.map((ip) => ip.trim()).filter(Boolean);
  if (allowIps.length === 0) return handler;
  const any = allowIps.includes("*");
  const allowed = new Set(allowIps.map(normalizeIp));
  // a peer on a unix socket has no address (Deno gives none at all): it reached the socket through the file's
  // permissions, and is trusted, as unix sockets are by socket-allow-from
  const trusted = (peer: string | undefined) => any || !peer || allowed.has(normalizeIp(peer));
  return (req, info) => {
    // (index 4 is the ":" of "http:"; a request that came over TLS says https already)
    if (req.url.charCodeAt(4) === 58 && saysHttps(req) && trusted(info.remoteAddr.hostname)) {
      // the runtime's own request is kept (a server's upgrade() takes no other), its URL made https
      Object.defineProperty(req, "url", { value: `https${req.url.slice(4)}`, configurable: true });
    }
    return handler(req, info);
  };
}

function saysHttps(req: Request): boolean {
  const proto = requestHeader(req, "x-forwarded-proto");
  // a chain of proxies lists one scheme each, the first proxy's first
  if (proto !== null) return proto.split(",", 1)[0]!.trim().toLowerCase() === "https";
  return requestHeader(req, "x-forwarded-ssl")?.toLowerCase() === "on";
}
