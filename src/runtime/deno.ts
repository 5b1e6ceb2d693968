/** Deno shim: Deno.serve for fetch apps, Deno's node:http for Node listeners. */
import { resolve } from "node:path";
import { bytesOnly } from "../app/body-stream.ts";
import { installRequestCompat } from "../app/light/globals.ts";
import { countWebSocket, webSockets } from "../app/upgrade.ts";
import { forkMaster, sendToMaster, spawnClusterWorker } from "./cluster.ts";
import type { AdoptedServer, FetchHandler, RequestInfo, TrapServers } from "../app/contract.ts";
import { listenNative } from "./native-server.ts";
import { workerConfig } from "./deno-config.ts";
import { crosswsDeno, crosswsStreams, isHooks, withHandshakes } from "./crossws.ts";
import { listenNodeServer, nodeHttpServer, serveFetchOverNodeHttp, serveNetConnections } from "./node-server.ts";
import { importFile, nodeFileBody, SMALL } from "./modules.ts";
import type { BindAddress } from "../config/address.ts";
import { startServingThread, webThread } from "./threads.ts";
import type { Runtime, ServeOptions } from "./types.ts";

interface DenoAddr {
  transport: string;
  hostname?: string;
  port?: number;
}
interface DenoServer {
  addr: DenoAddr;
  finished: Promise<void>;
  shutdown(): Promise<void>;
}
declare const Deno: {
  version: { deno: string };
  /** the entry module's URL */
  mainModule: string;
  openSync(path: string): { readable: ReadableStream<Uint8Array> };
  readTextFileSync(path: string): string;
  dlopen(
    path: string,
    symbols: Record<string, { parameters: string[]; result: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => number>; close(): void };
  listenDatagram?: unknown;
  serve(options: Record<string, unknown>, handler: (req: Request, info: { remoteAddr: DenoAddr }) => Response | Promise<Response>): DenoServer;
  upgradeWebSocket(req: Request, options?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
};

/**
 * The flags this Deno was started with (`deno run -A --config deno.json
 * --v8-flags=... cli.ts`): Deno's node:cluster and child_process.fork give a
 * child only `-A` and its unstable flags (process.execArgv is empty), so an
 * app's import map, compiler options, env file and V8 flags were lost in
 * every worker. Read from /proc/self/cmdline at start (before any chdir);
 * undefined where there is none (macOS: Deno's default), or for a compiled
 * binary, which has no `run`.
 */
let DENO_FLAGS: string[] | undefined = (() => {
  try {
    const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    const run = argv.indexOf("run");
    const script = process.argv[1] ? argv.findIndex((a, i) => i > run && resolve(a) === process.argv[1]) : -1;
    return run > 0 && script > run ? ["run", ...argv.slice(run + 1, script)] : undefined;
  } catch {
    return undefined;
  }
})();

/** A large whole file is Deno's own file stream; a small one or a range, node:fs (Deno's stream reads to the end). */
function denoFileBody(path: string, start: number, end: number, size: number): BodyInit {
  return start === 0 && end === size - 1 && size > SMALL ? Deno.openSync(path).readable : nodeFileBody(path, start, end);
}

/** Deno exposes listenDatagram only under --unstable-net, the flag reusePort needs. */
const UNSTABLE_NET = typeof Deno.listenDatagram === "function";

/** where a stream body cut for a chunk that is not bytes is reported (the worker's error log, once serving) */
let reportCut: (message: string) => void = (m) => console.error(m);

/**
 * Deno.serve takes only bytes from a stream body and answers an empty 200 for
 * a string chunk, which Bun (and tsgw on Node) send as UTF-8: streams given
 * to the global Response get their strings encoded. Only stream bodies pay.
 */
function installBytesOnlyResponse(): void {
  const Native = globalThis.Response;
  // a plain function that returns the native object, so every Response the app makes is Deno's own
  // (measured: hello world unchanged, 110-127k req/s either way)
  const Response = function Response(this: unknown, body?: BodyInit | null, init?: ResponseInit) {
    if (new.target === undefined) throw new TypeError("Class constructor Response cannot be invoked without 'new'");
    const given = body instanceof ReadableStream ? bytesOnly(body, (m) => reportCut(m)) : body;
    // an app's own subclass keeps its prototype
    return new.target === Response ? new Native(given, init) : Reflect.construct(Native, [given, init], new.target);
  } as unknown as typeof globalThis.Response;
  Object.setPrototypeOf(Response, Native); // Response.json(), redirect(), error()
  Object.defineProperty(Response, "prototype", { value: Native.prototype });
  Object.defineProperty(globalThis, "Response", { value: Response, writable: true, configurable: true });
}

type DenoHandler = (req: Request, info: { remoteAddr: DenoAddr }) => Response | Promise<Response>;
interface DenoServeOptions {
  handler?: DenoHandler;
  fetch?: DenoHandler;
  port?: number;
  hostname?: string;
  path?: string;
  onListen?: (addr: DenoAddr) => void;
}

/**
 * Deno.serve() calls an app makes while tsgw loads it, adopted: nothing is
 * bound, tsgw serves the handler on its own listeners, and the server the
 * app holds reports tsgw's first address (its onListen is called with it);
 * shutting it down stops the worker gracefully.
 */
const denoServeTrap: TrapServers = (at, onServer) => {
  const original = Object.getOwnPropertyDescriptor(Deno, "serve")!;
  const serve = (a: DenoServeOptions | DenoHandler, b?: DenoServeOptions | DenoHandler) => {
    const options = (typeof a === "function" ? (typeof b === "object" ? b : {}) : a) ?? {};
    const handler = typeof a === "function" ? a : typeof b === "function" ? b : options.handler ?? options.fetch;
    if (typeof handler !== "function") throw new TypeError("Deno.serve: no handler given");
    const addr: DenoAddr = at.unix ? { transport: "unix", path: at.unix } as DenoAddr : { transport: "tcp", hostname: at.tcp?.host, port: at.tcp?.port };
    let finish = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const adopted: AdoptedServer = {
      asked: options.path ? `unix:${options.path}` : `${options.hostname ?? ""}:${options.port ?? 8000}`,
      via: "Deno.serve()",
      app: { kind: "fetch", handler: handler as unknown as FetchHandler },
      sameAs: (other) => other.app.kind === "fetch" && other.app.handler === (handler as unknown),
    };
    onServer(adopted);
    if (options.onListen) setTimeout(() => options.onListen!(addr), 0);
    const shutdown = () => (adopted.onClose?.() ?? Promise.resolve()).then(finish);
    return { addr, finished, shutdown, ref() {}, unref() {}, [Symbol.asyncDispose]: shutdown };
  };
  Object.defineProperty(Deno, "serve", { value: serve, configurable: true, writable: true });
  return () => Object.defineProperty(Deno, "serve", original);
};

/**
 * Deno's node:process has no initgroups or setgroups: libc's, through FFI.
 * Its own errno is not reachable, so a failure says only that it failed.
 */
function setGroupsLibc(user: string | number | null, gid: number): void {
  const libc = Deno.dlopen("libc.so.6", {
    initgroups: { parameters: ["buffer", "u32"], result: "i32" },
    setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  });
  try {
    const ok = typeof user === "string"
      ? libc.symbols.initgroups!(new TextEncoder().encode(`${user}\0`), gid) === 0
      : libc.symbols.setgroups!(1, new Uint32Array([gid])) === 0; // a numeric user: its name is not at hand, so the one group
    if (!ok) throw new Error(`${typeof user === "string" ? "initgroups" : "setgroups"} failed`);
  } finally {
    libc.close();
  }
}

export const runtime: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  unixSharing: "cluster",
  tcpSharing: "reusePort",
  configureWorkers(appDir) {
    // a --config of the user's own wins; a compiled binary (no flags) has its config inside
    if (!DENO_FLAGS || DENO_FLAGS.some((f) => /^(-c|--config|--no-config)(=|$)/.test(f))) return;
    const config = workerConfig(appDir, process.argv[1]!);
    if (config) DENO_FLAGS = [...DENO_FLAGS, "--config", config];
  },
  spawnWorker: (env, events) => spawnClusterWorker(env, events, DENO_FLAGS),
  spawnMaster: (env, how) => forkMaster(env, how, DENO_FLAGS),
  toMaster: sendToMaster,
  installGlobals: installBytesOnlyResponse,
  setGroups: setGroupsLibc,
  fileBody: denoFileBody,
  startThread: (body, data, onMessage) => webThread(body, data, onMessage, "() => Deno.ppid", '() => Deno.kill(Deno.pid, "SIGKILL")'),
  startServingThread: (data, events) => startServingThread(Deno.mainModule, data, events),
  // threads share a port with reusePort, which Deno gives only under the flag (it exits, rather than throws, without it)
  threadRefusal: UNSTABLE_NET ? undefined : "--threads needs deno's --unstable-net (threads share a port with SO_REUSEPORT, which Deno offers only under it)",
  importModule: importFile,
  trapServers: denoServeTrap,
  // Deno's TLS is rustls, for Deno.serve and node:https alike
  tlsRefusal: (tls) => (tls.ciphers ? "Deno's TLS (rustls) takes no OpenSSL cipher list: drop --ciphers (Node and Bun take one)" : undefined),
  async serveFetch(address, handler, options) {
    reportCut = options.onError;
    const viaNodeHttp = () => {
      installRequestCompat();
      return serveFetchOverNodeHttp(address, handler, options);
    };
    // Deno.serve cannot share a unix socket between processes, nor serve an inherited one; node:http can
    if ((address.kind === "unix" && options.shared) || address.kind === "fd") return viaNodeHttp();
    if (options.tls && options.tls.clientCerts !== "none") {
      // Deno.serve neither asks for client certificates nor shows them; Deno's node:https does both
      options.onWarning("Deno.serve cannot ask for client certificates: serving this TLS listener through node:https (slower)");
      return viaNodeHttp();
    }
    if (options.shared && !UNSTABLE_NET) {
      // Deno exits (rather than throws) when reusePort is used without the flag
      options.onWarning("Deno.serve needs --unstable-net to share a port between workers; serving through node:http (slower): run deno with --unstable-net");
      return viaNodeHttp();
    }
    return serveNative(address, handler, options);
  },
  async serveNode(address, listener, options) {
    return listenNodeServer(await nodeHttpServer(options.observe.node(listener), options), address, options);
  },
  serveConnections: serveNetConnections,
  streamUpgrades: crosswsStreams,
};

/**
 * Deno.upgradeWebSocket, whoever calls it (the app, Hono's helper, crossws),
 * with tsgw's ping where the caller set no idleTimeout (Deno pings after half
 * of it and closes a socket that answered nothing by its end), and its
 * sockets counted. The request stays as Deno made it: once upgraded, its
 * headers and its info's remoteAddr throw "Request closed" (the access log
 * writes "-" for them).
 */
function limitUpgrades(options: ServeOptions): void {
  const upgrade = Deno.upgradeWebSocket;
  if ((upgrade as { [LIMITED]?: true })[LIMITED]) return;
  const limited = (req: Request, opts?: { idleTimeout?: number }) => {
    const out = upgrade(req, { idleTimeout: options.websocketPing * 2, ...opts });
    const socket = out.socket;
    socket.addEventListener("open", () => socket.addEventListener("close", countWebSocket(), { once: true }), { once: true });
    socket.addEventListener("message", () => webSockets.messagesIn++);
    const send = socket.send;
    socket.send = (data) => (webSockets.messagesOut++, send.call(socket, data));
    return out;
  };
  Object.defineProperty(Deno, "upgradeWebSocket", { value: Object.assign(limited, { [LIMITED]: true }), configurable: true, writable: true });
}
const LIMITED = Symbol("tsgw.limited");

async function serveNative(address: BindAddress, handler: FetchHandler, options: ServeOptions) {
  const { workerId } = options;
  limitUpgrades(options);
  // crossws hooks (the app's `websocket`) take the WebSocket handshakes; Deno.upgradeWebSocket in the app's own fetch needs nothing
  const app = isHooks(options.websocket) ? withHandshakes(handler, await crosswsDeno(options.websocket, options)) : handler;
  return listenNative(address, options, options.observe.fetch(app), (serving) => {
    const server = Deno.serve(
      {
        ...(address.kind === "unix" ? { path: address.path, transport: "unix" } : { hostname: address.host, port: address.port, reusePort: options.shared }), // reusePort needs --unstable-net
        // (Deno.serve offers h2 and http/1.1 by ALPN whatever http-protocols says: it takes no choice)
        ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
        onListen() {},
        onError(err: unknown) {
          options.onError(`request failed: ${String(err)}`);
          return new Response("Internal Server Error", { status: 500 });
        },
      },
      // Deno's own info (remoteAddr, completed), with tsgw's workerId: code written for Deno.serve works unchanged
      (req, info) => serving(req, Object.assign(info, { workerId }) as unknown as RequestInfo),
    );
    // a fast stop needs no wait: the process exits right after
    return { port: server.addr.port, finished: server.finished, stop: (graceful) => (graceful ? server.shutdown() : undefined) };
  });
}
