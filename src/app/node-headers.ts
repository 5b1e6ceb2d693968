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
