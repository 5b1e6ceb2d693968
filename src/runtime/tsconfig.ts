/**
 * What an app's project says about compiling it: the nearest tsconfig.json's
 * JSX and decorator settings and `paths` aliases, read the way TypeScript reads them
 * (comments and trailing commas allowed, `extends` followed). Node (through
 * jiti) and Deno (through a generated config, see deno-config.ts) apply
 * them; Bun reads tsconfig.json itself.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

export interface ProjectTs {
  /** the tsconfig.json read */
  file: string;
  jsx?: string;
  jsxImportSource?: string;
  jsxFactory?: string;
  jsxFragmentFactory?: string;
  /** `paths` made absolute: alias pattern -> target patterns (a trailing `*` in both, or exact) */
  paths: Record<string, string[]>;
  /** the options that change what the compiled code does (JSX, decorators), as set */
  emit: Record<string, unknown>;
}

/** compilerOptions that change the emitted code (the rest only change type checking) */
const EMIT_OPTIONS = ["jsx", "jsxImportSource", "jsxFactory", "jsxFragmentFactory", "experimentalDecorators", "emitDecoratorMetadata"];

/** The nearest file named `name` in `dir` or a folder above it. */
export function findUp(dir: string, names: string[]): string | undefined {
  for (let d = resolve(dir);; d = dirname(d)) {
    for (const name of names) {
      const file = join(d, name);
      if (existsSync(file)) return file;
    }
    if (dirname(d) === d) return undefined;
  }
}

/** JSON with comments and trailing commas (tsconfig.json, deno.jsonc), strings left alone. */
export function parseJsonc(text: string): unknown {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      const end = /"(?:[^"\\]|\\.)*"/y;
      end.lastIndex = i;
      const m = end.exec(text);
      out += m ? m[0] : text.slice(i);
      i += (m ? m[0].length : text.length) - 1;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      const close = text.indexOf("*/", i + 2);
      i = close < 0 ? text.length : close + 1;
    } else out += c;
  }
  return JSON.parse(out.replace(/,(\s*[}\]])/g, "$1"));
}

interface RawTs {
  extends?: string | string[];
  compilerOptions?: Record<string, unknown>;
}

/** compilerOptions of `file`, with those of what it extends beneath (relative paths kept relative to the file that set them). */
function compilerOptions(file: string, seen = new Set<string>()): { options: Record<string, unknown>; baseDir: Record<string, string> } {
  if (seen.has(file)) return { options: {}, baseDir: {} };
  seen.add(file);
  const raw = parseJsonc(readFileSync(file, "utf8")) as RawTs;
  const merged: Record<string, unknown> = {};
  const baseDir: Record<string, string> = {};
  for (const parent of [raw.extends ?? []].flat()) {
    const parentFile = parent.startsWith(".") || parent.startsWith("/")
      ? resolve(dirname(file), parent.endsWith(".json") ? parent : `${parent}.json`)
      : resolvePackageConfig(parent, dirname(file));
    if (!parentFile) continue;
    const inner = compilerOptions(parentFile, seen);
    Object.assign(merged, inner.options);
    Object.assign(baseDir, inner.baseDir);
  }
  for (const [k, v] of Object.entries(raw.compilerOptions ?? {})) {
    merged[k] = v;
    baseDir[k] = dirname(file);
  }
  return { options: merged, baseDir };
}

function resolvePackageConfig(spec: string, from: string): string | undefined {
  try {
    return createRequire(join(from, "noop.js")).resolve(spec);
  } catch {
    return undefined;
  }
}

/** The nearest tsconfig.json at or above `dir`, read; undefined where there is none or it cannot be read. */
export function readProjectTs(dir: string): ProjectTs | undefined {
  const file = findUp(dir, ["tsconfig.json"]);
  if (!file) return undefined;
  try {
    const { options, baseDir } = compilerOptions(file);
    const base = typeof options.baseUrl === "string" ? resolve(baseDir.baseUrl!, options.baseUrl) : baseDir.paths ?? dirname(file);
    const paths: Record<string, string[]> = {};
    for (const [alias, targets] of Object.entries((options.paths ?? {}) as Record<string, string[]>)) {
      paths[alias] = [targets].flat().map((t) => resolve(base, t));
    }
    const str = (k: string) => (typeof options[k] === "string" ? (options[k] as string) : undefined);
    return {
      file,
      jsx: str("jsx"),
      jsxImportSource: str("jsxImportSource"),
      jsxFactory: str("jsxFactory"),
      jsxFragmentFactory: str("jsxFragmentFactory"),
      paths,
      emit: Object.fromEntries(EMIT_OPTIONS.filter((k) => options[k] !== undefined).map((k) => [k, options[k]])),
    };
  } catch {
    return undefined; // a tsconfig.json that is not JSON: the runtime's own defaults, as without one
  }
}
