// Bare Bun.serve / Deno.serve serving the benchmark workload (workload.ts).
import { readFileSync } from "node:fs";
import { handle } from "./workload.ts";

// deno-lint-ignore no-explicit-any
const port = Number(process.argv[2] ?? (globalThis as any).Deno?.args[0]);
const reusePort = process.argv[3] === "reuse";
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
// TSGW_BENCH_TLS=CERT,KEY: the runtime's own TLS on that certificate (the HTTPS baseline)
const tlsFiles = process.env.TSGW_BENCH_TLS?.split(",");
const pem = tlsFiles && { cert: readFileSync(tlsFiles[0]!, "utf8"), key: readFileSync(tlsFiles[1]!, "utf8") };
if (g.Bun) g.Bun.serve({ port, hostname: "127.0.0.1", reusePort, fetch: handle, ...(pem ? { tls: pem } : {}) });
else g.Deno.serve({ port, hostname: "127.0.0.1", reusePort, onListen() {}, ...pem }, handle);
