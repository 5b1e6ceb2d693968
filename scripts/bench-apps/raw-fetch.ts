// Bare Bun.serve / Deno.serve serving the benchmark workload (workload.ts).
import { handle } from "./workload.ts";

// deno-lint-ignore no-explicit-any
const port = Number(process.argv[2] ?? (globalThis as any).Deno?.args[0]);
const reusePort = process.argv[3] === "reuse";
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
if (g.Bun) g.Bun.serve({ port, hostname: "127.0.0.1", reusePort, fetch: handle });
else g.Deno.serve({ port, hostname: "127.0.0.1", reusePort, onListen() {} }, handle);
