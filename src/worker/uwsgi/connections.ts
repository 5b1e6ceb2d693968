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
 * vars, with no HTTP parser in between (see node.ts).
 */
import type { BridgeListener } from "../../app/bridge.ts";
import type { FetchHandler, NodeListener } from "../../app/contract.ts";
import { fetchToNodeListener } from "../../app/node-adapter.ts";
import { normalizeIp } from "../../app/forwarded.ts";
import { installRequestCompat } from "../../app/light/globals.ts";
import { parseRequest, requestFromPairs, unsafeParts } from "../../protocol/uwsgi.ts";
import type { StreamSocket } from "../../runtime/types.ts";
import type { BodyStall } from "./body.ts";
import { UwsgiRequest, UwsgiResponse } from "./fetch.ts";
import { serveNodeRequest, type TakeUpgrade, tunnelRequest } from "./node.ts";
import { asksForWebSocket } from "../../app/upgrade.ts";
import { dynamicImport } from "../../dynamic-import.ts";

export interface UwsgiOptions {
  workerId: number;
  bufferSize: number;
  /** seconds a peer may take to send the vars */
  socketTimeout: number;
  /** seconds a request body may stall while the app waits for it (0: no limit) */
  bodyTimeout: number;
  /** takes WebSocket handshakes, whose connections become tunnels (without it they are answered 501) */
  tunnel?: TakeUpgrade;
  /** TCP peers allowed to speak uwsgi (unix sockets are always allowed) */
  allowFrom: readonly string[];
  onError: (message: string) => void;
  onWarning: (message: string) => void;
}

export type UwsgiApp = { fetch: FetchHandler } | { node: NodeListener };

type NodeHttp = typeof import("node:http");
/** a fetch app on the bridge, or a Node listener on node:http's own request and response classes */
type Served = ({ fetch: BridgeListener } | { node: NodeListener }) & { http?: NodeHttp };

/** What to do with each new connection: check the peer, then read one request. */
export async function uwsgiConnections(app: UwsgiApp, options: UwsgiOptions): Promise<(socket: StreamSocket) => void> {
  const allowed = new Set(options.allowFrom.map(normalizeIp));
  const deadlines = new HeadDeadlines(options.socketTimeout * 1000);
  let served: Served;
  if ("fetch" in app) {
    installRequestCompat(); // apps may pass the light request to new Request() or fetch()
    served = { fetch: fetchToNodeListener(app.fetch, options.workerId, options.onError) };
  } else served = { node: app.node };
  if ("node" in served || options.tunnel) served.http = await dynamicImport<typeof import("node:http")>("node:http");
  return (socket) => {
    const peer = socket.remoteAddress;
    if (peer && !allowed.has(normalizeIp(peer))) {
      options.onError(`uwsgi: connection from ${peer} refused (not in socket-allow-from)`);
      return void socket.destroy();
    }
    new Connection(socket, served, options, deadlines).start();
  };
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

  /** a WebSocket handshake: 501, said once in a while, and the connection ends (nginx passes the answer on) */
  private noWebSockets(path: string): void {
    this.options.onWarning(`uwsgi: a WebSocket upgrade for ${path}: ${NO_WEBSOCKETS}; answered 501`);
    this.socket.write(
      `HTTP/1.1 501 Not Implemented\r\ncontent-type: text/plain\r\ncontent-length: ${NO_WEBSOCKETS.length}\r\nconnection: close\r\n\r\n${NO_WEBSOCKETS}`,
    );
    this.socket.end();
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
    if (asksForWebSocket(parts.method, parts.upgrade)) {
      if (!this.options.tunnel) return this.noWebSockets(parts.path);
      return tunnelRequest(socket, parts, rest, served.http!, this.options.tunnel);
    }
    const stall: BodyStall = {
      ms: this.options.bodyTimeout * 1000,
      onStall: () => this.fail(`request body stalled for ${this.options.bodyTimeout}s (body-timeout)`),
    };
    if ("node" in served) serveNodeRequest(socket, parts, rest, served.node, served.http!, stall);
    else {
      const request = new UwsgiRequest(socket, parts, rest, stall);
      // the rest of the body waits in the socket until the app reads it (see bodyOf)
      if (!request.allRead) socket.pause();
      served.fetch(request, new UwsgiResponse(socket, request));
    }
  };
}

/** the answer to a WebSocket handshake over uwsgi */
const NO_WEBSOCKETS =
  "this app has no WebSocket handler that runs over uwsgi (crossws hooks and a Node listener's upgrade listeners do; Bun's server.upgrade() and Deno.upgradeWebSocket() need the runtime's own server): serve WebSockets through proxy_pass to an --http-socket listener";

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
