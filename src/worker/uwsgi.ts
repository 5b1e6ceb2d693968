/**
 * Serving a fetch handler over the uwsgi protocol (nginx uwsgi_pass), one
 * request per connection: read the vars (bounded by buffer-size, within
 * socket-timeout), stream the body in, stream the response out as raw
 * HTTP/1.1, close. A malformed packet or a peer that stalls gets a closed
 * connection and one log line; the worker keeps serving.
 */
import type { Server, Socket } from "node:net";
import { bodyStream } from "../app/body-stream.ts";
import { parseRequest, requestFromVars, responseHead } from "../protocol/uwsgi.ts";
import type { FetchHandler, RemoteAddr, RequestInfo } from "../runtime/types.ts";

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

/** Attach uwsgi request handling to a node:net server (works on Node, Bun and Deno). */
export function serveUwsgiOn(server: Server, handler: FetchHandler, options: UwsgiOptions): Server {
  const allowed = new Set(options.allowFrom.map(normalizeIp));
  return server.on("connection", (socket: Socket) => {
    const peer = socket.remoteAddress;
    if (peer && !allowed.has(normalizeIp(peer))) {
      options.onError(`uwsgi: connection from ${peer} refused (not in socket-allow-from)`);
      return void socket.destroy();
    }
    new Connection(socket, handler, options).start();
  });
}

function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

class Connection {
  private head: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly socket: Socket,
    private readonly handler: FetchHandler,
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
    Promise.resolve(this.handler(request, new UwsgiInfo(parts.remote, this.options.workerId)))
      .then((response) => this.respond(response, parts.method === "HEAD"))
      .catch((err) => {
        this.options.onError(`uwsgi: writing the response failed: ${String(err)}`);
        this.socket.destroy();
      });
  };

  private async respond(response: Response, isHead: boolean): Promise<void> {
    const { socket } = this;
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
