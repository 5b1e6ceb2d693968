/** `defineConfig` for tsgw.config.ts: identity at run time, types for editors. */
import type { TsgwConfig } from "./types.ts";

export type { TsgwConfig } from "./types.ts";

export function defineConfig<T extends TsgwConfig | (() => TsgwConfig | Promise<TsgwConfig>)>(config: T): T {
  return config;
}
