/** Deno shim: Deno.serve for fetch apps, Deno's node:http for Node listeners. */
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { formatAddress } from "../config/address.ts";
import { bindError, chmodSocket, listenNodeServer, prepareUnixPath, removeSocket } from "./listen.ts";
import type { RemoteAddr, RequestInfo, Runtime } from "./types.ts";

interface DenoAddr {
  transport: string;
  hostname?: string;
  port?: number;
}
interface DenoServer {
  addr: DenoAddr;
  shutdown(): Promise<void>;
}
declare const Deno: {
  version: { deno: string };
  serve(options: Record<string, unknown>, handler: (req: Request, info: { remoteAddr: DenoAddr }) => Response | Promise<Response>): DenoServer;
};

class DenoRequestInfo implements RequestInfo {
  #addr: DenoAddr;
  #remote?: RemoteAddr;
  constructor(addr: DenoAddr, readonly workerId: number) {
    this.#addr = addr;
  }
  get remoteAddr(): RemoteAddr {
    return (this.#remote ??= { hostname: this.#addr.hostname ?? "", port: this.#addr.port ?? 0 });
  }
}

export const runtime: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  prepareWorker() {},
  async importModule(file) {
    return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  },
  async serveFetch(address, handler, options) {
    if (address.kind === "unix") await prepareUnixPath(address.path);
    const { workerId } = options;
    let server: DenoServer;
    try {
      server = Deno.serve(
        {
          ...(address.kind === "unix" ? { path: address.path, transport: "unix" } : { hostname: address.host, port: address.port }),
          onListen() {},
          onError(err: unknown) {
            options.onError(`request failed: ${String(err)}`);
            return new Response("Internal Server Error", { status: 500 });
          },
        },
        (req, info) => handler(req, new DenoRequestInfo(info.remoteAddr, workerId)),
      );
    } catch (err) {
      throw bindError(address, err);
    }
    chmodSocket(address, options.socketMode);
    return {
      url: formatAddress(address.kind === "tcp" ? { ...address, port: server.addr.port ?? address.port } : address),
      async stop(graceful) {
        if (graceful) await server.shutdown();
        removeSocket(address);
      },
    };
  },
  serveNode(address, listener, options) {
    return listenNodeServer(createServer(listener), address, options);
  },
};
