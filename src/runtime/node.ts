/** Node shim: node:http for both interfaces, jiti for TypeScript modules. */
import { createServer } from "node:http";
import { pathToFileURL } from "node:url";
import { fetchToNodeListener } from "../app/node-adapter.ts";
import { installLightGlobals } from "../app/node-light.ts";
import { sendToMaster, spawnClusterWorker } from "./cluster.ts";
import { listenNodeServer } from "./listen.ts";
import { importFile, isTypeScript } from "./modules.ts";
import type { Runtime } from "./types.ts";

type Jiti = ReturnType<typeof import("jiti").createJiti>;
let jiti: Jiti | undefined;

export const runtime: Runtime = {
  name: "node",
  version: process.versions.node,
  unixSharing: "cluster",
  tcpSharing: "cluster",
  spawnWorker: spawnClusterWorker,
  toMaster: sendToMaster,
  async importModule(file) {
    if (isTypeScript(file)) {
      // loaded only for TypeScript apps; jiti/static carries its transform inside, so a bundle (the
      // Node single executable) has it too rather than reading it from a node_modules at run time
      jiti ??= (await import("jiti/static")).createJiti(pathToFileURL(`${process.cwd()}/`).href, { interopDefault: false });
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
