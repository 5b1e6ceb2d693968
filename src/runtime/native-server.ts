/**
 * A runtime's own servers (Bun.serve, Deno.serve, Bun.listen) as tsgw runs
 * them: unix path checks, permissions and removal, one-line bind errors, a
 * listener that dies unasked reported, and a graceful stop that first tells
 * keep-alive clients to reconnect elsewhere.
 */
import { type Address, formatAddress } from "../config/address.ts";
import type { FetchHandler } from "../app/contract.ts";
import { bindError, chmodSocket, prepareUnixPath, removeSocket } from "./socket-files.ts";
import type { RunningServer, ServeOptions } from "./types.ts";

/** How long a stopping server keeps answering on its open connections, each answer closing one. */
export const DRAIN_MS = 200;

/**
 * Run `goodbye` shortly before a graceful stop of `graceSeconds` runs out
 * (the worker exits then), or at once for a fast stop: open WebSockets are
 * closed with 1001 there, so clients see a clean close, not a reset.
 */
export function beforeGraceEnds(graceSeconds: number, goodbye: () => void): void {
  if (graceSeconds <= 0) return goodbye();
  setTimeout(goodbye, Math.max(0, graceSeconds * 1000 - 1500)).unref();
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
  // an upgraded request (no Response, or a 101) keeps its connection: it is a WebSocket now
  if (!res || res.status === 101) return res;
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
export async function listenBound(
  address: Address,
  options: ServeOptions,
  start: () => NativeServer,
  scheme = options.tls ? "https" : "http",
): Promise<RunningServer> {
  if (address.kind === "unix" && !options.shared) await prepareUnixPath(address.path);
  let server: NativeServer;
  try {
    server = start();
  } catch (err) {
    throw bindError(address, err, scheme);
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
