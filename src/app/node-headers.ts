/** Turning fetch-style headers into node:http's, set-cookie kept as separate lines. */
import type { OutgoingHttpHeaders } from "node:http";

export function toNodeHeaders(init: HeadersInit | Headers | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (!init) return out;
  if (isHeadersObject(init)) {
    init.forEach((value, key) => {
      if (key !== "set-cookie") out[key] = value;
    });
    const cookies = init.getSetCookie();
    if (cookies.length) out["set-cookie"] = cookies;
  } else if (Array.isArray(init)) {
    for (const [key, value] of init) addHeader(out, key!.toLowerCase(), value!);
  } else {
    for (const key in init) addHeader(out, key.toLowerCase(), (init as Record<string, string>)[key]!);
  }
  return out;
}

function addHeader(out: OutgoingHttpHeaders, key: string, value: string): void {
  const had = out[key];
  if (had === undefined) out[key] = value;
  else if (key === "set-cookie") out[key] = Array.isArray(had) ? [...had, value] : [String(had), value];
  else out[key] = `${had}, ${value}`;
}

/**
 * A Headers object, told by its methods: `instanceof Headers` would load
 * undici on Node just to answer no for a plain object.
 */
export function isHeadersObject(init: HeadersInit | Headers): init is Headers {
  return !Array.isArray(init) && typeof (init as Headers).forEach === "function" && typeof (init as Headers).getSetCookie === "function";
}

export function hasHeader(headers: OutgoingHttpHeaders, key: string): boolean {
  return headers[key] !== undefined;
}

/**
 * A response's headers as node:http may send them: the framing is node:http's
 * own (content-length where the body is known, else chunked), so an app's
 * `transfer-encoding` goes (sent beside a content-length it is how responses
 * are smuggled), and so do `keep-alive` and a `connection` other than
 * `close`, which would tell the client another server's keep-alive (a
 * Response fetched from elsewhere and returned as it came carries that
 * server's). `connection: close` stays over HTTP/1: it ends the connection
 * after this response, as the app asked (HTTP/2 has no such header: node:http2
 * drops it with a warning).
 */
export function ownFraming(headers: OutgoingHttpHeaders, http2 = false): OutgoingHttpHeaders {
  if (headers["transfer-encoding"] !== undefined) delete headers["transfer-encoding"];
  if (headers["keep-alive"] !== undefined) delete headers["keep-alive"];
  const connection = headers["connection"];
  if (connection !== undefined && (http2 || !/\bclose\b/i.test(String(connection)))) delete headers["connection"];
  return headers;
}

/**
 * What fetch() on Node (undici) decodes, innermost last: a body it fetched with only these came decoded (Node 20's undici;
 * zstd where Node's zlib has it). Made on first need: asking for zlib loads it, which a worker has no other use for.
 */
let decodedByFetch: Set<string> | undefined;
function decodedCodings(): Set<string> {
  if (!decodedByFetch) {
    decodedByFetch = new Set(["gzip", "x-gzip", "deflate", "br"]);
    const zlib = (process as { getBuiltinModule?: (id: string) => { createZstdDecompress?: unknown } }).getBuiltinModule?.("node:zlib");
    if (typeof zlib?.createZstdDecompress === "function") decodedByFetch.add("zstd");
  }
  return decodedByFetch;
}

/**
 * A Response fetched from another server and returned as it came: fetch()
 * decoded a gzip or brotli body, yet its headers still say
 * `content-encoding` and the encoded `content-length`. Sent so, a client
 * would fail to decode it and, on a kept-alive connection, read the rest of
 * the body as the next response. Both headers go where fetch decoded the
 * body (Deno's fetch drops them itself; Bun.serve sends its own length).
 */
export function forgetFetchEncoding(headers: OutgoingHttpHeaders, response: { url: string }): void {
  const encoding = headers["content-encoding"];
  if (encoding === undefined || !response.url) return;
  const codings = String(encoding).toLowerCase().split(",").map((c) => c.trim());
  if (codings.length > 5 || !codings.every((c) => decodedCodings().has(c))) return;
  delete headers["content-encoding"];
  delete headers["content-length"];
}
