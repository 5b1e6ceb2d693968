/** Bun shim: Bun.serve for fetch apps, Bun's node:http for Node listeners. */
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { formatAddress } from "../config/address.ts";
import { bindError, chmodSocket, listenNodeServer, prepareUnixPath, removeSocket } from "./listen.ts";
import type { RemoteAddr, RequestInfo, Runtime } from "./types.ts";

interface BunServer {
  port: number;
  requestIP(req: Request): { address: string; port: number } | null;
  stop(closeActive?: boolean): Promise<void> | void;
}
declare const Bun: {
  version: string;
  serve(options: Record<string, unknown>): BunServer;
};

class BunRequestInfo implements RequestInfo {
  #req: Request;
  #server: BunServer;
  #remote?: RemoteAddr;
  constructor(req: Request, server: BunServer, readonly workerId: number) {
    this.#req = req;
    this.#server = server;
  }
  get remoteAddr(): RemoteAddr {
    if (!this.#remote) {
      const ip = this.#server.requestIP(this.#req);
      this.#remote = { hostname: ip?.address ?? "", port: ip?.port ?? 0 };
    }
    return this.#remote;
  }
}

export const runtime: Runtime = {
  name: "bun",
  version: Bun.version,
  prepareWorker() {},
  async importModule(file) {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  },
  async serveFetch(address, handler, options) {
    if (address.kind === "unix") await prepareUnixPath(address.path);
    const { workerId } = options;
    let server: BunServer;
    try {
      server = Bun.serve({
        ...(address.kind === "unix" ? { unix: address.path } : { hostname: address.host, port: address.port }),
        // bodies stream through; the app decides what is too large
        maxRequestBodySize: Number.MAX_SAFE_INTEGER,
        fetch: (req: Request, srv: BunServer) => handler(req, new BunRequestInfo(req, srv, workerId)),
        error(err: unknown) {
          options.onError(`request failed: ${String(err)}`);
          return new Response("Internal Server Error", { status: 500 });
        },
      });
    } catch (err) {
      throw bindError(address, err);
    }
    chmodSocket(address, options.socketMode);
    return {
      url: formatAddress(address.kind === "tcp" ? { ...address, port: server.port } : address),
      async stop(graceful) {
        await server.stop(!graceful);
        removeSocket(address);
      },
    };
  },
  serveNode(address, listener, options) {
    return listenNodeServer(createServer(listener), address, options);
  },
};
