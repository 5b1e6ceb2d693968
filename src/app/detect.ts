/**
 * Deciding how to call an exported app (--interface auto). The rule, also in
 * the README (Apps), in order:
 *   1. an object with fetch()                      -> fetch (Hono, Elysia, { fetch })
 *   2. an object with callback()                   -> node (Koa: callback() returns the listener)
 *   3. a function with listen/handle/use methods   -> node (Express, Connect)
 *   4. a function declaring 3+ parameters          -> node ((req, res, next) middleware)
 *   5. a function whose 2nd parameter's name ends in res/response/reply/resp/rep
 *      (any case: nodeRes, serverResponse), or that takes (...args) and
 *      destructures or indexes a second one so named (Astro's middleware)
 *                                                  -> node ((req, res) listener)
 *   6. any other function                          -> fetch ((request, info) handler)
 * Before these, instances that must be made ready first are unwrapped (see
 * prepareInstance): Fastify (ready(), then its router), NestJS (init(), then
 * its HTTP adapter's instance), and an exported node:http Server serves its
 * "request" listeners. A module that exports no app but starts a server
 * while it loads is served through that server (see adopt.ts): the last
 * rule. The choice and its reason are logged at startup; --interface overrides.
 */
import type { Server as HttpServer } from "node:http";
import type { FetchHandler, NodeListener, UpgradeListener } from "./contract.ts";

export type AppInterface = "fetch" | "node";

export type Detected =
  | {
    kind: "fetch";
    handler: FetchHandler;
    reason: string;
    native?: unknown;
    guessed?: boolean;
    /** the app's `websocket` member: Bun's handlers, or crossws hooks (see the shims) */
    websocket?: unknown;
  }
  | { kind: "node"; listener: NodeListener; reason: string; upgrade?: UpgradeListener };

type AnyFn = (...args: unknown[]) => unknown;

function isFn(v: unknown): v is AnyFn {
  return typeof v === "function";
}

/** Returns what was found, or a description of why the value cannot be served. */
export function detectInterface(value: unknown, forced: "auto" | AppInterface): Detected | string {
  const obj = value as Record<string, unknown> | null;
  if (forced === "fetch") {
    if (obj && isFn(obj.fetch)) return { kind: "fetch", handler: obj.fetch.bind(obj) as FetchHandler, reason: "--interface fetch, object with fetch()" };
    if (isFn(value)) return { kind: "fetch", handler: value as FetchHandler, reason: "--interface fetch" };
    return `${describe(value)} cannot be a fetch handler: expected a function or an object with fetch()`;
  }
  if (forced === "node") {
    if (obj && !isFn(value) && isFn(obj.callback)) return nodeFromCallback(obj, "--interface node, object with callback()");
    if (isFn(value)) return { kind: "node", listener: value as NodeListener, reason: "--interface node" };
    return `${describe(value)} cannot be a Node listener: expected a function (req, res) or an object with callback()`;
  }
  if (obj && typeof obj === "object") {
    if (isFn(obj.fetch)) {
      const websocket = obj.websocket && typeof obj.websocket === "object" ? obj.websocket : undefined;
      return { kind: "fetch", handler: obj.fetch.bind(obj) as FetchHandler, reason: `object with fetch()${websocket ? " and websocket" : ""}`, websocket };
    }
    if (isFn(obj.callback)) return nodeFromCallback(obj, "object with callback(), Koa style");
    if (isHttpServer(obj)) return nodeFromServer(obj, "an exported node:http Server: its request listeners");
    return `${describe(value)} is not an app: expected a fetch handler, an object with fetch(), a Node listener (req, res) or an object with callback()`;
  }
  if (isFn(value)) {
    const fn = value as AnyFn & Record<string, unknown>;
    if (isFn(fn.handle) || isFn(fn.listen) || isFn(fn.use)) {
      return { kind: "node", listener: fn as NodeListener, reason: "function with listen/handle/use, Express/Connect style" };
    }
    if (fn.length >= 3) return { kind: "node", listener: fn as NodeListener, reason: `function of ${fn.length} parameters (req, res, next)` };
    const second = fn.length === 2 ? secondParam(fn) : fn.length === 0 ? secondOfRest(fn) : undefined;
    if (second && isResponseName(second)) {
      return { kind: "node", listener: fn as NodeListener, reason: `function (req, ${second}) looks like a Node listener` };
    }
    return {
      kind: "fetch",
      handler: fn as FetchHandler,
      reason: `plain function of ${fn.length} parameter${fn.length === 1 ? "" : "s"}; use --interface node if it is a Node listener`,
      guessed: true,
    };
  }
  return `${describe(value)} is not an app: expected a fetch handler, an object with fetch(), a Node listener (req, res) or an object with callback()`;
}

/** A node:http Server (listening or not): what it serves is its "request" listeners. */
function isHttpServer(obj: Record<string, unknown>): obj is Record<string, unknown> & HttpServer {
  return isFn(obj.listen) && isFn(obj.emit) && isFn(obj.listeners) && isFn(obj.closeIdleConnections);
}

/**
 * What a node:http server serves: its "request" and "upgrade" listeners,
 * emitted rather than called, so listeners the app adds later are served
 * too (ws's WebSocketServer({ server }), Socket.IO and @hono/node-ws listen
 * for "upgrade" on the app's server).
 */
export function servedBy(server: HttpServer): { listener: NodeListener; upgrade: UpgradeListener } {
  return {
    listener: ((req, res) => server.emit("request", req, res)) as NodeListener,
    upgrade: (req, socket, head) => server.listenerCount("upgrade") > 0 && server.emit("upgrade", req, socket, head),
  };
}

function nodeFromServer(server: HttpServer, reason: string): Detected {
  return { kind: "node", ...servedBy(server), reason };
}

/**
 * Framework instances that must be made ready before they serve, unwrapped
 * to what serves: Fastify's ready() then its router (`routing`, a Node
 * listener), NestJS's init() then its HTTP adapter's instance (Express or
 * Fastify, unwrapped in turn). Anything else comes back as it is, for
 * detectInterface; `via` says what was unwrapped, for the log line.
 */
export async function prepareInstance(value: unknown): Promise<{ value: unknown; listener?: NodeListener; via?: string }> {
  const obj = value as Record<string, unknown> | null;
  if (obj && isFn(obj.getHttpAdapter) && isFn(obj.init)) {
    await (obj.init as AnyFn).call(obj);
    const adapter = (obj.getHttpAdapter as AnyFn).call(obj) as { getInstance?: AnyFn } | undefined;
    const inner = await prepareInstance(adapter?.getInstance?.call(adapter));
    return { ...inner, via: `NestJS application: init(), then its HTTP adapter's instance${inner.via ? `, a ${inner.via}` : ""}` };
  }
  if (obj && isFn(obj.routing) && isFn(obj.ready) && !isFn(obj.fetch)) {
    await (obj.ready as AnyFn).call(obj);
    const routing = obj.routing as AnyFn;
    return { value, listener: ((req, res) => routing.call(obj, req, res)) as NodeListener, via: "Fastify instance: ready(), then its router" };
  }
  return { value };
}

function nodeFromCallback(obj: Record<string, unknown>, reason: string): Detected | string {
  const listener = (obj.callback as AnyFn).call(obj);
  if (!isFn(listener)) return `callback() returned ${describe(listener)}, not a Node listener (req, res)`;
  return { kind: "node", listener: listener as NodeListener, reason };
}

/** what a Node listener's response parameter is called: res, nodeRes, serverResponse, reply... */
function isResponseName(name: string): boolean {
  return /^(?:res|response|reply|resp|rep)$/i.test(name) || /(?:Res|RES|Response|Reply|Resp|_res|_response)$/.test(name);
}

/** The source of a function: `Function.prototype.toString`, which a proxy or a bound function may not have. */
function sourceOf(fn: AnyFn): string {
  try {
    return Function.prototype.toString.call(fn);
  } catch {
    return "";
  }
}

/** For `(...args) => { const [req, res] = args }` or `args[1].end()`: the name the second argument goes by. */
function secondOfRest(fn: AnyFn): string | undefined {
  const src = sourceOf(fn);
  const rest = /^[^(]*\(\s*\.\.\.([\w$]+)\s*\)/.exec(src)?.[1] ?? /^\s*(?:async\s+)?\.\.\.([\w$]+)\s*=>/.exec(src)?.[1];
  if (!rest) return undefined;
  const destructured = new RegExp(`\\[\\s*[\\w$]+\\s*,\\s*([\\w$]+)[^\\]]*\\]\\s*=\\s*${rest.replace("$", "\\$")}\\b`).exec(src)?.[1];
  if (destructured) return destructured;
  // args[1].writeHead(...), args[1].setHeader(...): the second argument is used as a ServerResponse
  return new RegExp(`${rest.replace("$", "\\$")}\\[1\\]\\.(?:writeHead|setHeader|statusCode|end)\\b`).test(src) ? "res" : undefined;
}

function secondParam(fn: AnyFn): string | undefined {
  const src = sourceOf(fn);
  const params = /^[^(]*\(([^)]*)\)/.exec(src)?.[1] ?? /^\s*(?:async\s+)?([\w$]+)\s*=>/.exec(src)?.[1];
  return params?.split(",")[1]?.replace(/[:=].*$/s, "").trim();
}

export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `an object with keys ${Object.keys(value as object).slice(0, 6).join(", ") || "(none)"}`;
  if (typeof value === "function") return "a function";
  return `a ${typeof value} (${JSON.stringify(value)})`;
}
