/**
 * A Node listener over uwsgi: a real IncomingMessage and ServerResponse of
 * the runtime's node:http, made from the vars, with backpressure both ways.
 */
import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type { NodeListener } from "../../app/contract.ts";
import type { RequestParts } from "../../protocol/uwsgi.ts";
import type { StreamSocket } from "../../runtime/types.ts";
import { bodyLength, type BodyStall, closeAfterResponse, feedBody } from "./body.ts";
import { HOP_BY_HOP, nodeHeaders } from "./headers.ts";

type NodeHttp = typeof import("node:http");

/**
 * A Node listener's request: a real IncomingMessage and ServerResponse of the
 * runtime's node:http, made from the vars with no HTTP parser in between
 * (feeding a node:http server the request as text through a stream cost Bun
 * half its throughput). To node:http the request is HTTP/1.0, so the
 * response comes back unchunked and with the connection closing, as uwsgi
 * wants. Its socket reports nginx's REMOTE_ADDR/REMOTE_PORT as the peer and
 * HTTPS as `encrypted`, so Express's `req.ip` and `req.protocol` are what
 * nginx saw.
 */
export function serveNodeRequest(socket: StreamSocket, parts: RequestParts, rest: Uint8Array, listener: NodeListener, http: NodeHttp, stall: BodyStall): void {
  const length = bodyLength(parts);
  let allRead = length <= rest.length;
  const connection = new Duplex({
    read() {}, // the body is pushed into the request itself (below)
    write: (chunk, encoding, done) => void socket.write(chunk, encoding, done),
    // all the response's bytes went out through write(): the request is over
    final: (done) => {
      closeAfterResponse(socket, allRead);
      done();
    },
    destroy: (err, done) => {
      socket.destroy(err ?? undefined);
      done(err);
    },
  });
  // hop-by-hop headers are nginx's business: the request reached tsgw whole, on a connection of its own
  const req = requestOn(connection, socket, parts, http, "1.0", parts.headers.filter(([name]) => !HOP_BY_HOP.has(name)));
  if (!allRead) socket.pause();
  feedBody(
    req,
    socket,
    rest,
    length,
    () => {
      allRead = true;
      req.complete = true; // else ending the request would destroy its socket, as for an aborted one
    },
    stall,
  );

  const res = new http.ServerResponse(req);
  res.assignSocket(connection as unknown as Socket);
  // node:http's server (not the response) relays its socket's "drain" to the response that waits for it;
  // without it a listener that waits (stream.pipe(res): express.static, a write loop) stalls at the first full buffer
  connection.on("drain", () => relayDrain(res));
  // the response was handed to the connection whole: end it once its writes are out
  res.once("prefinish", () => connection.end());
  listener(req, res);
}

/**
 * `connection` dressed as the socket node:http code expects (nginx's peer as
 * its peer, HTTPS as `encrypted`, timeouts on the real socket), and an
 * IncomingMessage on it made from the vars.
 */
function requestOn(connection: Duplex, socket: StreamSocket, parts: RequestParts, http: NodeHttp, version: "1.0" | "1.1", lines: [string, string][]) {
  Object.assign(connection, {
    remoteAddress: parts.remote.hostname || socket.remoteAddress,
    remotePort: parts.remote.port || socket.remotePort,
    remoteFamily: socket.remoteFamily,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    encrypted: parts.https || undefined,
    setTimeout: (ms: number, cb?: () => void) => (socket.setTimeout(ms, cb), connection),
    setNoDelay: (on?: boolean) => (socket.setNoDelay?.(on), connection),
    setKeepAlive: (on?: boolean, delay?: number) => (socket.setKeepAlive?.(on, delay), connection),
    address: () => socket.address?.(),
  });
  socket.on("close", () => connection.destroy());
  socket.on("timeout", () => connection.emit("timeout"));
  // a peer gone mid-request (EPIPE, ECONNRESET, a body cut short) ends this request only, as node:http's own socket handler does
  connection.on("error", () => {});
  const req = new http.IncomingMessage(connection as unknown as Socket);
  req.method = parts.method;
  req.url = parts.path;
  req.httpVersionMajor = 1;
  req.httpVersionMinor = version === "1.0" ? 0 : 1;
  req.httpVersion = version;
  req.headers = nodeHeaders(lines);
  req.rawHeaders = lines.flat();
  if (req.headers.host === undefined) req.headers.host = parts.host;
  return req;
}

/** Takes an upgrade request on its connection, as node:http's "upgrade" event does. */
export type TakeUpgrade = (req: import("node:http").IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * A WebSocket handshake over uwsgi (nginx tunnels the connection once the
 * answer is a 101): the request as node:http's "upgrade" event gives it,
 * HTTP/1.1 with its Upgrade and Connection headers, and the uwsgi
 * connection as its socket, both ways, with backpressure; `rest` (bytes
 * after the vars) is the event's `head`.
 */
export function tunnelRequest(socket: StreamSocket, parts: RequestParts, rest: Uint8Array, http: NodeHttp, take: TakeUpgrade): void {
  const connection = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, encoding, done) => void socket.write(chunk, encoding, done),
    final: (done) => {
      socket.end();
      done();
    },
    destroy: (err, done) => {
      socket.destroy(err ?? undefined);
      done(err);
    },
  });
  socket.on("data", (chunk: Uint8Array) => connection.push(chunk) || socket.pause());
  socket.on("end", () => connection.push(null));
  take(requestOn(connection, socket, parts, http, "1.1", parts.headers), connection, Buffer.from(rest));
}

/**
 * The response's own need-drain flag (node:http's kNeedDrain), found by name:
 * its server clears it before the "drain" it relays. Bun's ServerResponse
 * never sets it (writableNeedDrain stays false after a write that returned
 * false), so the drain is relayed whatever the flag says: a "drain" nobody
 * waited for costs a listener nothing.
 */
let needDrain: symbol | null | undefined;

function relayDrain(res: ServerResponse): void {
  if (res.writableFinished || res.destroyed) return;
  needDrain ??= Object.getOwnPropertySymbols(res).find((s) => s.description === "kNeedDrain") ?? null;
  if (needDrain) (res as unknown as Record<symbol, boolean>)[needDrain] = false;
  res.emit("drain");
}
