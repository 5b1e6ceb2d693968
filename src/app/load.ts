/**
 * Loading an APP: resolve the module file (extension optional), import it,
 * pick the export, call a factory, and decide the interface. Every failure is
 * an AppLoadError (exit 4) naming the module and what was wrong.
 */
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { AppLoadError, describeError } from "../errors.ts";
import type { ImportModule } from "./contract.ts";
import { type AppInterface, describe, type Detected, detectInterface } from "./detect.ts";
import { type AppSpec, parseAppSpec } from "./spec.ts";

export const EXTENSIONS = [".ts", ".tsx", ".mts", ".js", ".mjs", ".cjs", ".jsx"];
const DEFAULT_NAMES = ["default", "app", "application"];

/**
 * The bundled demo (`tsgw demo:app` works from any folder that has no demo
 * module of its own), imported by a literal path so that a compiled binary
 * carries it inside.
 */
const BUNDLED_DEMO = { file: "(demo bundled with tsgw)", load: () => import("../../demo/index.ts") as Promise<Record<string, unknown>> };

export type LoadedApp = Detected & { spec: AppSpec; file: string; exportName: string };

export function resolveModule(path: string, cwd: string): string | undefined {
  const base = resolve(cwd, path);
  const candidates = [base, ...EXTENSIONS.map((e) => base + e), ...EXTENSIONS.map((e) => join(base, "index" + e))];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

export async function loadApp(
  importModule: ImportModule,
  specText: string,
  opts: { cwd: string; callable?: string | null; interface: "auto" | AppInterface },
): Promise<LoadedApp & { note?: string }> {
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
  let mod: Record<string, unknown>;
  try {
    mod = await load();
  } catch (err) {
    throw new AppLoadError(`app module ${file} failed to load: ${firstLine(describeError(err))}`);
  }
  const exportName = spec.name ?? DEFAULT_NAMES.find((n) => mod[n] !== undefined && mod[n] !== null);
  const exports = Object.keys(mod).filter((k) => k !== "__esModule" && k !== "module.exports");
  if (!exportName || !(exportName in mod) || mod[exportName] === undefined) {
    const what = spec.name ? `has no export "${spec.name}"` : `has no default export, "app" or "application"`;
    throw new AppLoadError(`app module ${file} ${what}; its exports: ${exports.join(", ") || "(none)"}`);
  }
  let value: unknown = mod[exportName];
  const label = `${spec.path}:${exportName}${spec.factory ? "()" : ""}`;
  try {
    if (spec.factory) {
      if (typeof value !== "function") throw new AppLoadError(`${label}: "${exportName}" is ${describe(value)}, not a factory function`);
      value = await (value as () => unknown)();
    } else if (isThenable(value)) {
      value = await value;
    }
  } catch (err) {
    if (err instanceof AppLoadError) throw err;
    throw new AppLoadError(`app factory ${label} in ${file} failed: ${firstLine(describeError(err))}`);
  }
  const detected = detectInterface(value, opts.interface);
  if (typeof detected === "string") throw new AppLoadError(`app ${label} in ${file}: ${detected}`);
  return { ...detected, spec, file, exportName, note };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof (v as { then?: unknown })?.then === "function";
}

function firstLine(text: string): string {
  return text.split("\n")[0]!;
}
