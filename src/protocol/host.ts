/**
 * What a Host header may hold when tsgw makes a request's URL from it (a
 * fetch app on node:http): a name or IPv4 address of URL-safe characters, or
 * a bracketed IPv6 address, and a port. Anything else (a space, `/`, `?`,
 * `@`, an open bracket...) would make a URL the app cannot parse, or one whose
 * path is not the request line's (`Host: a/b` makes `/p` into `/b/p`), so the
 * request is answered 400 (RFC 9112 §3.2), as nginx does. Non-ASCII names
 * are refused too (browsers send a name in punycode); a percent-encoded one
 * that decodes to what a host cannot hold fails where the app parses its URL,
 * which guardFetch answers 400 as well.
 */
const VALID_HOST = /^(?:(?:[A-Za-z0-9._~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{0,5})?$/;

export function isValidHost(host: string): boolean {
  return VALID_HOST.test(host);
}
