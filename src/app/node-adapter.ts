/**
 * Serving a fetch handler from node:http (Node has no fetch server of its
 * own). Requests are light objects (see node-light.ts); responses of known
 * length go out in one write with content-length; stream bodies go out chunk
 * by chunk with backpressure, never buffered whole.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { LazyRequestInfo } from "../runtime/info.ts";
import type { FetchHandler, NodeListener, RemoteAddr } from "../runtime/types.ts";
import { LightRequest, rawResponse } from "./node-light.ts";

const remote = (socket: Socket): RemoteAddr => ({ hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 });

/** `handler` must not throw (wrap it with guardFetch); write failures are reported to onError. */
export function fetchToNodeListener(handler: FetchHandler, workerId: number, onError: (m: string) => void): NodeListener {
  const failed = (res: ServerResponse) => (err: unknown) => {
    onError(`writing the response failed: ${String(err)}`);
    if (res.headersSent) res.destroy();
    else res.writeHead(500, { "content-type": "text/plain", "content-length": "21" }).end("Internal Server Error");
  };
  return (req, res) => {
    const request = new LightRequest(req, res) as unknown as Request;
    const out = handler(request, new LazyRequestInfo(req.socket, remote, workerId));
    if (out instanceof Promise) out.then((r) => writeResponse(req, res, r)).catch(failed(res));
    else writeResponse(req, res, out).catch(failed(res));
  };
}

export function writeResponse(req: IncomingMessage, res: ServerResponse, response: Response): Promise<void> {
  const raw = rawResponse(response);
  if (raw) {
    const headers = toNodeHeaders(raw.headers);
    if (raw.textDefault && !hasHeader(headers, "content-type")) headers["content-type"] = "text/plain;charset=UTF-8";
    const body = raw.body;
    const bytes = body === null ? undefined : typeof body === "string" ? body : new Uint8Array(body);
    headers["content-length"] = bytes === undefined ? 0 : typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.byteLength;
    res.writeHead(raw.status, raw.statusText || undefined, headers);
    res.end(bytes);
    return Promise.resolve();
  }
  return writeStream(req, res, response);
}

async function writeStream(req: IncomingMessage, res: ServerResponse, response: Response): Promise<void> {
  const headers = toNodeHeaders(response.headers);
  const body = response.body;
  const head = () => res.writeHead(response.status, response.statusText || undefined, headers);
  if (!body || req.method === "HEAD") {
    head().end();
    if (body) await body.cancel().catch(() => {});
    return;
  }
  const reader = body.getReader();
  let next: ReadableStreamReadResult<Uint8Array> = await reader.read();
  if (!next.done && !hasHeader(headers, "content-length")) {
    // A body that is already complete (bytes, a fetched Response read to its end) still
    // goes out with content-length: peek whether the next read settles at once.
    const later = reader.read();
    const peek = await Promise.race([later, Promise.resolve().then(() => undefined)]);
    if (peek?.done) {
      headers["content-length"] = next.value.byteLength;
      head().end(next.value);
      return;
    }
    head();
    if (!res.write(next.value)) await drained(res);
    next = peek ?? (await later);
  } else {
    if (next.done) headers["content-length"] ??= 0;
    head();
  }
  try {
    for (; !next.done; next = await reader.read()) {
      if (res.destroyed) return void (await reader.cancel());
      if (!res.write(next.value)) await drained(res);
    }
    res.end();
  } catch (err) {
    reader.cancel(err).catch(() => {});
    throw err;
  }
}

function toNodeHeaders(init: HeadersInit | Headers | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  if (!init) return out;
  if (init instanceof Headers) {
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

function hasHeader(headers: OutgoingHttpHeaders, key: string): boolean {
  return headers[key] !== undefined;
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}
