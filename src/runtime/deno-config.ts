/**
 * Deno takes compiler options and the import map from the config file of
 * the main module's project. Run from a checkout or an npm install, that is
 * tsgw's own deno.json, so an app's deno.json and tsconfig.json were
 * ignored (its JSX settings, its `imports`, its tsconfig `paths`). Deno
 * workers are therefore started with a generated `--config`: tsgw's own
 * imports, then the app project's deno.json (imports, scopes,
 * compilerOptions, unstable), then its tsconfig.json (JSX and decorator settings, `paths`
 * as import-map entries), relative paths made absolute.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { findUp, parseJsonc, readProjectTs } from "./tsconfig.ts";

type Json = Record<string, unknown>;
const DENO_CONFIGS = ["deno.json", "deno.jsonc"];

function readJson(file: string): Json {
  return parseJsonc(readFileSync(file, "utf8")) as Json;
}

/** Import-map values relative to `dir` made absolute (the generated file lives elsewhere). */
function absolute(map: unknown, dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((map ?? {}) as Record<string, string>)) {
    out[k] = v.startsWith("./") || v.startsWith("../") ? pathToFileURL(resolve(dir, v)).href + (v.endsWith("/") ? "/" : "") : v;
  }
  return out;
}

/** tsconfig `paths` as import-map entries: `@lib/*` -> `@lib/` (a prefix), anything else exact; the first target wins. */
function pathsAsImports(paths: Record<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [alias, [target]] of Object.entries(paths)) {
    if (!target) continue;
    if (alias.endsWith("/*") && target.endsWith("/*")) out[alias.slice(0, -1)] = pathToFileURL(target.slice(0, -1)).href + "/";
    else if (!alias.includes("*")) out[alias] = pathToFileURL(target).href;
  }
  return out;
}

/**
 * The config for workers serving an app in `appDir`, written to a temporary
 * file (removed when this process exits); undefined when the app's project
 * adds nothing to tsgw's own config.
 */
export function workerConfig(appDir: string, mainModule: string): string | undefined {
  const ownFile = findUp(dirname(mainModule), DENO_CONFIGS);
  const own = ownFile ? readJson(ownFile) : {};
  const projectFile = findUp(appDir, DENO_CONFIGS);
  const project = projectFile && projectFile !== ownFile ? readJson(projectFile) : undefined;
  const ts = readProjectTs(appDir);
  const tsOwn = ts && ownFile && dirname(ts.file) === dirname(ownFile); // tsgw's own tsconfig.json: nothing of the app's
  const tsEmit = ts && !tsOwn ? ts.emit : {};
  const tsPaths = ts && !tsOwn ? pathsAsImports(ts.paths) : {};
  if (!project && Object.keys(tsEmit).length === 0 && Object.keys(tsPaths).length === 0) return undefined;
  const projectDir = projectFile ? dirname(projectFile) : appDir;
  const unstable = new Set([...((own.unstable ?? []) as string[]), ...((project?.unstable ?? []) as string[])]);
  // `paths` targets are usually written without an extension, as TypeScript resolves them
  if (Object.keys(tsPaths).length > 0) unstable.add("sloppy-imports");
  const scopes: Record<string, Record<string, string>> = {};
  for (const [scope, map] of Object.entries((project?.scopes ?? {}) as Record<string, unknown>)) {
    scopes[scope.startsWith(".") ? pathToFileURL(resolve(projectDir, scope)).href + "/" : scope] = absolute(map, projectDir);
  }
  const config: Json = {
    imports: { ...absolute(own.imports, ownFile ? dirname(ownFile) : "."), ...tsPaths, ...absolute(project?.imports, projectDir) },
    scopes,
    compilerOptions: { ...tsEmit, ...((project?.compilerOptions ?? {}) as Json) },
    nodeModulesDir: project?.nodeModulesDir ?? own.nodeModulesDir ?? "manual",
    unstable: [...unstable],
    lock: false,
  };
  const dir = mkdtempSync(join(tmpdir(), "tsgw-deno-"));
  const file = join(dir, "deno.json");
  writeFileSync(file, JSON.stringify(config, null, 2));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  return file;
}
