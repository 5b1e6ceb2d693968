/** Bun's servers: Bun.serve for fetch apps, Bun's node:http for Node listeners, Bun.listen for raw connections. */
import { formatAddress } from "../config/address.ts";
import { TsgwError } from "../errors.ts";
import type { FetchHandler, RemoteAddr, RequestInfo } from "../app/contract.ts";
import { guardFetch } from "../app/guard.ts";
import { countWebSocket, webSockets } from "../app/upgrade.ts";
import { BunAdoption, type BunServer, bunServeTrap } from "./bun-adopt.ts";
import { INHERITED_REFUSAL } from "./bun.ts";
import { crosswsBun, crosswsStreams, isHooks, withHandshakes } from "./crossws.ts";
import { listenBunSockets } from "./bun-socket.ts";
import { beforeGraceEnds, listenBound, listenNative } from "./native-server.ts";
import { listenNodeServer, nodeHttpServer } from "./node-server.ts";
import type { Address, BindAddress, TlsMaterial } from "../config/address.ts";
import type { RuntimeServers, ServeOptions } from "./types.ts";

declare const Bun: {
  file(path: string): Blob;
  serve(options: Record<string, unknown>): BunServer;
};

/** Bun.serve's TLS options: client certificates checked against the CA (Bun shows them to no app), HTTP/2 by ALPN when asked */
function bunTls(tls: TlsMaterial) {
  return {
    tls: {
      cert: tls.cert,
      key: tls.key,
      ...(tls.ciphers ? { ciphers: tls.ciphers } : {}),
      ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
    },
    ...(tls.h2 ? { http2: true } : {}),
  };
}

/** the real Bun server behind a BunRequestInfo */
const REAL = Symbol("tsgw.bunServer");

/**
 * The second argument of a fetch handler on Bun: tsgw's remoteAddr and
 * workerId, and every member of the Bun server, as Bun.serve passes it
 * (requestIP, upgrade, publish, timeout... bound to the real server), so
 * code written for Bun.serve (Hono's getConnInfo, server.upgrade) works.
 */
class BunRequestInfo implements RequestInfo {
  #remote?: RemoteAddr;
  readonly [REAL]: BunServer;
  constructor(server: BunServer, private readonly request: Request, readonly workerId: number) {
    this[REAL] = server;
  }
  /**
   * The server, as code written for Bun.serve reads it (Hono's getBunServer
   * takes `env.server` when there is one): this same object, so an upgrade
   * through it is noted too.
   */
  get server(): this {
    return this;
  }
  get remoteAddr(): RemoteAddr {
    if (!this.#remote) {
      const ip = this[REAL].requestIP(this.request);
      this.#remote = { hostname: ip?.address ?? "", port: ip?.port ?? 0 };
    }
    return this.#remote;
  }
  /** Bun's server.upgrade(), noted: the app's fetch then returns nothing, and that is no error */
  upgrade(req: Request, options?: unknown): boolean {
    return upgradeNoted(this[REAL], req, options);
  }
  get upgraded(): boolean {
    return upgradedRequests.has(this.request);
  }
}
/**
 * Bun's websocket handlers with tsgw's limits where the app set none (Bun
 * pings after idleTimeout of quiet and closes a socket silent for another),
 * noting the open sockets (counted, and closed with 1001 at a graceful stop).
 */
function tracked(handlers: Record<string, unknown>, sockets: Map<BunWebSocket, () => void>, limits: ServeOptions): Record<string, unknown> {
  type Handler = (this: unknown, ws: BunWebSocket, ...rest: unknown[]) => unknown;
  const open = handlers.open as Handler | undefined;
  const close = handlers.close as Handler | undefined;
  const message = handlers.message as Handler | undefined;
  return {
    idleTimeout: limits.websocketPing,
    sendPings: limits.websocketPing > 0,
    maxPayloadLength: limits.websocketMaxSize,
    ...handlers,
    open(ws: BunWebSocket, ...rest: unknown[]) {
      countSends(ws);
      sockets.set(ws, countWebSocket());
      return open?.call(handlers, ws, ...rest);
    },
    message(ws: BunWebSocket, data: unknown) {
      webSockets.messagesIn++;
      return message?.call(handlers, ws, data);
    },
    close(ws: BunWebSocket, ...rest: unknown[]) {
      sockets.get(ws)?.();
      sockets.delete(ws);
      return close?.call(handlers, ws, ...rest);
    },
  };
}
type BunWebSocket = { close(code?: number, reason?: string): void };

let sendsCounted = false;

/** Bun's ServerWebSocket sends, counted (--stats): wrapped once, on the prototype every socket shares. */
function countSends(ws: BunWebSocket): void {
  if (sendsCounted) return;
  sendsCounted = true;
  const proto = Object.getPrototypeOf(ws) as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ["send", "sendText", "sendBinary", "publish", "publishText", "publishBinary"]) {
    const original = proto[name];
    if (typeof original !== "function") continue;
    // fixed arguments (at most three: topic, data, compress), not a rest array: one call per message sent
    proto[name] = function (this: unknown, a: unknown, b: unknown, c: unknown) {
      webSockets.messagesOut++;
      return original.call(this, a, b, c);
    };
  }
}

/**
 * At a graceful stop, Bun.serve keeps its WebSockets open until the worker
 * exits (the client sees a reset): shortly before graceful-timeout ends,
 * each gets close 1001 "going away", as on node:http.
 */
function goingAway(sockets: Map<BunWebSocket, unknown>, graceSeconds: number): void {
  if (sockets.size === 0) return;
  beforeGraceEnds(graceSeconds, () => {
    for (const ws of sockets.keys()) ws.close(1001, "going away");
  });
}

/**
 * An exported `websocket` is Bun's own handlers (its fetch calls
 * server.upgrade()), unless it has crossws's upgrade hook: then it is
 * crossws's, and crossws takes the handshakes.
 */
function crosswsHooks(websocket: unknown): websocket is Record<string, unknown> {
  return isHooks(websocket) && typeof websocket.upgrade === "function";
}

/** requests the app upgraded to WebSockets, through the info or the server it holds */
const upgradedRequests = new WeakSet<Request>();

/** Bun's server.upgrade(), the request noted when it succeeds (see RequestInfo.upgraded) */
function upgradeNoted(server: BunServer, req: Request, options?: unknown): boolean {
  const ok = server.upgrade(req, options);
  if (ok) upgradedRequests.add(req);
  return ok;
}
let delegated = false;

/** Give BunRequestInfo the server's members (once: every Bun server has the same prototype). */
function delegateServerMembers(server: BunServer): void {
  if (delegated) return;
  delegated = true;
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(server))) {
    if (name === "constructor" || name in BunRequestInfo.prototype) continue;
    Object.defineProperty(BunRequestInfo.prototype, name, {
      configurable: true,
      get(this: BunRequestInfo) {
        const real = this[REAL] as unknown as Record<string, unknown>;
        const value = real[name];
        return typeof value === "function" ? value.bind(real) : value;
      },
    });
  }
}

/**
 * Bun cannot share a unix socket, so its one worker owns the path: a socket
 * file left by a predecessor that died (a crash, kill -9) is replaced, where
 * a bind would fail with "address in use" and no replacement could serve.
 */
function own(address: Address, options: ServeOptions): ServeOptions {
  return address.kind === "unix" ? { ...options, shared: false } : options;
}

/** Bun's servers bind their own sockets: an inherited one (fd://) is refused at start (Runtime.inheritedSockets) */
function bound(address: Address): BindAddress {
  if (address.kind === "fd") throw new TsgwError(INHERITED_REFUSAL);
  return address;
}
export const servers: RuntimeServers = {
  installGlobals() {},
  // a Bun.file slice: Bun.serve sends it with sendfile
  fileBody: (path, start, end) => Bun.file(path).slice(start, end + 1),
  trapServers: bunServeTrap(Bun, upgradeNoted),
  async serveFetch(listenAt, handler, options) {
    const address = bound(listenAt);
    const { workerId } = options;
    const adoption = options.native instanceof BunAdoption ? options.native : undefined;
    const given = options.websocket as Record<string, unknown> | undefined;
    const cross = crosswsHooks(given) ? await crosswsBun(given) : undefined;
    const websocket = cross?.websocket ?? given;
    const app = cross ? withHandshakes(handler, (req, info) => cross.upgrade(req, info)) : handler;
    return listenNative(address, own(address, options), options.observe.fetch(app), (serving) => {
      // deno-lint-ignore prefer-const -- read by the closures below before it is assigned
      let server: BunServer | undefined;
      const scheme = options.tls ? "https" : "http";
      const origin = () => (address.kind === "tcp" ? formatAddress({ ...address, port: server!.port }, scheme) : `${scheme}://localhost`);
      const call = (h: FetchHandler) => (req: Request, bun: BunServer) => {
        // Bun leaves the URL relative ("/path") when a request has no Host header (HTTP/1.0
        // clients, health checkers); apps rightly expect an absolute one, as on Node and Deno.
        // The request stays Bun's own (server.upgrade() takes no other): the URL is set on it.
        if (req.url.charCodeAt(0) === 47) Object.defineProperty(req, "url", { value: origin() + req.url, configurable: true });
        return h(req, new BunRequestInfo(bun, req, workerId));
      };
      // the app's own route handlers are watched and guarded as its fetch is
      const route = (h: FetchHandler) => call(options.observe.fetch(guardFetch(h, options.onError)));
      const sockets = new Map<BunWebSocket, () => void>();
      const handlers = (adoption?.options.websocket ?? websocket) as Record<string, unknown> | undefined;
      const build = () => ({
        ...adoption?.serveOptions(route, options.onWarning),
        ...(handlers ? { websocket: tracked(handlers, sockets, options) } : {}),
        ...(options.tls ? bunTls(options.tls) : {}),
        ...(address.kind === "unix" ? { unix: address.path } : { hostname: address.host, port: address.port, reusePort: options.shared }),
        // bodies stream through; the app decides what is too large
        maxRequestBodySize: (adoption?.options.maxRequestBodySize as number | undefined) ?? Number.MAX_SAFE_INTEGER,
        fetch: call(serving),
        error: (adoption?.options.error as ((err: unknown) => Response) | undefined) ?? ((err: unknown) => {
          options.onError(`request failed: ${String(err)}`);
          return new Response("Internal Server Error", { status: 500 });
        }),
      });
      server = Bun.serve(build());
      delegateServerMembers(server);
      adoption?.servers.push({ server, build });
      return {
        port: server.port,
        stop: (graceful) => {
          if (graceful) goingAway(sockets, options.gracefulTimeout);
          return server!.stop(!graceful);
        },
      };
    });
  },
  async serveNode(address, listener, options) {
    return listenNodeServer(await nodeHttpServer(options.observe.node(listener), options), address, own(address, options));
  },
  streamUpgrades: (websocket, limits) => crosswsStreams(websocket, limits, crosswsHooks),
  serveConnections(listenAt, scheme, onConnection, options) {
    const address = bound(listenAt);
    return listenBound(address, own(address, options), () => listenBunSockets(address, options.shared, onConnection), scheme);
  },
};
