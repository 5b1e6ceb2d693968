/**
 * Turning what an operator wrote into a typed setting value: strings from the
 * command line, INI files and the environment, or JS values from a TS config.
 * Every failure names the expected type; the caller adds where it came from.
 */
import { availableParallelism } from "node:os";
import type { SettingDef } from "./settings.ts";

const TRUE = new Set(["true", "1", "yes", "on", "y"]);
const FALSE = new Set(["false", "0", "no", "off", "n"]);

export function expected(s: SettingDef): string {
  switch (s.type) {
    case "int":
      return "a whole number";
    case "number":
      return "a number of seconds";
    case "bool":
      return "true or false";
    case "octal":
      return "an octal file mode such as 660";
    case "enum":
      return `one of ${s.choices!.join(", ")}`;
    case "workers":
      return 'a whole number or "auto"';
    case "hook":
      return "a function";
    case "list":
      return s.split ? `values separated by "${s.split}"` : "a value";
    default:
      return "a value";
  }
}

class BadValue extends Error {}

/** Parse one occurrence given as text. Lists return the items of this occurrence. */
export function parseText(s: SettingDef, raw: string): unknown {
  const text = raw.trim();
  switch (s.type) {
    case "int":
      return nonNegative(/^\d+$/.test(text) ? Number(text) : NaN);
    case "number":
      return nonNegative(/^\d+(\.\d+)?$|^\.\d+$/.test(text) ? Number(text) : NaN);
    case "workers":
      return text === "auto" ? availableParallelism() : nonNegative(/^\d+$/.test(text) ? Number(text) : NaN);
    case "bool": {
      const t = text.toLowerCase();
      if (TRUE.has(t) || t === "") return true;
      if (FALSE.has(t)) return false;
      throw new BadValue();
    }
    case "octal":
      if (!/^0?o?[0-7]{3,4}$/.test(text)) throw new BadValue();
      return parseInt(text.replace(/^0?o?/, ""), 8);
    case "enum":
      if (!s.choices!.includes(text)) throw new BadValue();
      return text;
    case "list":
      return s.split ? text.split(s.split).map((x) => x.trim()).filter(Boolean) : [text];
    case "hook":
      throw new BadValue();
    default:
      if (text === "") throw new BadValue();
      return text;
  }
}

/** Accept a value from a TS/JS config, where numbers may already be numbers. */
export function coerceValue(s: SettingDef, value: unknown): unknown {
  if (value === null || value === undefined) return s.default;
  switch (s.type) {
    case "hook":
      if (typeof value !== "function") throw new BadValue();
      return value;
    case "list":
      if (Array.isArray(value)) return value.map((v) => parseText(s, String(v))).flat();
      return parseText(s, String(value));
    case "bool":
      if (typeof value === "boolean") return value;
      break;
    case "int":
    case "number":
    case "workers":
    case "octal":
      if (typeof value === "number") {
        if (s.type === "octal") return value; // 0o660 written as a JS number
        if (s.type !== "number" && !Number.isInteger(value)) throw new BadValue();
        return nonNegative(value);
      }
      break;
  }
  if (typeof value !== "string") throw new BadValue();
  return parseText(s, value);
}

function nonNegative(n: number): number {
  if (!Number.isFinite(n) || n < 0) throw new BadValue();
  return n;
}

/** Describe a bad value: `expected a whole number, got "lots"`. */
export function badValueMessage(s: SettingDef, value: unknown): string {
  const shown = typeof value === "string" ? JSON.stringify(value) : typeof value === "function" ? "a function" : String(value);
  return `${s.name}: expected ${expected(s)}, got ${shown}`;
}

export function isBadValue(err: unknown): boolean {
  return err instanceof BadValue;
}

/** How a value reads in --print-config and the docs. */
export function formatValue(s: SettingDef, value: unknown): string {
  if (value === null || value === undefined) return "(unset)";
  if (typeof value === "function") return "(function)";
  if (s.type === "octal" && typeof value === "number") return value.toString(8).padStart(3, "0");
  if (Array.isArray(value)) return value.length ? value.join(", ") : "(none)";
  return String(value);
}
