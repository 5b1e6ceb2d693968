/** Types derived from the settings table, so the table stays the one place settings are defined. */
import type { SETTINGS } from "./settings.ts";

type Def = (typeof SETTINGS)[number];

type Camel<S extends string> = S extends `${infer A}-${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;

// deno-lint-ignore no-explicit-any
export type Hook = (...args: any[]) => unknown;

type Value<D extends Def> = D["type"] extends "int" | "number" | "octal" | "workers" ? number
  : D["type"] extends "bool" ? boolean
  : D["type"] extends "list" ? string[]
  : D["type"] extends "hook" ? Hook
  : D["type"] extends "enum" ? D extends { choices: readonly (infer C)[] } ? C
    : string
  : string;

type Nullable<D extends Def> = D["default"] extends null ? Value<D> | null : Value<D>;

/** Effective settings, camelCase keys (actions such as --help are not settings). */
export type Config = { [D in Def as D extends { action: string } ? never : Camel<D["name"]>]: Nullable<D> };

type InTs<D extends Def> = D extends { sources: readonly (infer S)[] } ? ("ts" extends S ? true : false) : true;

/** What a TS/JS config module may export (`defineConfig({...})`). */
export type TsgwConfig = {
  [D in Def as InTs<D> extends true ? Camel<D["name"]> : never]?: D["type"] extends "workers" ? number | "auto"
    : Value<D> | (D["type"] extends "list" ? string : never);
};
