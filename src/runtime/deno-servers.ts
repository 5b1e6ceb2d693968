/** Deno's servers: Deno.serve for fetch apps, Deno's node:http for Node listeners and what Deno.serve cannot serve. */
import { bytesOnly } from "../app/body-stream.ts";
import { installRequestCompat } from "../app/light/globals.ts";
import { countWebSocket, webSockets } from "../app/upgrade.ts";
import type { AdoptedServer, FetchHandler, RequestInfo, TrapServers } from "../app/contract.ts";
import { listenNative } from "./native-server.ts";
import { crosswsDeno, crosswsStreams, isHooks, withHandshakes } from "./crossws.ts";
import { listenNodeServer, nodeHttpServer, serveFetchOverNodeHttp, serveNetConnections } from "./node-server.ts";
import { nodeFileBody, SMALL } from "./file-body.ts";
import { UNSTABLE_NET } from "./deno.ts";
import type { BindAddress } from "../config/address.ts";
import type { RuntimeServers, ServeOptions } from "./types.ts";

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
  openSync(path: string): { readable: ReadableStream<Uint8Array> };
  serve(options: Record<string, unknown>, handler: (req: Request, info: { remoteAddr: DenoAddr }) => Response | Promise<Response>): DenoServer;
  upgradeWebSocket(req: Request, options?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
};

/** A large whole file is Deno's own file stream; a small one or a range, node:fs (Deno's stream reads to the end). */
function denoFileBody(path: string, start: number, end: number, size: number): BodyInit {
  return start === 0 && end === size - 1 && size > SMALL ? Deno.openSync(path).readable : nodeFileBody(path, start, end);
}

/** where a stream body cut for a chunk that is not bytes is reported (the worker's error log, once serving) */
let reportCut: (message: string) => void = (m) => console.error(m);

/**
 * Deno's internal slot that says a stream reads a resource of Deno's (a file,
 * a fetch() body, a child's stdout), found by its name in a stream made for
 * the purpose; undefined where a Deno release names it otherwise.
 */
const RESOURCE_BACKING = Object.getOwnPropertySymbols(new ReadableStream()).find((s) => s.description === "[[resourceBacking]]");

/**
 * A stream that reads a resource of Deno's yields bytes only, and Deno.serve
 * sends it from the resource without running JavaScript per chunk, provided
 * it gets the stream itself (through a wrapper, a 1 MB file cost twice the CPU).
 */
function isDenoResourceStream(body: ReadableStream): boolean {
  return RESOURCE_BACKING !== undefined && (body as unknown as Record<symbol, unknown>)[RESOURCE_BACKING] != null;
}

/**
 * Deno.serve takes only bytes from a stream body and answers an empty 200 for
 * a string chunk, which Bun (and tsgw on Node) send as UTF-8: streams given
 * to the global Response get their strings encoded. Only stream bodies pay,
 * and not Deno's own streams (files, fetch() bodies), which hold bytes only.
 */
function installBytesOnlyResponse(): void {
  const Native = globalThis.Response;
  // a plain function that returns the native object, so every Response the app makes is Deno's own
  // (measured: hello world unchanged, 110-127k req/s either way)
  const Response = function Response(this: unknown, body?: BodyInit | null, init?: ResponseInit) {
    if (new.target === undefined) throw new TypeError("Class constructor Response cannot be invoked without 'new'");
    const given = body instanceof ReadableStream && !isDenoResourceStream(body) ? bytesOnly(body, (m) => reportCut(m)) : body;
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

export const servers: RuntimeServers = {
  installGlobals: installBytesOnlyResponse,
  fileBody: denoFileBody,
  trapServers: denoServeTrap,
  httpsOwnsListen: true,
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
