/** Text generated from the settings table: --help, --print-config and docs/settings.md. */
import { DEFAULT_BIND } from "./address.ts";
import type { ResolvedConfig } from "./load.ts";
import { acceptsSource, camelCase, cliFlags, iniKeys, SECTIONS, type SettingDef, SETTINGS } from "./settings.ts";
import { formatValue } from "./values.ts";

const ALL = SETTINGS as readonly SettingDef[];

function flagText(s: SettingDef): string {
  const flags = cliFlags(s);
  const short = flags.filter((f) => !f.startsWith("--"));
  const long = flags.filter((f) => f.startsWith("--"));
  const value = s.type === "bool" ? "" : ` ${s.meta ?? (s.type === "enum" ? `{${s.choices!.join(",")}}` : "VALUE")}`;
  const names = [...short, ...long].join(", ");
  return s.type === "bool" && s.default === true ? `${names}, --no-${s.name}` : names + value;
}

function defaultText(s: SettingDef): string {
  if (s.name === "bind") return DEFAULT_BIND;
  return formatValue(s, s.default);
}

export function renderHelp(version: string): string {
  const out: string[] = [
    `tsgw ${version}: serve JavaScript and TypeScript web apps on Node, Bun and Deno`,
    "",
    "Usage: tsgw [OPTIONS] APP",
    "       tsgw --ini app.ini            (APP from the INI file's module = ...)",
    "",
    "APP is PATH[:NAME], e.g. demo:app, src/server.ts, app:create().",
    "Settings also come from -c tsgw.config.ts, --ini app.ini and TSGW_CMD_ARGS;",
    "the full reference is docs/settings.md.",
  ];
  for (const section of SECTIONS) {
    const rows = ALL.filter((s) => s.section === section && acceptsSource(s, "cli"));
    if (!rows.length) continue;
    out.push("", `${section}:`);
    for (const s of rows) {
      const flag = flagText(s);
      const def = s.action || s.default === null || s.type === "hook" ? "" : ` [default: ${defaultText(s)}]`;
      const help = s.help + def;
      out.push(flag.length > 30 ? `  ${flag}\n${" ".repeat(34)}${help}` : `  ${flag.padEnd(32)}${help}`);
    }
  }
  return out.join("\n") + "\n";
}

export function renderPrintConfig(resolved: ResolvedConfig): string {
  const values = resolved.config as Record<string, unknown>;
  const rows = ALL.filter((s) => !s.action).map((s) => [s.name, formatValue(s, values[camelCase(s.name)]), resolved.sources[s.name]!]);
  const w0 = Math.max(...rows.map((r) => r[0]!.length));
  const w1 = Math.min(48, Math.max(...rows.map((r) => r[1]!.length)));
  return rows.map(([n, v, src]) => `${n!.padEnd(w0)} = ${v!.padEnd(w1)}  # ${src}`).join("\n") + "\n";
}

export function renderSettingsDoc(): string {
  const out: string[] = [
    "# Settings reference",
    "",
    "<!-- Generated from src/config/settings.ts by `npm run docs`; do not edit by hand. -->",
    "",
    "Every setting can be given on the command line, in an INI file (`--ini app.ini`,",
    "section `[tsgw]` or `[uwsgi]`), in a TS/JS config module (`-c tsgw.config.ts`,",
    "camelCase keys) or in `TSGW_CMD_ARGS` (command-line syntax), unless its row says",
    "otherwise. Precedence, lowest first: default < environment variable < config file",
    "< `TSGW_CMD_ARGS` < command line. INI keys may also be written in snake_case.",
  ];
  for (const section of SECTIONS) {
    out.push("", `## ${section}`, "");
    for (const s of ALL.filter((x) => x.section === section)) {
      out.push(`### \`${s.name}\``, "");
      out.push(s.help, "");
      const where: string[] = [];
      if (acceptsSource(s, "cli")) {
        where.push(`CLI: ${cliFlags(s).map((f) => `\`${f}\``).join(", ")}${s.type === "bool" && s.default === true ? `, \`--no-${s.name}\`` : ""}`);
      }
      if (acceptsSource(s, "ini")) where.push(`INI: ${iniKeys(s).map((k) => `\`${k}\``).join(", ")}`);
      if (acceptsSource(s, "ts")) where.push(`TS: \`${camelCase(s.name)}\``);
      if (s.env) where.push(`env: \`${s.env}\``);
      out.push(
        `- ${where.join("; ")}`,
        `- type: ${s.type}${s.choices ? ` (${s.choices.join(", ")})` : ""}${s.split ? `, separated by \`${s.split}\`` : ""}`,
      );
      if (!s.action) out.push(`- default: \`${defaultText(s)}\``, `- reload may change it: ${s.reload ? "yes" : "no (restart needed)"}`);
      if (s.noEffect) out.push(`- accepted for familiarity, no effect: ${s.noEffect}`);
      if (s.needsMaster) out.push("- needs the master process (an error with `--no-master`)");
      out.push("");
    }
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n");
}
