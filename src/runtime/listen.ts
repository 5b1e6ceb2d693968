/**
 * Listening helpers shared by the shims (none of them asks which runtime it
 * is on): stale unix socket handling, socket permissions, one-line bind
 * errors, and node:http servers (Node itself, and Node listeners on Bun/Deno).
 */
import type { RequestListener, Server as HttpServer } from "node:http";
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import type { Server as NetServer } from "node:net";
import { type Address, formatAddress } from "../config/address.ts";
import { TsgwError } from "../errors.ts";
import { rateLimited } from "../log/rate.ts";
import type { FetchHandler } from "../app/contract.ts";
import type { RunningServer, ServeOptions, StreamSocket } from "./types.ts";

/** Make a unix socket path usable: remove a stale socket file, refuse one a live process serves. */
export async function prepareUnixPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new TsgwError(`cannot listen on unix:${path}: the path exists and is not a socket`);
  const { connect } = await import("node:net");
  const alive = await new Promise<boolean>((done) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      done(true);
    });
    probe.once("error", () => done(false));
  });
  if (alive) throw new TsgwError(`cannot listen on unix:${path}: another process is serving on it`);
  unlinkSync(path);
}

export function chmodSocket(address: Address, mode: number): void {
  if (address.kind === "unix") chmodSync(address.path, mode);
}

export function removeSocket(address: Address): void {
  if (address.kind !== "unix") return;
  try {
    unlinkSync(address.path);
  } catch {
    // already gone (some runtimes unlink on close)
  }
}

const BIND_REASONS: Record<string, string> = {
  EADDRINUSE: "address already in use",
  AddrInUse: "address already in use",
  EACCES: "permission denied (ports below 1024 need root)",
  PermissionDenied: "permission denied",
  EADDRNOTAVAIL: "address not available on this machine",
  AddrNotAvailable: "address not available on this machine",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "unknown host",
  ENOENT: "folder does not exist",
  NotFound: "folder does not exist",
};

/** One line for a failed bind, whatever the runtime's error looks like. */
export function bindError(address: Address, err: unknown): TsgwError {
  const e = err as { code?: string; name?: string; message?: string };
  let reason = (e.code && BIND_REASONS[e.code]) || (e.name && BIND_REASONS[e.name]);
  if (!reason && /in use/i.test(e.message ?? "")) reason = BIND_REASONS.EADDRINUSE;
  return new TsgwError(`cannot listen on ${formatAddress(address)}: ${reason ?? e.message ?? String(err)}`);
}

/** How long a stopping server keeps answering on its open connections, each answer closing one. */
const DRAIN_MS = 200;

/** Listen with a node:http server and describe it as a RunningServer. */
export async function listenNodeServer(server: NetServer, address: Address, options: ServeOptions, scheme = "http"): Promise<RunningServer> {
  if (address.kind === "unix" && !options.shared) await prepareUnixPath(address.path);
  await new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => reject(bindError(address, err));
    server.once("error", fail);
    const ready = () => {
      server.off("error", fail);
      resolve();
    };
    if (address.kind === "unix") server.listen(address.path, ready);
    else server.listen(address.port, address.host, ready);
  });
  chmodSocket(address, options.socketMode);
  // an accept that fails (EMFILE: out of file descriptors) sheds that connection; the server accepts on
  const acceptFailed = rateLimited(options.onError, 10_000);
  server.on(
    "error",
    (err: NodeJS.ErrnoException) => acceptFailed(`cannot accept a connection on ${formatAddress(address, scheme)}: ${err.code ?? err.message}`),
  );
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    // A malformed request gets a 400 and a closed connection; the worker keeps serving.
    if (err.code === "ECONNRESET" || !socket.writable) return socket.destroy();
    const status = err.code === "HPE_HEADER_OVERFLOW"
      ? "431 Request Header Fields Too Large"
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
      ? "408 Request Timeout"
      : "400 Bad Request";
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  const bound = server.address();
  const url = address.kind === "tcp" && bound && typeof bound === "object"
    ? formatAddress({ ...address, port: bound.port }, scheme)
    : formatAddress(address, scheme);
  return {
    url,
    stop: async (graceful) => {
      const http = server as Partial<HttpServer>;
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
      });
    },
  };
}

/** What a runtime's own server (Bun.serve, Deno.serve) gives back once started. */
export interface NativeServer {
  /** the port actually bound (TCP) */
  port?: number;
  stop(graceful: boolean): Promise<void> | void;
  /** settles when the server stopped serving (Deno.serve's `finished`): before a stop, it died */
  finished?: Promise<unknown>;
}

/** `connection: close` on a response, so the client's next request goes to a new connection (and worker). */
function closingConnection(res: Response): Response {
  try {
    res.headers.set("connection", "close");
  } catch {
    // immutable headers (Response.error(), redirect()): the server closes it at stop
  }
  return res;
}

/**
 * Start a runtime's own server (Bun.serve, Deno.serve, Bun.listen): unix path
 * checks before, one-line bind errors, socket permissions after, and the
 * socket file removed on stop.
 */
export async function listenBound(address: Address, options: ServeOptions, start: () => NativeServer, scheme = "http"): Promise<RunningServer> {
  if (address.kind === "unix" && !options.shared) await prepareUnixPath(address.path);
  let server: NativeServer;
  try {
    server = start();
  } catch (err) {
    throw bindError(address, err);
  }
  chmodSocket(address, options.socketMode);
  const url = formatAddress(address.kind === "tcp" ? { ...address, port: server.port ?? address.port } : address, scheme);
  let stopping = false;
  // a server whose accept loop fails for good (Deno.serve at EMFILE) would leave a worker that beats but never serves
  const died = (why: unknown) => !stopping && options.onListenerDied(`listener ${url} stopped serving: ${why === undefined ? "it closed" : String(why)}`);
  server.finished?.then(() => died(undefined), died);
  return {
    url,
    async stop(graceful) {
      stopping = true;
      await server.stop(graceful);
      if (!options.shared) removeSocket(address);
    },
  };
}

/**
 * A runtime's own HTTP server, through listenBound. `start` gets the handler
 * to serve: on a graceful stop it first answers for a moment with
 * `connection: close`, because Bun.serve and Deno.serve shut idle keep-alive
 * connections at once, and a client whose next request was already on its
 * way over one (load testers, proxies with upstream keep-alive) would see it
 * reset; told to close, it reconnects to a sibling.
 */
export function listenNative(
  address: Address,
  options: ServeOptions,
  handler: FetchHandler,
  start: (handler: FetchHandler) => NativeServer,
): Promise<RunningServer> {
  let draining = false;
  const serving: FetchHandler = (req, info) => {
    if (!draining) return handler(req, info);
    const out = handler(req, info);
    return out instanceof Promise ? out.then(closingConnection) : closingConnection(out);
  };
  return listenBound(address, options, () => {
    const server = start(serving);
    return {
      port: server.port,
      finished: server.finished,
      async stop(graceful) {
        if (graceful) {
          draining = true;
          await new Promise((r) => setTimeout(r, DRAIN_MS));
        }
        await server.stop(graceful);
      },
    };
  });
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
  const { createServer } = await import("node:net");
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
  const { createServer } = await import("node:http");
  const headersTimeout = Math.max(1, Math.round(options.headerTimeout * 1000));
  const server = createServer(
    { headersTimeout, requestTimeout: 0, connectionsCheckingInterval: Math.min(1000, headersTimeout) },
    watchBodies(listener, options),
  );
  server.keepAliveTimeout = Math.round(options.keepAlive * 1000);
  return server;
}

/**
 * While a request's body is unfinished, its connection may be silent for at
 * most body-timeout: past that node:http closes it (its socket "timeout",
 * unless the app listens for the request's own "timeout" event to decide).
 */
function watchBodies(listener: RequestListener, options: ServeOptions): RequestListener {
  const ms = Math.round(options.bodyTimeout * 1000);
  if (ms <= 0) return listener;
  const stalled = rateLimited(options.onError, 10_000);
  return (req, res) => {
    const socket = req.socket;
    if (
      !req.complete && socket?.setTimeout &&
      (req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined)
    ) {
      const done = () => socket.setTimeout(0);
      socket.setTimeout(ms, () => {
        if (req.complete) return;
        stalled(`a request body stalled for ${options.bodyTimeout}s (body-timeout; peer ${socket.remoteAddress ?? "unix socket"}); connection closed`);
        socket.destroy();
      });
      req.once("end", done);
      req.once("close", done);
    }
    listener(req, res);
  };
}

/** A fetch app served from node:http (Node always; Deno where Deno.serve cannot share the address), observed once. */
export async function serveFetchOverNodeHttp(address: Address, handler: FetchHandler, options: ServeOptions): Promise<RunningServer> {
  // loaded here, not at the top: Bun workers import this file and never need the adapter
  const { fetchToNodeListener } = await import("../app/node-adapter.ts");
  const listener = options.observe.node(fetchToNodeListener(handler, options.workerId, options.onError));
  return listenNodeServer(await nodeHttpServer(listener, options), address, options);
}
