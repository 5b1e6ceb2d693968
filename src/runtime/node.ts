/** Node shim: node:http for both interfaces, jiti for TypeScript modules. */
import { createServer } from "node:http";
import { createJiti } from "jiti";
import { fetchToNodeListener } from "../app/node-adapter.ts";
import { installLightGlobals } from "../app/node-light.ts";
import { sendToMaster, spawnClusterWorker } from "./cluster.ts";
import { listenNodeServer } from "./listen.ts";
import { importFile, isTypeScript } from "./modules.ts";
import type { Runtime } from "./types.ts";

let jiti: ReturnType<typeof createJiti> | undefined;

export const runtime: Runtime = {
  name: "node",
  version: process.versions.node,
  unixSharing: "cluster",
  tcpSharing: "cluster",
  spawnWorker: spawnClusterWorker,
  toMaster: sendToMaster,
  async importModule(file) {
    if (isTypeScript(file)) {
      jiti ??= createJiti(import.meta.url, { interopDefault: false });
      return (await jiti.import(file)) as Record<string, unknown>;
    }
    return importFile(file);
  },
  prepareWorker() {
    installLightGlobals();
  },
  serveFetch(address, handler, options) {
    const listener = fetchToNodeListener(handler, options.workerId, options.onError);
    return listenNodeServer(createServer(listener), address, options);
  },
  serveNode(address, listener, options) {
    return listenNodeServer(createServer(listener), address, options);
  },
};
