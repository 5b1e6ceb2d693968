// Bare Bun.serve with reusePort: N processes of raw-fetch.ts sharing one port.
import { spawn } from "node:child_process";
import { join } from "node:path";
const [n, port] = process.argv.slice(2).map(Number);
for (let i = 0; i < n!; i++) spawn(process.execPath, [join(import.meta.dirname, "raw-fetch.ts"), String(port), "reuse"], { stdio: "inherit" });
