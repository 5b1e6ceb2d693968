/**
 * Serving a fetch handler from node:http (Node has no fetch server of its
 * own). Requests are light objects (see light/); responses of known
 * length go out in one write with content-length; stream bodies go out chunk
 * by chunk with backpressure, never buffered whole.
 */
import type { BridgeListener, BridgeRequest, BridgeResponse } from "./bridge.ts";
import { type FetchHandler, LazyRequestInfo, type RemoteAddr } from "./contract.ts";
import { chunkBytes } from "./body-stream.ts";
import { fail500 } from "./guard.ts";
import { hasHeader } from "./node-headers.ts";
import { LightRequest } from "./light/request.ts";
import { type TlsInfo, tlsInfo } from "./tls-info.ts";
import { NULL_BODY, overHttp2, reasonPhrase, streamedParts, writeKnownBody } from "./light/response.ts";

const remote = (socket: BridgeRequest["socket"]): RemoteAddr => ({ hostname: socket?.remoteAddress ?? "", port: socket?.remotePort ?? 0 });

/**
 * The second argument of a fetch handler served from node:http (or uwsgi's
 * equivalent of it): tsgw's remoteAddr and workerId, and `incoming` and
 * `outgoing` as @hono/node-server and srvx give them (Hono's getConnInfo
 * reads `incoming.socket`), and Bun.serve's `requestIP()`, so handlers
 * written for any runtime's server find what they look for.
 */
class NodeRequestInfo extends LazyRequestInfo<BridgeRequest["socket"]> {
  constructor(readonly incoming: BridgeRequest, readonly outgoing: BridgeResponse, workerId: number) {
    super(incoming.socket, remote, workerId);
  }
  /** the connection's TLS (protocol, cipher, the client certificate's subject...), undefined over plain HTTP */
  get tls(): TlsInfo | undefined {
    return tlsInfo(this.incoming.socket);
  }
  requestIP(): { address: string; port: number; family: string } | null {
    const socket = this.incoming.socket;
    if (!socket?.remoteAddress) return null;
    return { address: socket.remoteAddress, port: socket.remotePort ?? 0, family: socket.remoteAddress.includes(":") ? "IPv6" : "IPv4" };
  }
}

/** `handler` must not throw (wrap it with guardFetch); write failures are reported to onError. */
export function fetchToNodeListener(handler: FetchHandler, workerId: number, onError: (m: string) => void): BridgeListener {
  const failed = (res: BridgeResponse, err: unknown) => {
    onError(`writing the response failed: ${String(err)}`);
    fail500(res);
  };
  // The common case (a known body, returned synchronously) allocates no promise at all.
  const send = (req: BridgeRequest, res: BridgeResponse, response: Response) => {
    if (!writeKnownBody(response, res)) writeStream(req, res, response, onError).catch((err) => failed(res, err));
  };
  return (req, res) => {
    const out = handler(new LightRequest(req, res) as unknown as Request, new NodeRequestInfo(req, res, workerId));
    if (out instanceof Promise) out.then((r) => send(req, res, r)).catch((err) => failed(res, err));
    else send(req, res, out);
  };
}

/** bytes a streamed body may have waiting in the socket's buffer before the stream waits for the client */
const STREAM_AHEAD = 64 * 1024;

async function writeStream(req: BridgeRequest, res: BridgeResponse, response: Response, onError: (m: string) => void): Promise<void> {
  const { headers, body } = streamedParts(response, overHttp2(res));
  const head = () => res.writeHead(response.status, reasonPhrase(res, response.statusText), headers);
  if (!body || req.method === "HEAD" || NULL_BODY.has(response.status)) {
    head().end();
    if (body) await body.cancel().catch(() => {});
    return;
  }
  // A stream must match the content-length the app gave, or a kept-alive client would read the next response at the
  // wrong byte: what goes past it is not sent, and a body that ends short of it cuts the connection.
  const declared = hasHeader(headers, "content-length") ? Number(headers["content-length"]) : NaN;
  let left = declared >= 0 ? declared : Infinity;
  const reader = body.getReader();
  // A client that goes away cancels the app's stream at once (a file stream stops reading), even while
  // the stream is waiting for its next chunk; whatever the stream does after that cannot reach the client.
  let gone = false;
  const abort = () => {
    if (gone || res.writableFinished) return;
    gone = true;
    reader.cancel(new Error("the client went away")).catch(() => {});
  };
  const unwatch = whenGone(res, abort);
  // Waiting for "drain" at every full socket buffer (16 KB on Node 20; Node 22 made it 64 KB) costs a loop turn and a
  // syscall each; a stream may run this far ahead of the client before it waits.
  // A promise only when there is something to wait for: an await per chunk is a turn of the microtask queue each.
  let ahead = 0;
  const resume = () => void (ahead = 0);
  const put = (chunk: Uint8Array): Promise<void> | undefined => {
    ahead += chunk.byteLength;
    return !res.write(chunk) && ahead > STREAM_AHEAD ? drained(res).then(resume) : undefined;
  };
  try {
    let next = await reader.read();
    if (gone) return;
    if (!next.done && !hasHeader(headers, "content-length")) {
      // A body that is already complete (bytes, a fetched Response read to its end) still
      // goes out with content-length: peek whether the next read settles at once.
      const first = chunkBytes(next.value);
      const later = reader.read();
      const peek = await Promise.race([later, Promise.resolve().then(() => undefined)]);
      if (peek?.done) {
        headers["content-length"] = first.byteLength;
        head().end(first);
        return;
      }
      head();
      const wait = put(first);
      if (wait) await wait;
      next = peek ?? (await later);
    } else {
      if (next.done) headers["content-length"] ??= 0;
      head();
    }
    for (; !next.done; next = await reader.read()) {
      if (gone) return;
      let chunk = chunkBytes(next.value);
      if (chunk.byteLength > left) {
        chunk = chunk.subarray(0, left);
        reader.cancel(new Error("the body is longer than its content-length")).catch(() => {});
        onError(`the app's response body is longer than its content-length (${declared} bytes): the rest was not sent`);
        res.end(chunk);
        return;
      }
      left -= chunk.byteLength;
      const wait = put(chunk);
      if (wait) await wait;
    }
    if (gone) return;
    if (left !== Infinity && left > 0) {
      onError(`the app's response body ended ${left} bytes short of its content-length (${declared} bytes); connection closed`);
      return void res.destroy();
    }
    res.end();
  } catch (err) {
    if (gone) return; // the client left: the cancel above is the whole story
    reader.cancel(err).catch(() => {});
    throw err;
  } finally {
    unwatch();
  }
}

/** The stream a connection is sending now, told when the connection closes (the key exists once the connection is watched). */
const SENDING = Symbol("tsgw.sending");
type Watched = { [SENDING]?: () => void; once(event: "close", listener: () => void): unknown };

/**
 * Call `gone` if the client leaves before the response is over; returns the
 * way to stop watching. node:http sockets are watched once per connection (a
 * "close" listener per response cost about a tenth of Node's streaming
 * throughput); a response without a socket of its own (uwsgi) is watched itself.
 */
function whenGone(res: BridgeResponse, gone: () => void): () => void {
  const socket = res.socket as Watched | null | undefined;
  if (!socket) {
    res.once("close", gone);
    return () => void res.off("close", gone);
  }
  if (!(SENDING in socket)) socket.once("close", () => socket[SENDING]?.());
  socket[SENDING] = gone;
  return () => void (socket[SENDING] === gone && (socket[SENDING] = undefined));
}

function drained(res: BridgeResponse): Promise<void> {
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
