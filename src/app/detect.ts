/**
 * Deciding how to call an exported app (--interface auto). The rule, also in
 * the README (Apps), in order:
 *   1. an object with fetch()                      -> fetch (Hono, Elysia, { fetch })
 *   2. an object with callback()                   -> node (Koa: callback() returns the listener)
 *   3. a function with listen/handle/use methods   -> node (Express, Connect)
 *   4. a function declaring 3+ parameters          -> node ((req, res, next) middleware)
 *   5. a function whose 2nd parameter is named res/response/reply/resp/rep
 *                                                  -> node ((req, res) listener)
 *   6. any other function                          -> fetch ((request, info) handler)
 * The choice and its reason are logged at startup; --interface overrides.
 */
import type { FetchHandler, NodeListener } from "./contract.ts";

export type AppInterface = "fetch" | "node";

export type Detected =
  | { kind: "fetch"; handler: FetchHandler; reason: string }
  | { kind: "node"; listener: NodeListener; reason: string };

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
    if (isFn(obj.fetch)) return { kind: "fetch", handler: obj.fetch.bind(obj) as FetchHandler, reason: "object with fetch()" };
    if (isFn(obj.callback)) return nodeFromCallback(obj, "object with callback(), Koa style");
    return `${describe(value)} is not an app: expected a fetch handler, an object with fetch(), a Node listener (req, res) or an object with callback()`;
  }
  if (isFn(value)) {
    const fn = value as AnyFn & Record<string, unknown>;
    if (isFn(fn.handle) || isFn(fn.listen) || isFn(fn.use)) {
      return { kind: "node", listener: fn as NodeListener, reason: "function with listen/handle/use, Express/Connect style" };
    }
    if (fn.length >= 3) return { kind: "node", listener: fn as NodeListener, reason: `function of ${fn.length} parameters (req, res, next)` };
    if (fn.length === 2 && /^(res|response|reply|resp|rep|serverResponse)$/i.test(secondParam(fn) ?? "")) {
      return { kind: "node", listener: fn as NodeListener, reason: `function (req, ${secondParam(fn)}) looks like a Node listener` };
    }
    return {
      kind: "fetch",
      handler: fn as FetchHandler,
      reason: `plain function of ${fn.length} parameter${fn.length === 1 ? "" : "s"}; use --interface node if it is a Node listener`,
    };
  }
  return `${describe(value)} is not an app: expected a fetch handler, an object with fetch(), a Node listener (req, res) or an object with callback()`;
}

function nodeFromCallback(obj: Record<string, unknown>, reason: string): Detected | string {
  const listener = (obj.callback as AnyFn).call(obj);
  if (!isFn(listener)) return `callback() returned ${describe(listener)}, not a Node listener (req, res)`;
  return { kind: "node", listener: listener as NodeListener, reason };
}

function secondParam(fn: AnyFn): string | undefined {
  const src = Function.prototype.toString.call(fn);
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
