/**
 * Loading an APP: resolve the module file (extension optional), import it,
 * pick the export, call a factory, and decide the interface. Every failure is
 * an AppLoadError (exit 4) naming the module and what was wrong.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { AppLoadError, describeError } from "../errors.ts";
import type { AdoptedServer, ImportModule, ServingAt, TrapServers } from "./contract.ts";
import { type AppInterface, describe, type Detected, detectInterface, prepareInstance } from "./detect.ts";
import { type AppSpec, parseAppSpec } from "./spec.ts";

export const EXTENSIONS = [".ts", ".tsx", ".mts", ".js", ".mjs", ".cjs", ".jsx"];
const DEFAULT_NAMES = ["default", "app", "application"];

/**
 * The bundled demo (`tsgw demo:app` works from any folder that has no demo
 * module of its own), imported by a literal path so that a compiled binary
 * carries it inside.
 */
const BUNDLED_DEMO = { file: "(demo bundled with tsgw)", load: () => import("../../demo/index.ts") as Promise<Record<string, unknown>> };

export function resolveModule(path: string, cwd: string): string | undefined {
  const base = resolve(cwd, path);
  const candidates = [base, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => join(base, "index" + e))];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

export interface LoadOptions {
  cwd: string;
  callable?: string | null;
  interface: "auto" | "listen" | AppInterface;
  /** adopts the servers the app starts while it loads (absent: they bind as they would) */
  trap?: TrapServers;
  /** where tsgw serves, for the adopted servers to report */
  at?: ServingAt;
  /**
   * How long a module that exports no app may take to start a server (a
   * bootstrap() not awaited): until `deadline` (a performance.now() time),
   * said in errors as `seconds` (the worker's --timeout, counted from its start)
   */
  listenWait?: { deadline: number; seconds: number };
}

export type LoadedApp = Detected & {
  spec: AppSpec;
  file: string;
  /** the export served, or undefined for an adopted server */
  exportName?: string;
  note?: string;
  /** the server the app started, served by tsgw */
  adopted?: AdoptedServer;
  /** servers the app started that are not served (a second one, or one beside an exported app) */
  unbound: AdoptedServer[];
  /**
   * The module's `onServer(server)` (or `injectWebSocket(server)`, as
   * @hono/node-ws names it) export: called with each node:http server tsgw
   * serves the app on, before it listens (to attach WebSocket servers).
   */
  onServer?: (server: unknown) => void;
};

export async function loadApp(importModule: ImportModule, specText: string, opts: LoadOptions): Promise<LoadedApp> {
  const spec = parseAppSpec(specText, opts.callable);
  if (typeof spec === "string") throw new AppLoadError(`bad app spec: ${spec}`);
  let note: string | undefined;
  let file = resolveModule(spec.path, opts.cwd);
  let load = () => importModule(file!);
  if (!file && spec.path === "demo") {
    ({ file, load } = BUNDLED_DEMO);
    note = "no ./demo module here; serving the demo bundled with tsgw";
  }
  if (!file) {
    throw new AppLoadError(
      `app module "${spec.path}" not found in ${opts.cwd} (tried ${spec.path}, ${spec.path}{${EXTENSIONS.join(",")}}, ${spec.path}/index.*)`,
    );
  }
  const started: AdoptedServer[] = [];
  let wake = () => {};
  const release = opts.trap?.(opts.at ?? { url: "" }, (server) => {
    started.push(server);
    wake();
  });
  try {
    const picked = await pickExport(load, spec, file);
    const done = (d: Detected, exportName?: string, adopted?: AdoptedServer): LoadedApp => ({
      ...d,
      spec,
      file: file!,
      exportName,
      note,
      adopted,
      unbound: started.filter((s) => s !== adopted),
      onServer: picked.onServer,
    });
    const fromServer = (): LoadedApp | undefined => {
      const first = started[0];
      if (!first) return undefined;
      const reason = `the server it started while loading, with ${first.via}`;
      return done({ ...first.app, reason }, undefined, first);
    };
    if (opts.interface !== "listen" && picked.value !== undefined && !isEmptyObject(picked.value)) {
      const detected = await detectValue(picked.value, opts.interface === "auto" ? "auto" : opts.interface, `${picked.label} in ${file}`);
      // a guess (any function is a fetch handler) yields to a server the module started: it is a script
      if (typeof detected !== "string" && !(detected.kind === "fetch" && detected.guessed && started.length > 0)) return done(detected, picked.name);
      if (typeof detected === "string" && started.length === 0) throw new AppLoadError(`app ${picked.label} in ${file}: ${detected}`);
    }
    // named exports but none to serve: a mistake to report now, not a script still to listen
    if (picked.value === undefined && picked.exports.length > 0 && started.length === 0) {
      throw new AppLoadError(nothingToServe(file, picked, { ...opts, listenWait: undefined }));
    }
    if (started.length === 0 && opts.trap) {
      // `bootstrap()` without await (NestJS, Fastify's start()): the server comes after the import
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, (opts.listenWait?.deadline ?? 0) - performance.now()));
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const served = fromServer();
    if (served) return served;
    throw new AppLoadError(nothingToServe(file, picked, opts));
  } catch (err) {
    if (err instanceof AppLoadError) throw err;
    throw new AppLoadError(failedToLoad(file, err));
  } finally {
    release?.();
  }
}

interface Picked {
  /** the export's value, after a factory call or an await; undefined if there is none */
  value: unknown;
  name?: string;
  label: string;
  exports: string[];
  onServer?: (server: unknown) => void;
}

/** Import the module and take the export the spec names (or the first of default, app, application). */
async function pickExport(load: () => Promise<Record<string, unknown>>, spec: AppSpec, file: string): Promise<Picked> {
  let mod: Record<string, unknown>;
  try {
    mod = await load();
  } catch (err) {
    throw new AppLoadError(failedToLoad(file, err));
  }
  const name = spec.name ?? DEFAULT_NAMES.find((n) => mod[n] !== undefined && mod[n] !== null);
  const exports = Object.keys(mod).filter((k) => k !== "__esModule" && k !== "module.exports");
  const label = `${spec.path}:${name ?? "default"}${spec.factory ? "()" : ""}`;
  if (spec.name && !(spec.name in mod)) {
    throw new AppLoadError(`app module ${file} has no export "${spec.name}"; its exports: ${exports.join(", ") || "(none)"}`);
  }
  let value: unknown = name ? mod[name] : undefined;
  try {
    if (spec.factory) {
      if (typeof value !== "function") throw new AppLoadError(`${label}: "${name}" is ${describe(value)}, not a factory function`);
      value = await (value as () => unknown)();
    } else if (isThenable(value)) {
      value = await value;
    }
  } catch (err) {
    if (err instanceof AppLoadError) throw err;
    throw new AppLoadError(`app factory ${label} in ${file} failed: ${firstLine(describeError(err))}`);
  }
  const hook = [mod.onServer, mod.injectWebSocket].find((f) => typeof f === "function") as ((server: unknown) => void) | undefined;
  return { value, name, label, exports, onServer: hook };
}

/** Unwrap a framework instance (prepareInstance), then detect its interface; a string says why it cannot be served. */
async function detectValue(value: unknown, forced: "auto" | AppInterface, where: string): Promise<Detected | string> {
  let prepared: Awaited<ReturnType<typeof prepareInstance>>;
  try {
    prepared = await prepareInstance(value);
  } catch (err) {
    throw new AppLoadError(`app ${where} could not be made ready: ${firstLine(describeError(err))}`);
  }
  if (prepared.listener) {
    if (forced === "fetch") return `a ${prepared.via} serves Node requests, not fetch ones (drop --interface fetch)`;
    return { kind: "node", listener: prepared.listener, reason: prepared.via! };
  }
  const detected = detectInterface(prepared.value, forced);
  if (typeof detected === "string" || !prepared.via) return detected;
  return { ...detected, reason: `${prepared.via}, ${detected.reason}` };
}

/** The error for a module that gives tsgw nothing to serve, with what to do instead. */
function nothingToServe(file: string, picked: Picked, opts: LoadOptions): string {
  const within = opts.listenWait ? ` within ${opts.listenWait.seconds}s` : "";
  const waited = within && ` and started no server${within}`;
  const what = picked.value === undefined || isEmptyObject(picked.value)
    ? `has no default export, "app" or "application"${waited}; its exports: ${picked.exports.join(", ") || "(none)"}`
    : opts.interface === "listen"
    ? `started no server while loading${within} (--interface listen)`
    : `exports ${describe(picked.value)}${waited}`;
  return `app module ${file} ${what}${frameworkHint(file, picked.exports.length > 0)}`;
}

/** For the frameworks whose build outputs are known: what to load instead. */
function frameworkHint(file: string, exportsSomething: boolean): string {
  if (/[\\/]\.output[\\/]server[\\/]/.test(file)) {
    return "; a Nitro/Nuxt build: build with NITRO_PRESET=node-listener and serve .output/server/index.mjs:listener, or use a preset that listens (node-server, bun, deno-server), which tsgw adopts";
  }
  if (/[\\/]build[\\/]handler\.js$/.test(file)) {
    return "; a SvelteKit adapter-node build: serve build/handler.js:handler, or build/index.js, which listens (tsgw adopts it)";
  }
  // a module with exports lists them, which says enough
  if (exportsSomething) return "";
  return "; export a fetch handler or Node listener, or let the module start its server (app.listen(), Bun.serve(), Deno.serve()): tsgw adopts it";
}

/** `module.exports = {}` untouched, or a namespace with nothing in it (as a loader may give for a module that exports nothing) */
function isEmptyObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 0 && !("fetch" in v) && !("callback" in v);
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown })?.then === "function";
}

/** The one line for a module that failed to load: the error's first line, and where a syntax error is, when the runtime tells. */
function failedToLoad(file: string, err: unknown): string {
  const line = firstLine(describeError(err)).trimEnd();
  const where = syntaxLocation(err);
  return `app module ${file} failed to load: ${line}${where && !line.includes(where) ? ` at ${where}` : ""}`;
}

/**
 * file:line[:column] of a syntax error, from what each runtime gives: Bun's
 * BuildMessage its `position`, Deno the location after the message, jiti
 * (TypeScript on Node) after its ParseError's message, Node's CommonJS
 * loader the stack's first line (Node's ES module loader gives none; the
 * Node shim looks for it).
 */
function syntaxLocation(err: unknown): string | undefined {
  const e = err as { name?: string; message?: string; stack?: string; position?: { file?: string; line?: number; column?: number } };
  if (e?.position?.file && e.position.line) return `${e.position.file}:${e.position.line}${e.position.column !== undefined ? `:${e.position.column}` : ""}`;
  const text = `${e?.message ?? ""}\n${e?.stack ?? ""}`;
  if (!/SyntaxError|ParseError/.test(`${e?.name} ${text}`)) return undefined;
  const m = /(?:^|[\s(])(?:file:\/\/)?(\/[^\s:'"()]+):(\d+)(?::(\d+))?/m.exec(text);
  return m ? `${m[1]}:${m[2]}${m[3] ? `:${m[3]}` : ""}` : undefined;
}

function firstLine(text: string): string {
  return text.split("\n")[0]!;
}
