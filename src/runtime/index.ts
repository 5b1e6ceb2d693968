/** Picks the shim for the runtime we run on: the one place that asks. */
import type { Runtime } from "./types.ts";

export type { Runtime } from "./types.ts";

let current: Promise<Runtime> | undefined;

export function currentRuntime(): Promise<Runtime> {
  const g = globalThis as { Bun?: unknown; Deno?: unknown };
  current ??= g.Bun !== undefined
    ? import("./bun.ts").then((m) => m.runtime)
    : g.Deno !== undefined
    ? import("./deno.ts").then((m) => m.runtime)
    : import("./node.ts").then((m) => m.runtime);
  return current;
}
