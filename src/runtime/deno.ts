/** Deno shim: Deno.serve for fetch apps, Deno's node:http for Node listeners. */
import { createServer } from "node:http";
import { LazyRequestInfo } from "./info.ts";
import { listenNative, listenNodeServer } from "./listen.ts";
import { importFile } from "./modules.ts";
import type { RemoteAddr, Runtime } from "./types.ts";

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

const remote = (addr: DenoAddr): RemoteAddr => ({ hostname: addr.hostname ?? "", port: addr.port ?? 0 });

export const runtime: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  prepareWorker() {},
  importModule: importFile,
  serveFetch(address, handler, options) {
    const { workerId } = options;
    return listenNative(address, options, () => {
      const server = Deno.serve(
        {
          ...(address.kind === "unix" ? { path: address.path, transport: "unix" } : { hostname: address.host, port: address.port }),
          onListen() {},
          onError(err: unknown) {
            options.onError(`request failed: ${String(err)}`);
            return new Response("Internal Server Error", { status: 500 });
          },
        },
        (req, info) => handler(req, new LazyRequestInfo(info.remoteAddr, remote, workerId)),
      );
      // a fast stop needs no wait: the process exits right after
      return { port: server.addr.port, stop: (graceful) => (graceful ? server.shutdown() : undefined) };
    });
  },
  serveNode(address, listener, options) {
    return listenNodeServer(createServer(listener), address, options);
  },
};
