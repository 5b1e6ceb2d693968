/**
 * Command-line syntax (also used for TSGW_CMD_ARGS), generated from the
 * settings table: --name VALUE, --name=VALUE, -x VALUE, -xVALUE, --no-name
 * for booleans, repeated flags accumulate for lists, one positional APP.
 */
import { ConfigError } from "../errors.ts";
import type { Layer } from "./layer.ts";
import { textEntry } from "./layer.ts";
import { acceptsSource, cliFlags, setting, type SettingDef, SETTINGS } from "./settings.ts";
import { nearest } from "./nearest.ts";

let flagTable: Map<string, SettingDef> | undefined;

function flags(): Map<string, SettingDef> {
  if (!flagTable) {
    flagTable = new Map();
    for (const s of SETTINGS as readonly SettingDef[]) {
      if (!acceptsSource(s, "cli")) continue;
      for (const f of cliFlags(s)) flagTable.set(f, s);
    }
  }
  return flagTable;
}

export function parseArgv(argv: readonly string[], where: string): Layer {
  const layer: Layer = { entries: [], warnings: [] };
  const table = flags();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positionals.push(arg);
      continue;
    }
    let flag = arg;
    let inline: string | undefined;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      flag = arg.slice(0, eq);
      inline = arg.slice(eq + 1);
    } else if (!arg.startsWith("--") && arg.length > 2) {
      flag = arg.slice(0, 2); // -w3
      inline = arg.slice(2);
    }
    const s = table.get(flag);
    if (!s && flag.startsWith("--no-")) {
      const negated = table.get("--" + flag.slice(5));
      if (negated?.type === "bool" && inline === undefined) {
        layer.entries.push(textEntry(negated, "false", where));
        continue;
      }
    }
    if (!s) throw new ConfigError(unknownFlag(flag), where);
    if (s.type === "bool") {
      layer.entries.push(textEntry(s, inline ?? "true", where));
      continue;
    }
    if (inline === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith("-") && next.length > 1 && !/^-\d/.test(next))) {
        throw new ConfigError(`option ${flag} needs a value (${s.meta ?? "VALUE"})`, where);
      }
      inline = next;
      i++;
    }
    layer.entries.push(textEntry(s, inline, where));
  }
  if (positionals.length > 1) {
    throw new ConfigError(`unexpected argument "${positionals[1]}" (only one APP may be given)`, where);
  }
  if (positionals.length === 1) layer.entries.push(textEntry(setting("app"), positionals[0]!, where));
  return layer;
}

function unknownFlag(flag: string): string {
  const hint = nearest(flag, flags().keys());
  return `unknown option ${flag}${hint ? ` (did you mean ${hint}?)` : ""}; see tsgw --help`;
}
