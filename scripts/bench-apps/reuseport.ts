// Bare Bun.serve / Deno.serve with reusePort: N processes of raw-fetch.ts sharing one port.
import { spawn } from "node:child_process";
import { join } from "node:path";
const [n, port] = process.argv.slice(2).map(Number);
const script = join(import.meta.dirname!, "raw-fetch.ts");
// Deno needs run, its permissions and --unstable-net (reusePort) before the script
const args = "Deno" in globalThis ? ["run", "-A", "--unstable-net", script] : [script];
for (let i = 0; i < n!; i++) spawn(process.execPath, [...args, String(port), "reuse"], { stdio: "inherit" });
