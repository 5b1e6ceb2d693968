/**
 * Serving a fetch handler from node:http (Node itself has no fetch server).
 * The request body streams in as a ReadableStream; the response body streams
 * out chunk by chunk with backpressure, never buffered whole.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { FetchHandler, NodeListener, RemoteAddr, RequestInfo } from "../runtime/types.ts";

class NodeRequestInfo implements RequestInfo {
  #socket: Socket;
  #remote?: RemoteAddr;
  constructor(socket: Socket, readonly workerId: number) {
    this.#socket = socket;
  }
  /** computed on first use: most apps never look */
  get remoteAddr(): RemoteAddr {
    return (this.#remote ??= { hostname: this.#socket.remoteAddress ?? "", port: this.#socket.remotePort ?? 0 });
  }
}

export function fetchToNodeListener(handler: FetchHandler, workerId: number, onError: (m: string) => void): NodeListener {
  return (req, res) => {
    const controller = new AbortController();
    res.once("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    let out: Response | Promise<Response>;
    try {
      out = handler(toRequest(req, controller.signal), new NodeRequestInfo(req.socket, workerId));
    } catch (err) {
      onError(`handler failed: ${String(err)}`);
      return fail(res);
    }
    if (out instanceof Response) writeResponse(req, res, out).catch((err) => writeFailed(res, err, onError));
    else
      out.then(
        (r) => writeResponse(req, res, r),
        (err) => {
          onError(`handler failed: ${String(err)}`);
          fail(res);
        },
      ).catch((err) => writeFailed(res, err, onError));
  };
}

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const url = `http://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers, signal });
  return new Request(url, { method, headers, signal, body: bodyStream(req), duplex: "half" } as RequestInit);
}

function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        req.on("data", (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.once("end", () => controller.close());
        req.once("error", (err) => controller.error(err));
      },
      pull() {
        req.resume();
      },
      cancel() {
        req.destroy();
      },
    },
    { highWaterMark: 65536, size: (c) => c?.byteLength ?? 0 },
  );
}

export function responseHeaders(response: Response): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  response.headers.forEach((value, key) => {
    if (key !== "set-cookie") out[key] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) out["set-cookie"] = cookies;
  return out;
}

async function writeResponse(req: IncomingMessage, res: ServerResponse, response: Response): Promise<void> {
  const headers = responseHeaders(response);
  const body = response.body;
  if (!body || req.method === "HEAD") {
    res.writeHead(response.status, response.statusText || undefined, headers);
    res.end();
    if (body) await body.cancel().catch(() => {});
    return;
  }
  const reader = body.getReader();
  const first: ReadableStreamReadResult<Uint8Array> = await reader.read();
  if (first.done) {
    headers["content-length"] ??= "0";
    res.writeHead(response.status, response.statusText || undefined, headers).end();
    return;
  }
  res.writeHead(response.status, response.statusText || undefined, headers);
  try {
    for (let chunk = first; !chunk.done; chunk = await reader.read()) {
      if (!res.write(chunk.value) && !res.destroyed) await drained(res);
      if (res.destroyed) {
        await reader.cancel();
        return;
      }
    }
    res.end();
  } catch (err) {
    reader.cancel(err).catch(() => {});
    throw err;
  }
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

function fail(res: ServerResponse): void {
  if (res.headersSent) res.destroy();
  else res.writeHead(500, { "content-type": "text/plain", "content-length": "21" }).end("Internal Server Error");
}

function writeFailed(res: ServerResponse, err: unknown, onError: (m: string) => void): void {
  onError(`writing the response failed: ${String(err)}`);
  fail(res);
}
