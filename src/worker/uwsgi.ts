/**
 * Serving an app over the uwsgi protocol (nginx uwsgi_pass), one request per
 * connection: read the vars (bounded by buffer-size, within socket-timeout),
 * stream the body in, stream the response out as raw HTTP/1.1, close. A
 * malformed packet or a peer that stalls gets a closed connection and one log
 * line; the worker keeps serving.
 *
 * Connections come from the runtime's fastest socket API (see
 * Runtime.serveConnections). Fetch apps are served as over node:http: the
 * vars become a small IncomingMessage-like request and the socket a
 * ServerResponse-like writer, and fetchToNodeListener turns them into a light
 * Request and writes the Response (one write for a body of known length).
 * Node listeners get a real IncomingMessage/ServerResponse made from the
 * vars, with no HTTP parser in between (see serveNodeRequest).
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Duplex, Readable } from "node:stream";
import { fetchToNodeListener } from "../app/node-adapter.ts";
import { installRequestCompat } from "../app/node-light.ts";
import { parseRequest, requestFromPairs, type RequestParts, responseHead, unsafeParts } from "../protocol/uwsgi.ts";
import type { FetchHandler, NodeListener } from "../app/contract.ts";
import type { StreamSocket } from "../runtime/types.ts";

export interface UwsgiOptions {
  workerId: number;
  bufferSize: number;
  /** seconds a peer may take to send the vars */
  socketTimeout: number;
  /** seconds a request body may stall while the app waits for it (0: no limit) */
  bodyTimeout: number;
  /** TCP peers allowed to speak uwsgi (unix sockets are always allowed) */
  allowFrom: readonly string[];
  onError: (message: string) => void;
}

export type UwsgiApp = { fetch: FetchHandler } | { node: NodeListener };

type NodeHttp = typeof import("node:http");
/** `http`: a Node listener, served through node:http's own request and response classes */
type Served = { listener: NodeListener; http?: NodeHttp };

/** What to do with each new connection: check the peer, then read one request. */
export async function uwsgiConnections(app: UwsgiApp, options: UwsgiOptions): Promise<(socket: StreamSocket) => void> {
  const allowed = new Set(options.allowFrom.map(normalizeIp));
  const deadlines = new HeadDeadlines(options.socketTimeout * 1000);
  let served: Served;
  if ("fetch" in app) {
    installRequestCompat(); // apps may pass the light request to new Request() or fetch()
    served = { listener: fetchToNodeListener(app.fetch, options.workerId, options.onError) };
  } else served = { listener: app.node, http: await import("node:http") };
  return (socket) => {
    const peer = socket.remoteAddress;
    if (peer && !allowed.has(normalizeIp(peer))) {
      options.onError(`uwsgi: connection from ${peer} refused (not in socket-allow-from)`);
      return void socket.destroy();
    }
    new Connection(socket, served, options, deadlines).start();
  };
}

function normalizeIp(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

class Connection {
  private head: Uint8Array | undefined;

  constructor(
    private readonly socket: StreamSocket,
    private readonly served: Served,
    private readonly options: UwsgiOptions,
    private readonly deadlines: HeadDeadlines,
  ) {}

  start(): void {
    const { socket } = this;
    this.deadlines.add(this);
    socket.on("error", () => socket.destroy());
    socket.on("data", this.onHead);
  }

  /** socket-timeout passed before the vars were complete */
  expire(): void {
    if (!this.socket.destroyed) this.fail("no complete request within socket-timeout");
  }

  private fail(reason: string): void {
    this.options.onError(`uwsgi: ${reason} (peer ${this.socket.remoteAddress ?? "unix socket"}); connection closed`);
    this.socket.destroy();
  }

  private onHead = (chunk: Uint8Array): void => {
    const buf = this.head ? Buffer.concat([this.head, chunk]) : chunk;
    const parsed = parseRequest(buf, this.options.bufferSize);
    if (parsed.kind === "incomplete") return void (this.head = buf);
    this.socket.off("data", this.onHead);
    this.deadlines.delete(this);
    if (parsed.kind === "error") return this.fail(parsed.reason);
    const parts = requestFromPairs(parsed.packet.pairs);
    const unsafe = unsafeParts(parts);
    if (unsafe) return this.fail(`unusable request: ${unsafe}`);
    const rest = buf.subarray(parsed.packet.consumed);
    const { served, socket } = this;
    const stall: BodyStall = {
      ms: this.options.bodyTimeout * 1000,
      onStall: () => this.fail(`request body stalled for ${this.options.bodyTimeout}s (body-timeout)`),
    };
    if (served.http) serveNodeRequest(socket, parts, rest, served.listener, served.http, stall);
    else {
      const request = new UwsgiRequest(socket, parts, rest, stall);
      // the rest of the body waits in the socket until the app reads it (see bodyOf)
      if (!request.allRead) socket.pause();
      served.listener(request as unknown as IncomingMessage, new UwsgiResponse(socket, request) as unknown as ServerResponse);
    }
  };
}

/**
 * One timer for all connections still waiting for their vars: a timer per
 * connection cost Deno about 12% of its uwsgi throughput. Connections are
 * kept in arrival order, so their deadlines are in order too.
 */
class HeadDeadlines {
  readonly #waiting = new Map<Connection, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {}

  add(connection: Connection): void {
    if (this.ms <= 0) return; // socket-timeout 0: no limit
    this.#waiting.set(connection, Date.now() + this.ms);
    this.#timer ??= setInterval(() => this.#sweep(), Math.min(500, this.ms)).unref();
  }
  delete(connection: Connection): void {
    this.#waiting.delete(connection);
    if (this.#waiting.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
  #sweep(): void {
    const now = Date.now();
    for (const [connection, deadline] of this.#waiting) {
      if (deadline > now) break;
      this.delete(connection);
      connection.expire();
    }
  }
}

/**
 * What fetchToNodeListener reads of an IncomingMessage, from the vars. Its
 * stream methods are the body's (see bodyOf), made only when the app reads
 * one: most requests have none.
 */
class UwsgiRequest {
  readonly method: string;
  /** path and query, as IncomingMessage.url */
  readonly url: string;
  readonly headers: { host: string };
  readonly rawHeaders: string[] = [];
  /** the peer nginx saw, and whether it came over HTTPS (LightRequest reads `encrypted`) */
  readonly socket: { remoteAddress: string; remotePort: number; encrypted: boolean };
  #body: Readable | undefined;
  /** the whole request came off the socket (nothing unread that closing would reset) */
  allRead: boolean;

  constructor(
    private readonly source: StreamSocket,
    private readonly parts: RequestParts,
    private readonly first: Uint8Array,
    private readonly stall: BodyStall,
  ) {
    this.method = parts.method;
    this.url = parts.path;
    this.headers = { host: parts.host };
    for (const [k, v] of parts.headers) this.rawHeaders.push(k, v);
    this.socket = { remoteAddress: parts.remote.hostname, remotePort: parts.remote.port, encrypted: parts.https };
    this.allRead = bodyLength(parts) <= first.length;
  }

  #stream(): Readable {
    return (this.#body ??= bodyOf(this.source, this.first, bodyLength(this.parts), () => (this.allRead = true), this.stall));
  }
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): this {
    this.#stream().on(event, listener);
    return this;
  }
  // deno-lint-ignore no-explicit-any
  once(event: string, listener: (...args: any[]) => void): this {
    this.#stream().once(event, listener);
    return this;
  }
  // deno-lint-ignore no-explicit-any
  off(event: string, listener: (...args: any[]) => void): this {
    this.#stream().off(event, listener);
    return this;
  }
  pause(): this {
    this.#stream().pause();
    return this;
  }
  resume(): this {
    this.#stream().resume();
    return this;
  }
  destroy(err?: Error): this {
    this.#stream().destroy(err);
    return this;
  }
}

/** Body bytes to read after the vars: none for GET and HEAD, whatever CONTENT_LENGTH says */
function bodyLength({ method, contentLength }: RequestParts): number {
  return method === "GET" || method === "HEAD" ? 0 : contentLength;
}

/**
 * A uwsgi request's body: the bytes that came with the vars, then the
 * socket's, up to CONTENT_LENGTH, with backpressure; an error when the peer
 * closes before all of it came.
 */
function bodyOf(source: StreamSocket, first: Uint8Array, length: number, whole: () => void, stall: BodyStall): Readable {
  return feedBody(new Readable({ read: () => void source.resume() }), source, first, length, whole, stall);
}

/** How long a body may stall, and what to do when it does. */
export interface BodyStall {
  ms: number;
  onStall: () => void;
}

/**
 * Push the body into `body`, a Readable whose reads resume `source`; `whole`
 * runs before its end. While the app waits for body bytes (the source
 * flowing), the peer may be silent for at most `stall.ms`; while the app is
 * not reading (the source paused for backpressure) no clock runs.
 */
function feedBody<R extends Readable>(body: R, source: StreamSocket, first: Uint8Array, length: number, whole: () => void, stall: BodyStall): R {
  let left = length;
  if (left === 0) {
    whole();
    body.push(null);
    return body;
  }
  const watch = (on: boolean) => stall.ms > 0 && source.setTimeout(on ? stall.ms : 0);
  const cut = () => left > 0 && body.destroy(new Error(`the peer closed with ${left} body bytes unsent`));
  const take = (bytes: Uint8Array): void => {
    const piece = bytes.length > left ? bytes.subarray(0, left) : bytes;
    left -= piece.length;
    const more = body.push(piece);
    if (left === 0) {
      source.off("data", take);
      watch(false);
      whole();
      body.push(null);
    } else if (!more) {
      source.pause();
      watch(false);
    }
  };
  if (first.length) take(first);
  if (left > 0) {
    source.on("data", take);
    source.once("end", cut);
    source.once("close", cut);
    if (stall.ms > 0) {
      source.on("timeout", () => left > 0 && stall.onStall());
      // reading resumes the source: the clock runs again
      const read = body._read.bind(body);
      body._read = (n: number) => {
        watch(true);
        read(n);
      };
      watch(true);
    }
  }
  return body;
}

/**
 * The response is out: close the connection. When all the peer sent was
 * read, at once (no half-close round trip); otherwise the unread rest is
 * drained to nowhere and the connection half-closed, so nginx never sees a
 * reset.
 */
function closeAfterResponse(socket: StreamSocket, allRead: boolean): void {
  if (allRead && socket.endAndClose) socket.endAndClose();
  else {
    socket.removeAllListeners("data");
    socket.resume();
    socket.end();
  }
}

/**
 * What fetchToNodeListener (and LightResponse) use of a ServerResponse, onto
 * the connection: the head goes out with the first body bytes, in one write
 * when the body is known; end() ends the connection.
 */
const EMPTY = new Uint8Array(0);

class UwsgiResponse {
  headersSent = false;
  writableFinished = false;
  private head: Buffer | undefined;

  private readonly isHead: boolean;

  constructor(
    private readonly socket: StreamSocket,
    private readonly request: UwsgiRequest,
  ) {
    this.isHead = request.method === "HEAD";
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }

  writeHead(status: number, reason?: string | OutgoingHttpHeaders, headers?: OutgoingHttpHeaders): this {
    if (typeof reason === "object") [headers, reason] = [reason, undefined];
    const list: [string, string][] = [];
    for (const key in headers) {
      const value = headers[key];
      if (Array.isArray(value)) { for (const one of value) list.push([key, one]); }
      else if (value !== undefined) list.push([key, String(value)]);
    }
    // header values are bytes (ByteString): latin1, as node:http writes them
    this.head = Buffer.from(responseHead(status, reason ?? "", list), "latin1");
    this.headersSent = true;
    return this;
  }

  write(chunk: string | Uint8Array): boolean {
    if (this.isHead) return true;
    return this.socket.write(this.withHead(chunk));
  }

  end(chunk?: string | Uint8Array): this {
    const bytes = this.withHead(this.isHead ? undefined : chunk);
    const { socket } = this;
    if (bytes.length) socket.write(bytes);
    closeAfterResponse(socket, this.request.allRead);
    this.writableFinished = true;
    return this;
  }

  /** the head, if not sent yet, and `chunk` as one buffer: one write (a corked pair is a writev, slower) */
  private withHead(chunk: string | Uint8Array | undefined): Uint8Array {
    const { head } = this;
    const bytes = chunk === undefined ? EMPTY : typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (!head) return bytes;
    this.head = undefined;
    return bytes.length ? Buffer.concat([head, bytes]) : head;
  }

  destroy(): void {
    this.socket.destroy();
  }

  on(event: string, listener: () => void): this {
    this.socket.on(event, listener);
    return this;
  }
  once(event: string, listener: () => void): this {
    this.socket.once(event, listener);
    return this;
  }
  off(event: string, listener: () => void): this {
    this.socket.off(event, listener);
    return this;
  }
}

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

const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding"]);

/** The headers object node:http would build from these header lines. */
function nodeHeaders(lines: readonly [string, string][]): IncomingHttpHeaders {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of lines) {
    const had = headers[name];
    if (had === undefined) headers[name] = name === "set-cookie" ? [value] : value;
    else if (name === "set-cookie") (had as string[]).push(value);
    else if (!SINGLE_HEADERS.has(name)) headers[name] = `${had as string}${name === "cookie" ? "; " : ", "}${value}`;
  }
  return headers;
}

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
function serveNodeRequest(socket: StreamSocket, parts: RequestParts, rest: Uint8Array, listener: NodeListener, http: NodeHttp, stall: BodyStall): void {
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
  req.httpVersionMinor = 0;
  req.httpVersion = "1.0";
  // hop-by-hop headers are nginx's business: the request reached tsgw whole, on a connection of its own
  const lines = parts.headers.filter(([name]) => !HOP_BY_HOP.has(name));
  req.headers = nodeHeaders(lines);
  req.rawHeaders = lines.flat();
  if (req.headers.host === undefined) req.headers.host = parts.host;
  // reading the request resumes the connection (what node:http's parser does for its sockets)
  req._read = () => void socket.resume();
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
