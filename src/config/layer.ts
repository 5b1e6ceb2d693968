/** One source of settings (defaults, a config file, TSGW_CMD_ARGS, the command line). */
import { ConfigError } from "../errors.ts";
import type { SettingDef } from "./settings.ts";
import { badValueMessage, coerceValue, isBadValue, parseText } from "./values.ts";

export interface Entry {
  setting: SettingDef;
  value: unknown;
  /** "command line", "app.ini:4", "TSGW_CMD_ARGS", ... */
  where: string;
}

export interface Layer {
  entries: Entry[];
  /** lines to log once logging is set up (e.g. settings that have no effect) */
  warnings: string[];
}

/** An entry from text (CLI, INI, env); a bad value is a ConfigError naming `where`. */
export function textEntry(setting: SettingDef, raw: string, where: string): Entry {
  return { setting, value: convert(setting, raw, where, parseText), where };
}

/** An entry from a JS value (TS config). */
export function valueEntry(setting: SettingDef, value: unknown, where: string): Entry {
  return { setting, value: convert(setting, value, where, coerceValue), where };
}

function convert<T>(setting: SettingDef, raw: T, where: string, fn: (s: SettingDef, v: T) => unknown): unknown {
  try {
    return fn(setting, raw);
  } catch (err) {
    if (isBadValue(err)) throw new ConfigError(badValueMessage(setting, raw), where);
    throw err;
  }
}
