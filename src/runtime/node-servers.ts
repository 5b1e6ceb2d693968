/** Node's servers: node:http for both interfaces, libuv handles for raw connections (runtime/node.ts is the rest of the shim). */
import { installLightGlobals } from "../app/light/globals.ts";
import { listenNodeServer, nodeHttpServer, serveFetchOverNodeHttp, serveNetConnections } from "./node-server.ts";
import { nodeFileBody } from "./file-body.ts";
import { takeOverAccepts } from "./node-socket.ts";
import { crosswsStreams } from "./crossws.ts";
import type { RuntimeServers } from "./types.ts";

export const servers: RuntimeServers = {
  fileBody: nodeFileBody,
  installGlobals() {
    installLightGlobals();
  },
  serveFetch: serveFetchOverNodeHttp,
  async serveNode(address, listener, options) {
    return listenNodeServer(await nodeHttpServer(options.observe.node(listener), options), address, options);
  },
  serveConnections(address, scheme, onConnection, options) {
    return serveNetConnections(address, scheme, onConnection, options, takeOverAccepts);
  },
  streamUpgrades: crosswsStreams,
};
