/** Settings from the environment: TSGW_CMD_ARGS (command-line syntax) and per-setting variables. */
import { ConfigError } from "../errors.ts";
import { parseArgv } from "./cli.ts";
import { type Layer, textEntry } from "./layer.ts";
import { type SettingDef, SETTINGS } from "./settings.ts";

export const CMD_ARGS_VAR = "TSGW_CMD_ARGS";

export function cmdArgsLayer(env: Record<string, string | undefined>): Layer {
  const text = env[CMD_ARGS_VAR];
  if (!text?.trim()) return { entries: [], warnings: [] };
  return parseArgv(splitWords(text, CMD_ARGS_VAR), CMD_ARGS_VAR);
}

/** Variables such as WEB_CONCURRENCY that supply a setting's default. */
export function envDefaultsLayer(env: Record<string, string | undefined>): Layer {
  const layer: Layer = { entries: [], warnings: [] };
  for (const s of SETTINGS as readonly SettingDef[]) {
    const value = s.env ? env[s.env] : undefined;
    if (value !== undefined && value !== "") layer.entries.push(textEntry(s, value, `env ${s.env}`));
  }
  return layer;
}

/** Split like a POSIX shell would for plain words, single and double quotes and backslashes. */
export function splitWords(text: string, where: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === quote) quote = null;
      else if (c === "\\" && quote === '"' && i + 1 < text.length) word += text[++i];
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === "\\" && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new ConfigError(`unclosed ${quote} quote`, where);
  if (inWord) words.push(word);
  return words;
}
