/** Bun shim: Bun.serve for fetch apps, Bun's node:http for Node listeners, Bun.listen for raw connections. */
import { formatAddress } from "../config/address.ts";
import { forkDetached, sendToMaster, spawnClusterWorker } from "./cluster.ts";
import { setGroupsProcess } from "./groups.ts";
import { LazyRequestInfo, type RemoteAddr } from "../app/contract.ts";
import { listenBunSockets } from "./bun-socket.ts";
import { listenBound, listenNative } from "./native-server.ts";
import { listenNodeServer, nodeHttpServer } from "./node-server.ts";
import { importFile } from "./modules.ts";
import { webThread } from "./threads.ts";
import type { Address } from "../config/address.ts";
import type { Runtime, ServeOptions } from "./types.ts";

interface BunServer {
  port: number;
  requestIP(req: Request): { address: string; port: number } | null;
  stop(closeActive?: boolean): Promise<void> | void;
}
declare const Bun: {
  version: string;
  serve(options: Record<string, unknown>): BunServer;
};

/**
 * Bun cannot share a unix socket, so its one worker owns the path: a socket
 * file left by a predecessor that died (a crash, kill -9) is replaced, where
 * a bind would fail with "address in use" and no replacement could serve.
 */
function own(address: Address, options: ServeOptions): ServeOptions {
  return address.kind === "unix" ? { ...options, shared: false } : options;
}

export const runtime: Runtime = {
  name: "bun",
  version: Bun.version,
  // Bun.serve cannot share a unix socket, and Bun's node:cluster fails the second listen on one
  unixSharing: "none",
  tcpSharing: "reusePort",
  spawnWorker: spawnClusterWorker,
  spawnDaemon: forkDetached,
  toMaster: sendToMaster,
  setGroups: setGroupsProcess,
  installGlobals() {},
  // smol: the thread holds a few numbers (7 MB a worker with it, 14 MB through node:worker_threads)
  startThread: (body, data, onMessage) => webThread(body, data, onMessage, "() => process.ppid", '() => process.kill(process.pid, "SIGKILL")', { smol: true }),
  importModule: importFile,
  serveFetch(address, handler, options) {
    const { workerId } = options;
    return listenNative(address, own(address, options), options.observe.fetch(handler), (serving) => {
      // deno-lint-ignore prefer-const -- read by the closures below before it is assigned
      let server: BunServer | undefined;
      const origin = () => (address.kind === "tcp" ? formatAddress({ ...address, port: server!.port }) : "http://localhost");
      const remote = (req: Request): RemoteAddr => {
        const ip = server!.requestIP(req);
        return { hostname: ip?.address ?? "", port: ip?.port ?? 0 };
      };
      server = Bun.serve({
        ...(address.kind === "unix" ? { unix: address.path } : { hostname: address.host, port: address.port, reusePort: options.shared }),
        // bodies stream through; the app decides what is too large
        maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        fetch: (req: Request) => {
          const info = new LazyRequestInfo(req, remote, workerId);
          // Bun leaves the URL relative ("/path") when a request has no Host header (HTTP/1.0
          // clients, health checkers); apps rightly expect an absolute one, as on Node and Deno
          return serving(req.url.charCodeAt(0) === 47 ? new Request(origin() + req.url, req) : req, info);
        },
        error(err: unknown) {
          options.onError(`request failed: ${String(err)}`);
          return new Response("Internal Server Error", { status: 500 });
        },
      });
      return { port: server.port, stop: (graceful) => server!.stop(!graceful) };
    });
  },
  async serveNode(address, listener, options) {
    return listenNodeServer(await nodeHttpServer(options.observe.node(listener), options), address, own(address, options));
  },
  serveConnections(address, scheme, onConnection, options) {
    return listenBound(address, own(address, options), () => listenBunSockets(address, options.shared, onConnection), scheme);
  },
};
