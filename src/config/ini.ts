/**
 * INI config files, uWSGI style: --ini app.ini[:section] reads [tsgw] (else
 * [uwsgi]); `;`/`#` comments; repeated keys accumulate; %(key), %d and
 * $(ENV) in values. Parsing is the npm `ini` package; this file adds the
 * line numbers it does not report, so every error names file:line.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, extname, resolve } from "node:path";
import { parse } from "ini";
import { ConfigError, describeError } from "../errors.ts";
import { type Layer, textEntry } from "./layer.ts";
import { acceptsSource, iniKeys, type SettingDef, SETTINGS } from "./settings.ts";
import { nearest } from "./nearest.ts";

const DEFAULT_SECTIONS = ["tsgw", "uwsgi"];

/**
 * uWSGI options that only make sense for its Python/C internals. In an
 * operator's existing [uwsgi] file they are skipped with a warning rather
 * than failing the whole start.
 */
const UWSGI_ONLY = new Set([
  "plugin",
  "plugins",
  "enable-threads",
  "thunder-lock",
  "lazy-apps",
  "lazy",
  "single-interpreter",
  "need-app",
  "strict",
  "py-autoreload",
  "pythonpath",
  "python-path",
  "manage-script-name",
  "mount",
  "memory-report",
  "cheaper",
  "offload-threads",
]);

let keyTable: Map<string, SettingDef> | undefined;

function keys(): Map<string, SettingDef> {
  if (!keyTable) {
    keyTable = new Map();
    for (const s of SETTINGS as readonly SettingDef[]) {
      if (acceptsSource(s, "ini")) { for (const k of iniKeys(s)) keyTable.set(k, s); }
    }
  }
  return keyTable;
}

/** `app.ini` or `app.ini:section` (a Windows drive letter is never a section). */
export function splitIniSpec(spec: string): { file: string; section?: string } {
  const m = /^(.*\.ini):([A-Za-z0-9_.-]+)$/i.exec(spec) ?? /^(.+):([A-Za-z0-9_.-]+)$/.exec(spec);
  if (m && !/^[A-Za-z]$/.test(m[1]!)) return { file: m[1]!, section: m[2]! };
  return { file: spec };
}

export function loadIni(spec: string, cwd: string): Layer {
  const { file: given, section: wanted } = splitIniSpec(spec);
  const file = resolve(cwd, given);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read INI file: ${readError(err)}`, given);
  }
  const doc = parse(text, { bracketedArray: false }) as Record<string, unknown>;
  const sections = Object.keys(doc).filter((k) => isObject(doc[k]));
  const name = wanted ?? DEFAULT_SECTIONS.find((s) => sections.includes(s));
  if (!name || !isObject(doc[name])) {
    const have = sections.length ? `; it has ${sections.map((s) => `[${s}]`).join(", ")}` : "; it has no sections";
    const want = wanted ? `[${wanted}]` : DEFAULT_SECTIONS.map((s) => `[${s}]`).join(" or ");
    throw new ConfigError(`no section ${want}${have}`, given);
  }
  const values = doc[name] as Record<string, unknown>;
  const lines = keyLines(text, name);
  const expand = expander(values, file);
  const layer: Layer = { entries: [], warnings: [] };
  const placeholders = referencedKeys(values);
  for (const [key, raw] of Object.entries(values)) {
    if (isObject(raw)) continue; // a dotted sub-section, e.g. [tsgw.extra]
    const occurrences = Array.isArray(raw) ? raw : [raw];
    const at = (i: number) => `${given}:${lines.get(key)?.[i] ?? lines.get(key)?.[0] ?? "?"}`;
    const s = keys().get(key);
    if (!s) {
      if (placeholders.has(key)) continue; // uWSGI style: a key defined only to be used as %(key)
      if (UWSGI_ONLY.has(key.replace(/_/g, "-"))) {
        layer.warnings.push(`${at(0)}: uWSGI option "${key}" has no meaning in tsgw; ignored`);
        continue;
      }
      const hint = nearest(key, keys().keys());
      throw new ConfigError(`unknown key "${key}"${hint ? ` (did you mean "${hint}"?)` : ""}`, at(0));
    }
    occurrences.forEach((value, i) => {
      const text = value === true ? (s.type === "bool" ? "true" : "") : String(value ?? "");
      if (text === "" && s.type !== "bool") throw new ConfigError(`${key} needs a value`, at(i));
      layer.entries.push(textEntry(s, expand(text, at(i)), at(i)));
    });
  }
  return layer;
}

/** Line numbers of each key's occurrences within one section, in order. */
function keyLines(text: string, section: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  let current = "";
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith(";") || t.startsWith("#")) return;
    const head = /^\[(.*)\]$/.exec(t);
    if (head) {
      current = head[1]!.trim();
      return;
    }
    if (current !== section) return;
    const key = t.split("=")[0]!.trim().replace(/\[\]$/, "");
    out.set(key, [...(out.get(key) ?? []), i + 1]);
  });
  return out;
}

/** uWSGI's magic: %(key) another key's value, %d the file's folder (with a slash), $(VAR) the environment. */
function expander(values: Record<string, unknown>, file: string) {
  const magic: Record<string, string> = {
    d: dirname(file) + "/",
    p: file,
    s: basename(file),
    n: basename(file, extname(file)),
    "%": "%",
  };
  const expand = (text: string, where: string, depth = 0): string => {
    if (depth > 10) throw new ConfigError("%(...) references nest too deeply (a loop?)", where);
    return text.replace(/%\(([^)]+)\)|%([dpsn%])|\$\(([^)]+)\)/g, (_all, ref?: string, m?: string, env?: string) => {
      if (m) return magic[m]!;
      if (env !== undefined) return process.env[env] ?? "";
      const v = values[ref!];
      if (v === undefined || isObject(v)) throw new ConfigError(`%(${ref}) refers to a key that is not set`, where);
      const last = Array.isArray(v) ? v[v.length - 1] : v;
      return expand(String(last), where, depth + 1);
    });
  };
  return expand;
}

/** Keys used as %(key) somewhere in the section. */
function referencedKeys(values: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  for (const v of Object.values(values).flat()) {
    for (const m of String(v).matchAll(/%\(([^)]+)\)/g)) out.add(m[1]!);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function readError(err: unknown): string {
  const code = (err as { code?: string })?.code;
  if (code === "ENOENT") return "no such file";
  if (code === "EACCES") return "permission denied";
  if (code === "EISDIR") return "is a folder";
  return describeError(err);
}
