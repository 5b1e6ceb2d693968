/**
 * Serving an app over the uwsgi protocol (nginx uwsgi_pass), one request per
 * connection: read the vars (bounded by buffer-size, within socket-timeout),
 * stream the body in, stream the response out as raw HTTP/1.1, close. A
 * malformed packet or a peer that stalls gets a closed connection and one log
 * line; the worker keeps serving.
 *
 * Fetch apps get a Request built from the vars. Node listeners get a real
 * IncomingMessage/ServerResponse: the vars are turned into an HTTP/1.0 head
 * that a node:http server reads in front of the body (see requestStream).
 */
import { createServer as createHttpServer, type Server as HttpServer, type ServerResponse } from "node:http";
import type { Server, Socket } from "node:net";
import { Duplex } from "node:stream";
import { bodyStream } from "../app/body-stream.ts";
import { writeKnownBody } from "../app/node-light.ts";
import { httpHeadFromParts, parseRequest, requestFromVars, responseHead, type RequestParts } from "../protocol/uwsgi.ts";
import type { FetchHandler, NodeListener, RemoteAddr, RequestInfo } from "../runtime/types.ts";

export interface UwsgiOptions {
  workerId: number;
  bufferSize: number;
  /** seconds a peer may take to send the vars (and between body chunks) */
  socketTimeout: number;
  /** TCP peers allowed to speak uwsgi (unix sockets are always allowed) */
  allowFrom: readonly string[];
  onError: (message: string) => void;
}

class UwsgiInfo implements RequestInfo {
  constructor(
    readonly remoteAddr: RemoteAddr,
    readonly workerId: number,
  ) {}
}

export type UwsgiApp = { fetch: FetchHandler } | { node: NodeListener };

/** Attach uwsgi request handling to a node:net server (works on Node, Bun and Deno). */
export function serveUwsgiOn(server: Server, app: UwsgiApp, options: UwsgiOptions): Server {
  const allowed = new Set(options.allowFrom.map(normalizeIp));
  const target: Target = "fetch" in app ? app : { http: createHttpServer(app.node) };
  return server.on("connection", (socket: Socket) => {
    const peer = socket.remoteAddress;
    if (peer && !allowed.has(normalizeIp(peer))) {
      options.onError(`uwsgi: connection from ${peer} refused (not in socket-allow-from)`);
      return void socket.destroy();
    }
    new Connection(socket, target, options).start();
  });
}

function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

type Target = { fetch: FetchHandler } | { http: HttpServer };

class Connection {
  private head: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly socket: Socket,
    private readonly target: Target,
    private readonly options: UwsgiOptions,
  ) {}

  start(): void {
    const { socket } = this;
    socket.setTimeout(this.options.socketTimeout * 1000, () => this.fail("no complete request within socket-timeout"));
    socket.on("error", () => socket.destroy());
    socket.on("data", this.onHead);
  }

  private fail(reason: string): void {
    this.options.onError(`uwsgi: ${reason} (peer ${this.socket.remoteAddress ?? "unix socket"}); connection closed`);
    this.socket.destroy();
  }

  private onHead = (chunk: Buffer): void => {
    const buf = new Uint8Array(this.head.length + chunk.length);
    buf.set(this.head);
    buf.set(chunk, this.head.length);
    this.head = buf;
    const parsed = parseRequest(buf, this.options.bufferSize);
    if (parsed.kind === "incomplete") return;
    this.socket.off("data", this.onHead);
    if (parsed.kind === "error") return this.fail(parsed.reason);
    const parts = requestFromVars(parsed.packet.vars);
    const rest = buf.subarray(parsed.packet.consumed);
    if ("http" in this.target) return this.handOver(this.target.http, parts, rest);
    const handler = this.target.fetch;
    const hasBody = parts.contentLength > 0 && parts.method !== "GET" && parts.method !== "HEAD";
    let request: Request;
    try {
      request = new Request(parts.url, {
        method: parts.method,
        headers: parts.headers,
        // the body: what came with the vars, then the socket, up to CONTENT_LENGTH
        ...(hasBody ? { body: bodyStream(this.socket, { first: rest, length: parts.contentLength }), duplex: "half" } : {}),
      } as RequestInit);
    } catch (err) {
      return this.fail(`unusable request: ${(err as Error).message}`);
    }
    this.socket.setTimeout(0);
    Promise.resolve(handler(request, new UwsgiInfo(parts.remote, this.options.workerId)))
      .then((response) => this.respond(response, parts.method === "HEAD"))
      .catch((err) => {
        this.options.onError(`uwsgi: writing the response failed: ${String(err)}`);
        this.socket.destroy();
      });
  };

  /** A Node listener: the request as HTTP, then the rest of the socket, go to a node:http server. */
  private handOver(http: HttpServer, parts: RequestParts, rest: Uint8Array): void {
    let head: string;
    try {
      head = httpHeadFromParts(parts);
    } catch (err) {
      return this.fail(`unusable request: ${(err as Error).message}`);
    }
    this.socket.setTimeout(0);
    http.emit("connection", requestStream(this.socket, Buffer.concat([Buffer.from(head, "latin1"), rest]), parts));
  }

  private async respond(response: Response, isHead: boolean): Promise<void> {
    const { socket } = this;
    // a light response of known length (Node) goes out in one write, as over HTTP
    if (writeKnownBody(response, oneShotResponse(socket, isHead))) return;
    const headers: [string, string][] = [];
    response.headers.forEach((value, key) => {
      if (key !== "set-cookie") headers.push([key, value]);
    });
    for (const cookie of response.headers.getSetCookie()) headers.push(["set-cookie", cookie]);
    socket.write(responseHead(response.status, response.statusText, headers));
    const body = response.body;
    if (body && !isHead) {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        if (socket.destroyed) break;
        if (!socket.write(chunk)) await new Promise((r) => (socket.once("drain", r), socket.once("close", r)));
      }
    } else if (body) await body.cancel();
    socket.end();
  }
}

/** node:http's writeHead()/end() onto a uwsgi connection, for writeKnownBody. */
function oneShotResponse(socket: Socket, isHead: boolean): ServerResponse {
  let head = "";
  const res = {
    writeHead(status: number, reason: string | undefined, headers: Record<string, string | number | string[] | undefined>) {
      const list: [string, string][] = [];
      for (const [k, v] of Object.entries(headers)) if (v !== undefined) for (const one of Array.isArray(v) ? v : [v]) list.push([k, String(one)]);
      head = responseHead(status, reason ?? "", list);
      return res;
    },
    end(body?: string | Uint8Array) {
      socket.cork();
      socket.write(head);
      if (body !== undefined && !isHead) socket.write(body);
      socket.end();
      socket.uncork();
    },
  };
  return res as unknown as ServerResponse;
}

/**
 * The connection a node:http server sees: reads give `first` (the request as
 * HTTP) and then the socket's bytes, with backpressure; writes go to the
 * socket. A Duplex rather than the socket itself with the head unshifted,
 * because Deno's node:http reads an injected socket's later bytes past
 * unshifted data. It reports REMOTE_ADDR/REMOTE_PORT as its peer and HTTPS
 * as `encrypted`, so `req.socket.remoteAddress` and Express's `req.ip` and
 * `req.protocol` are what nginx saw.
 */
function requestStream(socket: Socket, first: Buffer, parts: RequestParts): Duplex {
  const stream = new Duplex({
    read: () => void socket.resume(),
    write: (chunk, encoding, done) => void socket.write(chunk, encoding, done),
    final: (done) => void socket.end(done),
    destroy: (err, done) => {
      socket.destroy(err ?? undefined);
      done(err);
    },
  });
  Object.assign(stream, {
    remoteAddress: parts.remote.hostname || socket.remoteAddress,
    remotePort: parts.remote.port || socket.remotePort,
    remoteFamily: socket.remoteFamily,
    localAddress: socket.localAddress,
    localPort: socket.localPort,
    encrypted: parts.https || undefined,
    setTimeout: (ms: number, cb?: () => void) => (socket.setTimeout(ms, cb), stream),
    setNoDelay: (on?: boolean) => (socket.setNoDelay(on), stream),
    setKeepAlive: (on?: boolean, delay?: number) => (socket.setKeepAlive(on, delay), stream),
    address: () => socket.address(),
  });
  socket.pause();
  stream.push(first);
  socket.on("data", (chunk) => {
    if (!stream.push(chunk)) socket.pause();
  });
  socket.on("end", () => stream.push(null));
  socket.on("close", () => stream.destroy());
  socket.on("timeout", () => stream.emit("timeout"));
  return stream;
}
