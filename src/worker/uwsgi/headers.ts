/** node:http's rules for request headers a client repeated, for requests made from uwsgi vars. */
import type { IncomingHttpHeaders } from "node:http";

/** Request headers whose repeats node:http drops (the first one counts), as its parser does. */
const SINGLE_HEADERS = new Set([
  "age",
  "authorization",
  "content-length",
  "content-type",
  "etag",
  "expires",
  "from",
  "host",
  "if-modified-since",
  "if-unmodified-since",
  "last-modified",
  "location",
  "max-forwards",
  "proxy-authorization",
  "referer",
  "retry-after",
  "server",
  "user-agent",
]);

export const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);

/** The headers object node:http would build from these header lines. */
export function nodeHeaders(lines: readonly [string, string][]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of lines) {
    const had = headers[name];
    if (had === undefined) headers[name] = name === "set-cookie" ? [value] : value;
    else if (name === "set-cookie") (had as string[]).push(value);
    else if (!SINGLE_HEADERS.has(name)) headers[name] = `${had as string}${name === "cookie" ? "; " : ", "}${value}`;
  }
  return headers;
}
