/**
 * The uwsgi wire protocol, as nginx's uwsgi_pass and uWSGI speak it. Pure:
 * bytes in, values out; no I/O and nothing else of tsgw imported.
 *
 * Request: a 4-byte header (modifier1 u8, datasize u16 little-endian,
 * modifier2 u8), then `datasize` bytes of vars (key length u16 LE, key,
 * value length u16 LE, value, repeated), then CONTENT_LENGTH bytes of body.
 * Response: a plain HTTP/1.x status line, headers and body.
 *
 * Bytes are decoded as latin1, one char per byte, as HTTP header bytes are:
 * nothing is lost, and the values are valid for Headers.
 */

import { Buffer } from "node:buffer";

export const HEADER_SIZE = 4;
/** an HTTP token: what a method or header name may be */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** uWSGI's default buffer-size: the largest vars block accepted */
export const DEFAULT_BUFFER_SIZE = 4096;

export interface UwsgiPacket {
  modifier1: number;
  modifier2: number;
  /** the vars in the order sent: key, value, key, value, ... */
  pairs: string[];
  /** bytes the header and vars took; the body starts here */
  consumed: number;
}

/** The vars as an object (a key sent twice: the last value). */
export function varsOf(pairs: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = Object.create(null);
  for (let i = 0; i < pairs.length; i += 2) vars[pairs[i]!] = pairs[i + 1]!;
  return vars;
}

export type ParseResult =
  | { kind: "packet"; packet: UwsgiPacket }
  /** not all of the header and vars have arrived: wait for `need` bytes in all */
  | { kind: "incomplete"; need: number }
  /** the peer sent something that is no uwsgi request: close the connection */
  | { kind: "error"; reason: string };

/**
 * One char per byte. (TextDecoder("latin1") is windows-1252 in the WHATWG
 * encoding spec and would change bytes 0x80-0x9f; Buffer's latin1 is exact,
 * and 10x faster than String.fromCharCode over the bytes.)
 */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return buf.toString("latin1", start, end);
}

/** Read one request's header and vars from the start of `buf`. Never throws. */
export function parseRequest(buf: Uint8Array, bufferSize = DEFAULT_BUFFER_SIZE): ParseResult {
  if (buf.length < HEADER_SIZE) return { kind: "incomplete", need: HEADER_SIZE };
  const modifier1 = buf[0]!;
  const datasize = buf[1]! | (buf[2]! << 8);
  const modifier2 = buf[3]!;
  if (modifier1 !== 0) return { kind: "error", reason: `unsupported modifier1 ${modifier1} (only 0, a plain request, is served)` };
  if (datasize > bufferSize) return { kind: "error", reason: `vars block of ${datasize} bytes exceeds buffer-size ${bufferSize}` };
  const end = HEADER_SIZE + datasize;
  if (buf.length < end) return { kind: "incomplete", need: end };
  // the whole block decoded once: a char per byte, so byte offsets are string offsets
  const text = latin1(buf, 0, end);
  const pairs: string[] = [];
  let method: string | undefined;
  let contentLength: string | undefined;
  let pos = HEADER_SIZE;
  while (pos < end) {
    if (pos + 2 > end) return { kind: "error", reason: "truncated key length in the vars block" };
    const klen = buf[pos]! | (buf[pos + 1]! << 8);
    pos += 2;
    if (pos + klen + 2 > end) return { kind: "error", reason: "a key length points past the vars block" };
    const key = text.slice(pos, pos + klen);
    pos += klen;
    const vlen = buf[pos]! | (buf[pos + 1]! << 8);
    pos += 2;
    if (pos + vlen > end) return { kind: "error", reason: "a value length points past the vars block" };
    const value = text.slice(pos, pos + vlen);
    pos += vlen;
    pairs.push(key, value);
    if (key === "REQUEST_METHOD") method = value;
    else if (key === "CONTENT_LENGTH") contentLength = value;
  }
  if (!method) return { kind: "error", reason: "missing REQUEST_METHOD" };
  if (!TOKEN.test(method)) return { kind: "error", reason: "invalid REQUEST_METHOD" };
  if (contentLength && !/^\d{1,15}$/.test(contentLength)) return { kind: "error", reason: `invalid CONTENT_LENGTH "${contentLength.slice(0, 20)}"` };
  return { kind: "packet", packet: { modifier1, modifier2, pairs, consumed: end } };
}

/** Encode a request header and vars (what nginx sends); for clients and tests. */
export function encodeRequest(vars: Record<string, string>, modifier1 = 0, modifier2 = 0): Uint8Array {
  const parts: number[] = [];
  const put16 = (n: number) => parts.push(n & 0xff, (n >> 8) & 0xff);
  const putStr = (s: string) => {
    put16(s.length);
    for (let i = 0; i < s.length; i++) parts.push(s.charCodeAt(i) & 0xff);
  };
  for (const [k, v] of Object.entries(vars)) {
    putStr(k);
    putStr(v);
  }
  const out = new Uint8Array(HEADER_SIZE + parts.length);
  out[0] = modifier1;
  out[1] = parts.length & 0xff;
  out[2] = (parts.length >> 8) & 0xff;
  out[3] = modifier2;
  out.set(parts, HEADER_SIZE);
  return out;
}

/** The request the vars describe, as an HTTP request with the same data would be. */
export interface RequestParts {
  method: string;
  /** absolute URL */
  url: string;
  /** path and query */
  path: string;
  /** host[:port] of the URL */
  host: string;
  https: boolean;
  /** lower-case names, in the order the vars gave them */
  headers: [string, string][];
  /** body length; 0 when there is none */
  contentLength: number;
  remote: { hostname: string; port: number };
  /** the Upgrade header, when the client sent one (a WebSocket handshake: "websocket") */
  upgrade?: string;
}

/** The headers nginx sends for nearly every request, named once rather than per request. */
const COMMON_NAMES = new Map(
  [
    "HOST",
    "USER_AGENT",
    "ACCEPT",
    "ACCEPT_ENCODING",
    "ACCEPT_LANGUAGE",
    "CONNECTION",
    "COOKIE",
    "REFERER",
    "X_FORWARDED_FOR",
    "X_REAL_IP",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
  ].map(
    (n) => [`HTTP_${n}`, n.toLowerCase().replaceAll("_", "-")],
  ),
);

/** HTTP_X_FOO -> x-foo */
function headerName(key: string): string {
  return COMMON_NAMES.get(key) ?? key.slice(5).toLowerCase().replaceAll("_", "-");
}

/** The request the vars describe (given as an object, for tools and tests). */
export function requestFromVars(vars: Record<string, string>): RequestParts {
  return requestFromPairs(Object.entries(vars).flat());
}

/** The request the vars describe, from a packet's pairs: one pass, no object of vars. */
export function requestFromPairs(pairs: readonly string[]): RequestParts {
  const v: Partial<Record<(typeof CGI_VARS)[number], string>> = {};
  const headers: [string, string][] = [];
  // nginx also passes the client's Content-Length/-Type as HTTP_* vars: the CGI ones describe the body sent
  let cgiType = -1;
  let cgiLength = -1;
  let httpType = -1;
  let httpLength = -1;
  let httpHost: string | undefined;
  let upgrade: string | undefined;
  for (let i = 0; i < pairs.length; i += 2) {
    const key = pairs[i]!;
    const value = pairs[i + 1]!;
    if (key.startsWith("HTTP_")) {
      if (key === "HTTP_HOST") httpHost = value;
      else if (key === "HTTP_UPGRADE") upgrade = value;
      else if (key === "HTTP_CONTENT_TYPE") httpType = headers.length;
      else if (key === "HTTP_CONTENT_LENGTH") httpLength = headers.length;
      headers.push([headerName(key), value]);
    } else if (key === "CONTENT_TYPE" || key === "CONTENT_LENGTH") {
      v[key] = value;
      if (!value) continue;
      const at = key === "CONTENT_TYPE" ? cgiType : cgiLength;
      if (at >= 0) headers[at]![1] = value;
      else if (key === "CONTENT_TYPE") cgiType = headers.push(["content-type", value]) - 1;
      else cgiLength = headers.push(["content-length", value]) - 1;
    } else if (CGI.has(key)) v[key as (typeof CGI_VARS)[number]] = value;
  }
  const doubled = [v.CONTENT_TYPE !== undefined ? httpType : -1, v.CONTENT_LENGTH !== undefined ? httpLength : -1].filter((i) => i >= 0);
  const kept = doubled.length ? headers.filter((_, i) => !doubled.includes(i)) : headers;

  const https = (v.HTTPS !== undefined && /^(on|1|true)$/i.test(v.HTTPS)) || v.REQUEST_SCHEME === "https" || v.UWSGI_SCHEME === "https";
  const port = v.SERVER_PORT ?? "";
  const host = httpHost || `${v.SERVER_NAME || "localhost"}${port && port !== (https ? "443" : "80") ? `:${port}` : ""}`;
  let path = v.REQUEST_URI;
  if (!path) {
    path = v.PATH_INFO || "/";
    if (v.QUERY_STRING) path += `?${v.QUERY_STRING}`;
  }
  if (!path.startsWith("/")) path = `/${path}`;
  return {
    method: v.REQUEST_METHOD ?? "",
    url: `${https ? "https" : "http"}://${host}${path}`,
    path,
    host,
    https,
    headers: kept,
    contentLength: v.CONTENT_LENGTH ? Number(v.CONTENT_LENGTH) : 0,
    remote: { hostname: v.REMOTE_ADDR ?? "", port: Number(v.REMOTE_PORT ?? 0) || 0 },
    upgrade,
  };
}

/** The CGI vars a request is made of (besides HTTP_* and CONTENT_*). */
const CGI_VARS = [
  "REQUEST_METHOD",
  "REQUEST_URI",
  "PATH_INFO",
  "QUERY_STRING",
  "CONTENT_TYPE",
  "CONTENT_LENGTH",
  "HTTPS",
  "REQUEST_SCHEME",
  "UWSGI_SCHEME",
  "SERVER_NAME",
  "SERVER_PORT",
  "REMOTE_ADDR",
  "REMOTE_PORT",
] as const;
const CGI = new Set<string>(CGI_VARS);

const UNSAFE_VALUE = /[\r\n\0]/;

/**
 * Why these parts cannot be served as an HTTP request, or undefined when they
 * can: what HTTP cannot carry (a header name that is not a token, CR/LF in a
 * value, a host or path with spaces) would let vars smuggle extra headers or
 * make a URL that apps fail to parse.
 */
export function unsafeParts(parts: RequestParts): string | undefined {
  if (!TOKEN.test(parts.method)) return `invalid REQUEST_METHOD "${parts.method}"`;
  if (/[\s\0]/.test(parts.path)) return "invalid characters in the request path";
  if (/[\s\0/?#@\\]/.test(parts.host)) return "invalid characters in the host";
  for (const [k, v] of parts.headers) if (!TOKEN.test(k) || UNSAFE_VALUE.test(v)) return `invalid header ${JSON.stringify(k)}`;
  return undefined;
}

/** The status line and headers of a response, ready to write before the body. */
export function responseHead(status: number, statusText: string, headers: Iterable<[string, string]>): string {
  let head = `HTTP/1.1 ${status} ${statusText || REASONS[status] || "Unknown"}\r\n`;
  for (const [k, v] of headers) head += `${k}: ${v}\r\n`;
  return head + "\r\n";
}

const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};
