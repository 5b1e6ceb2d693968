/**
 * node:http and node:net servers as tsgw runs them (every app on Node, Node
 * listeners on Bun and Deno, raw uwsgi connections on Node and Deno):
 * tsgw's timeouts, answers to malformed requests, accept errors logged, and
 * a graceful stop.
 */
import type { IncomingMessage, RequestListener, Server as HttpServer } from "node:http";
import type { Server as NetServer } from "node:net";
import type { Duplex } from "node:stream";
import { type Address, formatAddress, type TlsMaterial } from "../config/address.ts";
import { rateLimited } from "../log/rate.ts";
import type { FetchHandler } from "../app/contract.ts";
import { crosswsNode, isHooks } from "./crossws.ts";
import { asksForWebSocket, untakenMessage, UPGRADE_REQUIRED_BODY, UPGRADE_REQUIRED_HEAD } from "../app/upgrade.ts";
import { DRAIN_MS } from "./native-server.ts";
import { UpgradedSockets } from "./upgraded-sockets.ts";
import { isValidHost } from "../protocol/host.ts";
import { chmodSocket, listenOn, prepareUnixPath, removeSocket } from "./socket-files.ts";
import { countConnection, countsConnections } from "./connection-count.ts";
import type { RunningServer, ServeOptions, StreamSocket } from "./types.ts";
import { dynamicImport } from "../dynamic-import.ts";

/** A node:http server (not a plain node:net one): it parses requests, keeps connections alive. */
function isHttp(server: NetServer): server is HttpServer {
  return typeof (server as Partial<HttpServer>).closeIdleConnections === "function";
}

/** A malformed request gets an error status and a closed connection; the worker keeps serving. */
function answerMalformed(err: NodeJS.ErrnoException, socket: import("node:stream").Duplex): void {
  // a TLS handshake that failed or stalled (node:https's tlsClientError: ERR_TLS_*, OpenSSL's ERR_SSL_*) has no
  // channel to answer on: a write there would wait for the handshake forever
  const tlsFailure = /^ERR_(TLS|SSL)_/.test(err.code ?? "") || "library" in err;
  if (tlsFailure || err.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
  const status = err.code === "HPE_HEADER_OVERFLOW"
    ? "431 Request Header Fields Too Large"
    : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
    ? "408 Request Timeout"
    : "400 Bad Request";
  socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/** Listen with a node:http or node:net server and describe it as a RunningServer. */
export async function listenNodeServer(
  server: NetServer,
  address: Address,
  options: ServeOptions,
  scheme = options.tls ? "https" : "http",
): Promise<RunningServer> {
  if (address.kind === "unix" && !options.shared) await prepareUnixPath(address.path);
  await listenOn(server, address, scheme, options.threaded === true);
  chmodSocket(address, options.socketMode);
  // an accept that fails (EMFILE: out of file descriptors) sheds that connection; the server accepts on
  const acceptFailed = rateLimited(options.onError, 10_000);
  server.on(
    "error",
    (err: NodeJS.ErrnoException) => acceptFailed(`cannot accept a connection on ${formatAddress(address, scheme)}: ${err.code ?? err.message}`),
  );
  if (isHttp(server)) server.on("clientError", answerMalformed);
  if (countsConnections()) server.on("connection", countConnection);
  const bound = server.address();
  const url = address.kind === "tcp" && bound && typeof bound === "object"
    ? formatAddress({ ...address, port: bound.port }, scheme)
    : formatAddress(address, scheme);
  return {
    url,
    stop: async (graceful) => {
      const http: Partial<HttpServer> = isHttp(server) ? server : {};
      if (graceful && http.closeIdleConnections) {
        // as for native servers (listenNative): answer a moment with connection: close before
        // closing idle keep-alive connections, so no client's next request meets a closed one
        http.prependListener!("request", (_req, res) => void (res.shouldKeepAlive = false));
        await new Promise((r) => setTimeout(r, DRAIN_MS));
      }
      await new Promise<void>((resolve) => {
        const closed = () => {
          // a shared socket belongs to the master, which removes it when it exits
          if (!options.shared) removeSocket(address);
          resolve();
        };
        try {
          server.close(closed);
        } catch {
          closed(); // Deno's cluster throws when the master's channel is gone already
        }
        http.closeIdleConnections?.();
        if (!graceful) http.closeAllConnections?.();
        if (isHttp(server)) (server as Upgrading)[UPGRADED]?.goingAway(graceful ? options.gracefulTimeout : 0);
      });
    },
  };
}

/**
 * Raw connections through node:net (Node, Deno). `takeOver`, given the
 * listening server, may take its accepts over and hand back its own open
 * connections; by default each connection is a net.Socket.
 */
export async function serveNetConnections(
  address: Address,
  scheme: string,
  onConnection: (socket: StreamSocket) => void,
  options: ServeOptions,
  takeOver?: (server: NetServer, onConnection: (socket: StreamSocket) => void) => { stop(graceful: boolean): Promise<void> } | undefined,
): Promise<RunningServer> {
  const { createServer } = await dynamicImport<typeof import("node:net")>("node:net");
  const server = createServer(onConnection);
  const running = await listenNodeServer(server, address, options, scheme);
  const taken = takeOver?.(server, onConnection);
  if (!taken) return running;
  return {
    url: running.url,
    stop: async (graceful) => void (await Promise.all([running.stop(graceful), taken.stop(graceful)])),
  };
}

/**
 * A node:http server with tsgw's limits: a request head must arrive within
 * header-timeout (checked every second, not Node's default 30), an idle
 * keep-alive connection is closed after keep-alive, and a request body that
 * stops arriving for body-timeout closes its connection; a request as a
 * whole has no limit (a long upload that keeps moving is the app's business).
 * node:http is imported here, when a server is made, since each module a
 * worker loads costs it memory.
 */
export async function nodeHttpServer(listener: RequestListener, options: ServeOptions): Promise<HttpServer> {
  const headersTimeout = Math.max(1, Math.round(options.headerTimeout * 1000));
  const serverOptions = { headersTimeout, requestTimeout: 0, connectionsCheckingInterval: Math.min(1000, headersTimeout) };
  const serving = refuseHandshakes(watchBodies(listener, options), options);
  const tls = options.tls;
  const server = !tls ? (await dynamicImport<typeof import("node:http")>("node:http")).createServer(serverOptions, serving) : tls.h2
    // HTTP/2 by ALPN, HTTP/1.1 for the rest; Node listeners get node:http2's compatibility API
    ? (await dynamicImport<typeof import("node:http2")>("node:http2")).createSecureServer(
      { ...secureOptions(tls, headersTimeout), allowHTTP1: true },
      serving as never,
    ) as unknown as HttpServer
    : (await dynamicImport<typeof import("node:https")>("node:https")).createServer(
      { ...serverOptions, ...secureOptions(tls, headersTimeout) },
      serving,
    ) as unknown as HttpServer;
  server.keepAliveTimeout = Math.round(options.keepAlive * 1000);
  takeUpgrades(server, options);
  return server;
}

/** node:tls's options for a listener: TLS 1.2 at least, client certificates as asked, a handshake bounded as a request head is (node:https waits 120 s by default) */
function secureOptions(tls: TlsMaterial, handshakeTimeout: number) {
  return {
    cert: tls.cert,
    key: tls.key,
    minVersion: "TLSv1.2" as const,
    handshakeTimeout,
    ...(tls.ciphers ? { ciphers: tls.ciphers } : {}),
    ...(tls.ca ? { ca: tls.ca, requestCert: tls.clientCerts !== "none", rejectUnauthorized: tls.clientCerts === "required" } : {}),
  };
}

/**
 * WebSocket upgrades: to the app's adopted server's "upgrade" listeners, or
 * to those the app's onServer hook adds to this server; a handshake nobody
 * takes is answered 426. Without any of these, no "upgrade" listener is
 * added, so node:http hands upgrades to the request listener, which answers
 * WebSocket handshakes 426 (see refuseHandshakes) and serves the rest
 * (`Upgrade: h2c`) as the requests they are.
 */
function takeUpgrades(server: HttpServer, options: ServeOptions): void {
  if (!options.upgrade && !options.onServer) return;
  const untaken = rateLimited(options.onWarning, 10_000);
  const upgraded = new UpgradedSockets(options.websocketPing);
  (server as Upgrading)[UPGRADED] = upgraded;
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const t0 = performance.now();
    upgraded.add(socket, (status) => options.observe.answered(req, status, t0));
    if (options.upgrade?.(req, socket, head)) return;
    if (server.listenerCount("upgrade") > 1) return; // the app's own, added by its onServer hook
    untaken(untakenMessage(req.url ?? "/"));
    socket.end(UPGRADE_REQUIRED_HEAD + UPGRADE_REQUIRED_BODY);
  });
  options.onServer?.(server);
}

/**
 * A node:http server that never listens, for WebSocket handshakes that
 * arrive another way (uwsgi tunnels): they are emitted as its "upgrade"
 * event, so they meet what a listening server's would (`options.upgrade`,
 * what the app's onServer hook attached, 426 for the rest, counting, pings
 * and the 1001 goodbye).
 */
export async function upgradeOnlyServer(options: ServeOptions): Promise<{ take: UpgradeTaker; goingAway(graceSeconds: number): void }> {
  const { createServer } = await dynamicImport<typeof import("node:http")>("node:http");
  const server = createServer();
  takeUpgrades(server, options);
  return {
    take: (req, socket, head) => void server.emit("upgrade", req, socket, head),
    goingAway: (graceSeconds) => (server as Upgrading)[UPGRADED]?.goingAway(graceSeconds),
  };
}
type UpgradeTaker = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** the upgraded connections of a node:http server (WebSockets, whoever serves them) */
const UPGRADED = Symbol("tsgw.upgraded");
type Upgrading = HttpServer & { [UPGRADED]?: UpgradedSockets };

/**
 * WebSocket handshakes that reach the request listener: nothing here can
 * take them. The 426 is counted and logged as the observer would a request
 * (this runs outside the observed listener), as Bun.serve's and
 * Deno.serve's refusals are.
 */
function refuseHandshakes(listener: RequestListener, options: ServeOptions): RequestListener {
  const untaken = rateLimited(options.onWarning, 10_000);
  return (req, res) => {
    if (!asksForWebSocket(req.method, req.headers.upgrade)) return listener(req, res);
    const t0 = performance.now();
    untaken(untakenMessage(req.url ?? "/"));
    res.writeHead(426, { "content-type": "text/plain", connection: "close" }).end(UPGRADE_REQUIRED_BODY);
    options.observe.answered(req, 426, t0);
  };
}

/**
 * While a request's body is unfinished, its connection may be silent for at
 * most body-timeout; past that it is closed. A sweep every second reads the
 * bytesRead of each connection whose latest request has a body. Per request
 * there is one Map entry per connection (or HTTP/2 stream) and no timer, event
 * listener or turn of the loop: a socket timer per request cost Node 40% of a
 * small JSON POST's throughput, holding every request until a sweep 30% (in
 * garbage collection), and an immediate per read to see whether its bodies had
 * come whole 2-3 us of the 25-29 such a POST costs. Where a server keeps no
 * bytesRead (Bun's node:http reports 0 after a whole head), the socket's own
 * timeout does it.
 */
function watchBodies(listener: RequestListener, options: ServeOptions): RequestListener {
  const ms = Math.round(options.bodyTimeout * 1000);
  if (ms <= 0) return listener;
  const stalled = rateLimited(options.onError, 10_000);
  const cut = (req: IncomingMessage) => {
    stalled(`a request body stalled for ${options.bodyTimeout}s (body-timeout; peer ${req.socket?.remoteAddress ?? "unix socket"}); connection closed`);
    req.socket?.destroy();
  };
  /** keyed by the connection (HTTP/1: one request at a time has an unfinished body) or the HTTP/2 stream; `since` 0: not yet seen by a sweep */
  const watched = new Map<object, { req: IncomingMessage; bytes: number; since: number }>();
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const now = Date.now();
    for (const [key, seen] of watched) {
      const { req } = seen;
      const socket = req.socket;
      if (req.complete || req.destroyed || !socket || socket.destroyed) watched.delete(key);
      else if (seen.since === 0 || socket.bytesRead !== seen.bytes) [seen.bytes, seen.since] = [socket.bytesRead, now];
      else if (now - seen.since >= ms) {
        watched.delete(key);
        cut(req);
      }
    }
    if (watched.size === 0) sweeper = void clearInterval(sweeper);
  };
  return (req, res) => {
    const socket = req.socket;
    const hasBody = req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined;
    if (hasBody && !req.complete && socket) {
      if (socket.bytesRead > 0) {
        const key = (req as { stream?: object }).stream ?? socket;
        const seen = watched.get(key);
        if (seen) {
          seen.req = req;
          seen.since = 0;
        } else watched.set(key, { req, bytes: 0, since: 0 });
        if (!sweeper) {
          sweeper = setInterval(sweep, Math.min(1000, ms / 2));
          sweeper.unref();
        }
      } else if (socket.setTimeout) {
        const done = () => socket.setTimeout(0);
        socket.setTimeout(ms, () => req.complete || cut(req));
        req.once("end", done);
        req.once("close", done);
      }
    }
    listener(req, res);
  };
}

/**
 * A fetch app's request URL is made from the Host header (node:http gives
 * the path alone): a Host no URL can be made of is answered 400 before the
 * app sees it (see protocol/host.ts). An empty or missing one is the
 * request's own business (the URL says localhost).
 */
function refuseInvalidHosts(listener: RequestListener): RequestListener {
  return (req, res) => {
    const host = req.headers.host ?? req.headers[":authority"];
    if (!host || typeof host !== "string" || isValidHost(host)) return listener(req, res);
    res.writeHead(400, { "content-type": "text/plain", "content-length": "19", connection: "close" }).end("invalid Host header");
  };
}

/** A fetch app served from node:http (Node always; Deno where Deno.serve cannot share the address), observed once. */
export async function serveFetchOverNodeHttp(address: Address, handler: FetchHandler, options: ServeOptions): Promise<RunningServer> {
  // loaded here, not at the top: Bun workers import this file and never need the adapter
  const { fetchToNodeListener } = await import("../app/node-adapter.ts");
  const listener = options.observe.node(refuseInvalidHosts(fetchToNodeListener(handler, options.workerId, options.onError)));
  // crossws hooks (the app's `websocket`) take the WebSocket handshakes
  const upgrade = isHooks(options.websocket) ? await crosswsNode(options.websocket, options) : undefined;
  return listenNodeServer(await nodeHttpServer(listener, { ...options, upgrade }), address, options);
}
