/**
 * Bun.serve() calls an app makes while tsgw loads it, adopted (node:http's
 * listen() is adopted on every runtime by app/adopt.ts): nothing is bound;
 * tsgw's HTTP listeners run Bun.serve with the app's own options (routes,
 * websocket, error, development...) on tsgw's addresses, and the server the
 * app holds answers for the first of them.
 */
import type { AdoptedServer, FetchHandler, ServingAt, TrapServers } from "../app/contract.ts";

/** A Bun server, the part tsgw and an adopted app's handle use. */
export interface BunServer {
  port: number;
  requestIP(req: Request): { address: string; port: number; family?: string } | null;
  stop(closeActive?: boolean): Promise<void> | void;
  reload(options: Record<string, unknown>): void;
  upgrade(req: Request, options?: unknown): boolean;
}

/** How the shim upgrades a request on one of its servers (noting it, so the app's empty answer is no error). */
export type Upgrade = (server: BunServer, req: Request, options?: unknown) => boolean;

/** What an app gives Bun.serve. */
export interface BunServeOptions {
  fetch?: (this: unknown, req: Request, server: unknown) => unknown;
  routes?: Record<string, unknown>;
  [option: string]: unknown;
}

/** The options tsgw's listeners do not take from the app: where to bind is tsgw's; the request handlers are wrapped. */
const OWNED = ["hostname", "port", "unix", "reusePort", "ipv6Only", "fetch", "routes", "static", "tls"];

/** One adopted Bun.serve(): the app's options, the servers tsgw runs with them, and the handle the app holds. */
export class BunAdoption {
  readonly servers: { server: BunServer; build: () => Record<string, unknown> }[] = [];
  readonly adopted: AdoptedServer;
  /** what the app's Bun.serve() returned: answers from tsgw's first real server once it runs */
  readonly handle: object;

  constructor(readonly options: BunServeOptions, at: ServingAt, upgradeOn: Upgrade) {
    const fetch: FetchHandler = (req, info) => {
      const f = this.options.fetch;
      // routes only, over a listener that is not Bun.serve (uwsgi): what routes do not match is a 404 in Bun too
      if (!f) return new Response("Not Found", { status: 404 });
      return f.call(this.handle, req, info) as Response | Promise<Response>;
    };
    this.adopted = {
      asked: options.unix ? `unix:${options.unix}` : `${options.hostname ?? ""}:${options.port ?? process.env.BUN_PORT ?? process.env.PORT ?? 3000}`,
      via: "Bun.serve()",
      app: { kind: "fetch", handler: fetch, native: this },
      sameAs: (other) => other.app.kind === "fetch" && other.app.native instanceof BunAdoption && other.app.native.options.fetch === this.options.fetch,
    };
    const host = at.tcp?.host ?? "localhost";
    const provisional: Record<string, unknown> = {
      port: at.tcp?.port,
      hostname: host,
      url: new URL(at.tcp ? `http://${host.includes(":") ? `[${host}]` : host}:${at.tcp.port}/` : "http://localhost/"),
      development: options.development ?? false,
      id: options.id ?? "",
      pendingRequests: 0,
      pendingWebSockets: 0,
      requestIP: () => null,
      upgrade: () => false,
      publish: () => 0,
      subscriberCount: () => 0,
      timeout() {},
      ref() {},
      unref() {},
    };
    const stop = () => this.adopted.onClose?.() ?? Promise.resolve();
    const reload = (next: BunServeOptions) => {
      Object.assign(this.options, next);
      for (const { server, build } of this.servers) server.reload(build());
    };
    const upgrade = (req: Request, opts?: unknown) => {
      const real = this.servers[0]?.server;
      return real ? upgradeOn(real, req, opts) : false;
    };
    this.handle = new Proxy(provisional, {
      get: (target, key) => {
        if (key === "stop") return stop;
        if (key === "reload") return reload;
        if (key === "upgrade") return upgrade;
        const source = (this.servers[0]?.server ?? target) as Record<PropertyKey, unknown>;
        const value = Reflect.get(source, key);
        return typeof value === "function" ? value.bind(source) : value;
      },
    });
  }

  /** The app's options for one of tsgw's Bun.serve listeners: everything but where to bind, its routes' handlers wrapped by `wrap`. */
  serveOptions(wrap: (route: FetchHandler) => unknown, onWarning: (m: string) => void): Record<string, unknown> {
    const given: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.options)) if (!OWNED.includes(k)) given[k] = v;
    if (this.options.tls) onWarning("the app's Bun.serve() tls options are not used: tsgw's listeners serve plain HTTP");
    const routes = this.options.routes ?? this.options.static;
    if (routes) given.routes = wrapRoutes(routes as Record<string, unknown>, wrap);
    return given;
  }
}

/** Bun's routes: a path's value is a Response (served by Bun as it is), a handler, or handlers by method. */
function wrapRoutes(routes: Record<string, unknown>, wrap: (route: FetchHandler) => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, value] of Object.entries(routes)) {
    if (typeof value === "function") out[path] = wrap(value as FetchHandler);
    else if (value && typeof value === "object" && !(value instanceof Response) && Object.getPrototypeOf(value) === Object.prototype) {
      const byMethod: Record<string, unknown> = {};
      for (const [method, h] of Object.entries(value)) byMethod[method] = typeof h === "function" ? wrap(h as FetchHandler) : h;
      out[path] = byMethod;
    } else out[path] = value;
  }
  return out;
}

/** The trap: Bun.serve() adopts while it is installed. */
export function bunServeTrap(bun: { serve: (options: BunServeOptions) => unknown }, upgradeOn: Upgrade): TrapServers {
  return (at, onServer) => {
    const original = bun.serve;
    bun.serve = (options: BunServeOptions) => {
      const adoption = new BunAdoption({ ...options }, at, upgradeOn);
      onServer(adoption.adopted);
      return adoption.handle;
    };
    return () => void (bun.serve = original);
  };
}
