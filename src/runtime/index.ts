/** Picks the shim for the runtime we run on: the one place that asks. */
import type { Runtime, RuntimeCore, RuntimeServers } from "./types.ts";

export type { Runtime, RuntimeCore } from "./types.ts";

const g = globalThis as { Bun?: unknown; Deno?: unknown };
const ON = g.Bun !== undefined ? "bun" : g.Deno !== undefined ? "deno" : "node";

let core: Promise<RuntimeCore> | undefined;
let serving: Promise<Runtime> | undefined;

/** The runtime without its servers: all the command and a master load (bun: 11 ms less to start, measured). */
export function currentRuntime(): Promise<RuntimeCore> {
  core ??= ON === "bun"
    ? import("./bun.ts").then((m) => m.runtime)
    : ON === "deno"
    ? import("./deno.ts").then((m) => m.runtime)
    : import("./node.ts").then((m) => m.runtime);
  return core;
}

/** The runtime with its servers, for the processes and threads that serve. */
export function servingRuntime(): Promise<Runtime> {
  serving ??= Promise.all([
    currentRuntime(),
    (ON === "bun" ? import("./bun-servers.ts") : ON === "deno" ? import("./deno-servers.ts") : import("./node-servers.ts")) as Promise<
      { servers: RuntimeServers }
    >,
  ]).then(([c, s]) => ({ ...c, ...s.servers }));
  return serving;
}
