/**
 * Adopting the node:http servers an app starts while it loads
 * (`app.listen(3000)`, `http.createServer(app).listen()`, `fastify.listen()`,
 * srvx's and polka's listen): the server is not bound; tsgw serves its
 * "request" and "upgrade" listeners on tsgw's own listeners, and the
 * app sees a server that is listening where tsgw is. The same on every
 * runtime: each has node:http. The runtimes' own servers (Bun.serve,
 * Deno.serve) are trapped by their shims.
 *
 * Measured: importing node:http and node:net for the trap costs a Bun
 * worker serving a fetch app 2 MB (42.6 -> 44.7 MB) and a Deno one 1 MB
 * (Node's workers load node:http anyway).
 */
import type { Server as HttpServer } from "node:http";
import type { AdoptedServer, ServingAt, TrapServers } from "./contract.ts";
import { servedBy } from "./detect.ts";
import { dynamicImport } from "../dynamic-import.ts";

type Listen = (this: HttpServer, ...args: unknown[]) => unknown;

/** Where a listen() call asked to be, for log lines. */
export function describeListen(args: unknown[]): string {
  const first = args[0];
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    const host = typeof args[1] === "string" ? args[1] : "";
    return `${host.includes(":") ? `[${host}]` : host}:${first}`;
  }
  if (typeof first === "string") return `unix:${first}`;
  if (first && typeof first === "object") {
    const o = first as { port?: number | string; host?: string; path?: string };
    if (o.path) return `unix:${o.path}`;
    return `${o.host ?? ""}:${o.port ?? 0}`;
  }
  return ":0 (any port)";
}

/** What `server.address()` answers for an adopted server: where tsgw serves, in node:net's shape. */
export function nodeAddress(at: ServingAt): string | { address: string; family: string; port: number } | null {
  if (at.unix) return at.unix;
  if (!at.tcp) return null;
  const { host, port } = at.tcp;
  return { address: host, family: host.includes(":") ? "IPv6" : "IPv4", port };
}

/**
 * The node:http trap: while installed, listen() on any HTTP server (http,
 * https, on every runtime) adopts the server; listen() on a plain net.Server
 * (another protocol) binds as usual. `httpsOwnsListen`: node:https's Server
 * has a listen() of its own (the runtime says), so node:https is loaded to
 * trap it; elsewhere it inherits the one trapped here, and loading it
 * (node:tls, node:crypto) would cost every worker 3-5 ms of its start on Node.
 */
export async function nodeServerTrap(httpsOwnsListen = false): Promise<TrapServers> {
  const [http, net, https] = await Promise.all([
    dynamicImport<typeof import("node:http")>("node:http"),
    dynamicImport<typeof import("node:net")>("node:net"),
    httpsOwnsListen ? dynamicImport<typeof import("node:https")>("node:https") : undefined,
  ]);
  // (an https.Server is not an http.Server on Node, but has its closeIdleConnections)
  const httpServers = [http.Server, ...(https ? [https.Server] : [])];
  // the prototypes that own a listen() (Bun's http.Server has its own, Node's inherits net.Server's)
  const owners = new Set<{ listen: Listen }>();
  for (const cls of [...httpServers, net.Server]) {
    for (let p = cls.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
      if (Object.hasOwn(p, "listen")) {
        owners.add(p as { listen: Listen });
        break;
      }
    }
  }
  return (at, onServer) => {
    const originals = new Map<{ listen: Listen }, Listen>();
    for (const owner of owners) {
      const original = owner.listen;
      originals.set(owner, original);
      owner.listen = function listen(this: HttpServer, ...args: unknown[]) {
        // a plain net.Server is another protocol: the app's own business
        if (!isHttpServer(this, ...httpServers)) {
          return original.apply(this, args);
        }
        onServer(adoptNodeServer(this, args, at));
        return this;
      };
    }
    return () => {
      for (const [owner, original] of originals) owner.listen = original;
    };
  };
}

function isHttpServer(server: object, ...classes: (abstract new (...a: never[]) => object)[]): boolean {
  return classes.some((c) => server instanceof c) || typeof (server as { closeIdleConnections?: unknown }).closeIdleConnections === "function";
}

/** Make `server` look like it listens where tsgw serves, and describe what it serves. */
function adoptNodeServer(server: HttpServer, args: unknown[], at: ServingAt): AdoptedServer {
  const callback = args.findLast((a) => typeof a === "function") as (() => void) | undefined;
  if (callback) server.once("listening", callback);
  let closed = false;
  const adopted: AdoptedServer = {
    asked: describeListen(args),
    via: "node:http listen()",
    app: { kind: "node", ...servedBy(server) },
    sameAs: (other) => sameListeners(server, serverOf.get(other)),
  };
  serverOf.set(adopted, server);
  const own = (name: string, value: unknown) => Object.defineProperty(server, name, { value, configurable: true, writable: true });
  own("address", () => (closed ? null : nodeAddress(at)));
  Object.defineProperty(server, "listening", { get: () => !closed, configurable: true });
  own("close", function close(this: HttpServer, done?: (err?: Error) => void) {
    if (closed) {
      queueMicrotask(() => done?.(Object.assign(new Error("Server is not running."), { code: "ERR_SERVER_NOT_RUNNING" })));
      return this;
    }
    closed = true;
    // the app stopping its server (a SIGTERM handler's server.close()) stops tsgw's worker gracefully
    void (adopted.onClose?.() ?? Promise.resolve()).then(() => {
      done?.();
      server.emit("close");
    });
    return this;
  });
  own("closeAllConnections", () => {});
  own("closeIdleConnections", () => {});
  // as node:net does: "listening" on the next turn, once the caller has its server
  setTimeout(() => server.emit("listening"), 0);
  return adopted;
}

const serverOf = new WeakMap<AdoptedServer, HttpServer>();

function sameListeners(a: HttpServer, b: HttpServer | undefined): boolean {
  if (!b) return false;
  const mine = a.listeners("request");
  const theirs = b.listeners("request");
  return mine.length === theirs.length && mine.every((l, i) => l === theirs[i]);
}

/** Several traps as one. */
export function allTraps(traps: (TrapServers | undefined)[]): TrapServers {
  return (at, onServer) => {
    const releases = traps.map((t) => t?.(at, onServer));
    return () => {
      for (const release of releases) release?.();
    };
  };
}
