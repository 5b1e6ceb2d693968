/**
 * TS/JS config modules (Gunicorn's gunicorn.conf.py): `export default
 * defineConfig({ workers: 4, onStarting() {} })`, camelCase keys; the export
 * may also be a function (async allowed) returning that object.
 */
import type { ImportModule } from "../app/contract.ts";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError, describeError } from "../errors.ts";
import { type Layer, valueEntry } from "./layer.ts";
import { acceptsSource, camelCase, type SettingDef, SETTINGS } from "./settings.ts";
import { nearest } from "./nearest.ts";

let tsKeys: Map<string, SettingDef> | undefined;

function keys(): Map<string, SettingDef> {
  tsKeys ??= new Map(
    (SETTINGS as readonly SettingDef[]).filter((s) => acceptsSource(s, "ts")).map((s) => [camelCase(s.name), s]),
  );
  return tsKeys;
}

export async function loadTsConfig(
  given: string,
  cwd: string,
  importModule: ImportModule,
): Promise<Layer> {
  const file = resolve(cwd, given);
  let source: string;
  try {
    source = readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new ConfigError(`cannot read config module: ${code === "ENOENT" ? "no such file" : describeError(err)}`, given);
  }
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(file);
  } catch (err) {
    throw new ConfigError(`config module failed to load: ${describeError(err).split("\n")[0]}`, given);
  }
  let value = mod.default ?? mod.config;
  if (typeof value === "function") {
    try {
      value = await (value as () => unknown)();
    } catch (err) {
      throw new ConfigError(`config function failed: ${describeError(err)}`, given);
    }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError("config module must export default defineConfig({ ... }) (an object)", given);
  }
  const layer: Layer = { entries: [], warnings: [] };
  for (const [key, v] of Object.entries(value)) {
    const where = `${given}:${lineOf(source, key)}`;
    const s = keys().get(key);
    if (!s) {
      const hint = nearest(key, keys().keys());
      throw new ConfigError(`unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`, where);
    }
    if (v === undefined) continue;
    layer.entries.push(valueEntry(s, v, where));
  }
  return layer;
}

/** The line where a key is written, for messages; "?" when it was computed. */
function lineOf(source: string, key: string): string {
  const re = new RegExp(`(^|[\\s{,])["']?${key}["']?\\s*[:(,}]`);
  const i = source.split("\n").findIndex((line) => re.test(line));
  return i < 0 ? "?" : String(i + 1);
}
