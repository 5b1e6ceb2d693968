/**
 * Watching the requests a worker serves: a count for max-requests, and, when
 * the access log or the stats server asks for it, in-flight requests and one
 * access record per request. The same wrapping serves HTTP and uwsgi (both
 * reach the app through these handlers). Without an access log or stats only
 * the counter runs: nothing is added to the hot path that nobody reads.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AccessLog, AccessRecord } from "../log/access.ts";
import { tlsVariable } from "../app/tls-info.ts";
import { requestHeader } from "../app/request-header.ts";
import type { FetchHandler, NodeListener, RequestInfo } from "../app/contract.ts";
import type { RequestObserver } from "../runtime/types.ts";
import type { MetricsCollector } from "./metrics.ts";

export class RequestCounter implements RequestObserver {
  started = 0;
  finished = 0;

  constructor(
    /** called after each request starts (max-requests) */
    private readonly onStart: (started: number) => void,
    /** finish hooks (in-flight, access records) are installed only when someone reads them */
    private readonly track: boolean,
    private readonly access?: AccessLog,
    private readonly metrics?: MetricsCollector,
  ) {}

  /** a finished node:http request (its objects stay readable), to the access log and the metrics */
  private done(record: AccessRecord): void {
    this.finished++;
    this.access?.later(record);
    this.metrics?.add(record.method, record.status, record.elapsed, record.length);
  }

  get inFlight(): number {
    return this.track ? this.started - this.finished : 0;
  }

  fetch(handler: FetchHandler): FetchHandler {
    if (!this.track) {
      return (req, info) => {
        this.onStart(++this.started);
        return handler(req, info);
      };
    }
    return (req, info) => {
      this.onStart(++this.started);
      const t0 = performance.now();
      const done = (res: Response | undefined): Response => {
        const elapsed = performance.now() - t0;
        if (this.access) this.access.log(new FetchRecord(req, info, res, t0, elapsed));
        // no record for the metrics alone: a fetch Response's headers cost Deno and Bun a Headers object to read, and
        // the runtime adds content-length only as it sends, so bytes are counted where node:http's response has them
        this.metrics?.add(req.method, res?.status ?? 101, elapsed, undefined);
        this.finished++;
        return res as Response;
      };
      const out = handler(req, info);
      // the guard never rejects: an app failure is already a 500 Response here
      return out instanceof Promise ? out.then(done) : done(out);
    };
  }

  node(listener: NodeListener): NodeListener {
    if (!this.track) {
      return (req, res) => {
        this.onStart(++this.started);
        listener(req, res);
      };
    }
    const metrics = this.metrics;
    if (!this.access) {
      // no line to write: nothing of the connection is read (its remoteAddress is a system call on Node)
      return (req, res) => {
        this.onStart(++this.started);
        const t0 = performance.now();
        res.on("close", () => {
          this.finished++;
          metrics?.add(req.method ?? "GET", res.statusCode, performance.now() - t0, lengthOf(nodeResponseHeader(res, "content-length")));
        });
        listener(req, res);
      };
    }
    return (req, res) => {
      this.onStart(++this.started);
      const t0 = performance.now();
      // taken now: some servers (Bun's node:http, node:http2's streams) let go of the connection by the time the response closes
      const connection = connectionOf(req);
      const remote = connection?.remoteAddress ?? "";
      // "close" comes after the response finished, or when the client went away first; once per response, so on()
      // rather than once(), whose wrapper cost 0.4-1 µs of 15 µs per request (CPU per request, 2026-12-07)
      res.on("close", () => this.done(new NodeRecord(req, res, remote, connection, t0, performance.now() - t0)));
      listener(req, res);
    };
  }

  answered(req: IncomingMessage, status: number, t0: number): void {
    this.onStart(++this.started);
    if (!this.track) return;
    this.done(new UpgradeRecord(req, status, t0, performance.now() - t0));
  }
}

/** Path and query of an absolute URL, without parsing it. */
function pathOf(url: string): string {
  const slash = url.indexOf("/", url.indexOf("//") + 2);
  return slash < 0 ? "/" : url.slice(slash);
}

/** What both kinds of record derive alike: wall-clock start, and the length from content-length. */
abstract class BaseRecord implements AccessRecord {
  abstract readonly remote: string;
  abstract readonly method: string;
  abstract readonly target: string;
  abstract readonly protocol: string;
  abstract readonly status: number;
  abstract requestHeader(name: string): string | undefined;
  abstract responseHeader(name: string): string | undefined;
  abstract tlsVariable(name: string): string | undefined;

  constructor(
    /** performance.now() at the start: one clock read per request */
    private readonly t0: number,
    readonly elapsed: number,
  ) {}

  get start(): number {
    return performance.timeOrigin + this.t0;
  }
  get length(): number | undefined {
    return lengthOf(this.responseHeader("content-length"));
  }
}

class FetchRecord extends BaseRecord {
  readonly protocol = "HTTP/1.1";

  constructor(
    private readonly req: Request,
    private readonly info: RequestInfo,
    /** undefined: the app upgraded the request to a WebSocket (Bun), logged as 101 */
    private readonly res: Response | undefined,
    t0: number,
    elapsed: number,
  ) {
    super(t0, elapsed);
  }

  get remote(): string {
    try {
      return this.info.remoteAddr.hostname;
    } catch {
      // Deno's info lets go of the peer once the request is upgraded to a WebSocket ("Request closed")
      return "";
    }
  }
  get method(): string {
    return this.req.method;
  }
  get target(): string {
    return pathOf(this.req.url);
  }
  get status(): number {
    return this.res?.status ?? 101;
  }
  requestHeader(name: string): string | undefined {
    try {
      return requestHeader(this.req, name) ?? undefined;
    } catch {
      // as remote
      return undefined;
    }
  }
  responseHeader(name: string): string | undefined {
    return this.res?.headers.get(name) ?? undefined;
  }
  tlsVariable(name: string): string | undefined {
    // a fetch app served from node:http(s) or node:http2 has its connection in info.incoming; Bun.serve and Deno.serve tell nothing of TLS
    return tlsVariable((this.info as { incoming?: { socket?: unknown } }).incoming?.socket, name);
  }
}

/** What is read alike of a node:http request, answered on a response or (an upgrade) on its connection. */
abstract class NodeRequestRecord extends BaseRecord {
  constructor(
    protected readonly req: IncomingMessage,
    t0: number,
    elapsed: number,
  ) {
    super(t0, elapsed);
  }

  get method(): string {
    return this.req.method ?? "GET";
  }
  get target(): string {
    return this.req.url ?? "/";
  }
  get protocol(): string {
    return `HTTP/${this.req.httpVersion || "1.1"}`;
  }
  requestHeader(name: string): string | undefined {
    const v = this.req.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
  tlsVariable(name: string): string | undefined {
    return tlsVariable(this.req.socket, name);
  }
}

class NodeRecord extends NodeRequestRecord {
  constructor(
    req: IncomingMessage,
    private readonly res: ServerResponse,
    /** read as the request began (Bun's node:http forgets it by the end) */
    readonly remote: string,
    private readonly connection: Connection | undefined,
    t0: number,
    elapsed: number,
  ) {
    super(req, t0, elapsed);
  }
  override tlsVariable(name: string): string | undefined {
    return tlsVariable(this.connection, name);
  }

  get status(): number {
    return this.res.statusCode;
  }
  responseHeader(name: string): string | undefined {
    return nodeResponseHeader(this.res, name);
  }
}

function nodeResponseHeader(res: ServerResponse, name: string): string | undefined {
  const v = res.getHeader(name);
  if (v !== undefined) return Array.isArray(v) ? v.join(", ") : String(v);
  // headers given to writeHead() as a list (tsgw's fetch adapter does) are only in the head already sent
  return headerInHead((res as { _header?: unknown })._header, name);
}

/** a response's content-length, when it has one */
function lengthOf(header: string | undefined): number | undefined {
  const n = Number(header ?? NaN);
  return Number.isFinite(n) ? n : undefined;
}

type Connection = { remoteAddress?: string };

/** A request's connection: its socket, or for HTTP/2 (node:http2's compatibility request) its session's. */
function connectionOf(req: IncomingMessage): Connection | undefined {
  return (req as { stream?: { session?: { socket?: Connection } } }).stream?.session?.socket ?? req.socket ?? undefined;
}

/** An upgrade request (a WebSocket handshake), answered on its own connection: no response object, no body. */
class UpgradeRecord extends NodeRequestRecord {
  readonly remote: string;

  constructor(
    req: IncomingMessage,
    readonly status: number,
    t0: number,
    elapsed: number,
  ) {
    super(req, t0, elapsed);
    this.remote = req.socket?.remoteAddress ?? "";
  }

  responseHeader(): string | undefined {
    return undefined;
  }
}

/** content-length -> Content-Length, remembered per name */
const TITLE_CASE = new Map<string, string>();
function titleCase(name: string): string {
  let t = TITLE_CASE.get(name);
  if (t === undefined) TITLE_CASE.set(name, t = name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase()));
  return t;
}

function headerInHead(head: unknown, name: string): string | undefined {
  if (typeof head !== "string") return undefined;
  // names as tsgw's fetch bridge writes them (lower case), or as node:http adds them (Content-Length), are
  // found without lowering the whole head
  let at = head.indexOf(`\r\n${name}:`);
  if (at < 0) at = head.indexOf(`\r\n${titleCase(name)}:`);
  if (at < 0) at = head.toLowerCase().indexOf(`\r\n${name}:`);
  if (at < 0) return undefined;
  const start = at + name.length + 3;
  return head.slice(start, head.indexOf("\r\n", start)).trim();
}
