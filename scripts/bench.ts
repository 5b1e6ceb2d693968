/**
 * tsgw against the bare runtime server, side by side in one run, with wrk.
 *   npm run bench                 5 s per run, best of 2 alternating runs
 *   npm run bench -- --quick      1 s per run (a smoke check, not a measurement)
 *   TSGW_RUNTIMES=bun npm run bench
 * Prints req/s per scenario and the ratio tsgw/raw; target (DESIGN §10): >= 0.95.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { ROOT, RUNTIMES, commandFor, type RuntimeName } from "../test/helpers/tsgw.ts";

const quick = process.argv.includes("--quick");
const seconds = quick ? 1 : 5;
const rounds = quick ? 1 : 2;
const BIN = join(ROOT, "node_modules", ".bin");
const HELLO = join(ROOT, "scripts", "bench", "hello.ts");

if (spawnSync("wrk", ["--version"]).error) {
  console.error("bench: wrk not found; install it with: apt-get install -y wrk");
  process.exit(1);
}

function rawCommand(rt: RuntimeName, port: number): string[] {
  const fetchRaw = join(ROOT, "scripts", "bench", "raw-fetch.ts");
  if (rt === "node") return [process.execPath, join(ROOT, "scripts", "bench", "raw-node.mjs"), String(port)];
  if (rt === "bun") return [join(BIN, "bun"), fetchRaw, String(port)];
  return [join(BIN, "deno"), "run", "-A", fetchRaw, String(port)];
}

function tsgwCommand(rt: RuntimeName, port: number): string[] {
  return [...commandFor(rt), HELLO, "-b", `127.0.0.1:${port}`, "--log-level", "warning"];
}

async function waitUntilServing(port: number, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    try {
      await (await fetch(`http://127.0.0.1:${port}/`)).text();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error("server did not start");
}

let nextPort = 20000 + Math.floor(Math.random() * 20000);

interface Result {
  rps: number;
  p99: string;
  errors: number;
}

/** Start a server on a fresh port, warm it up, then measure it with wrk. */
async function measure(command: (port: number) => string[]): Promise<Result> {
  const port = nextPort++;
  const [bin, ...args] = command(port);
  const child = spawn(bin!, args, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, TSGW_CMD_ARGS: "" } });
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitUntilServing(port, child);
    spawnSync("wrk", ["-t1", "-c32", "-d1s", url]);
    const out = spawnSync("wrk", ["-t1", "-c32", `-d${seconds}s`, "--latency", url], { encoding: "utf8" }).stdout;
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
      p99: /99%\s+(\S+)/.exec(out)?.[1] ?? "?",
      errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (/Socket errors: (.*)/.exec(out) ? 1 : 0),
    };
  } finally {
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
  }
}

function best(a: Result, b: Result): Result {
  return b.rps > a.rps ? b : a;
}

console.log(`bench: wrk -t1 -c32 -d${seconds}s, best of ${rounds}, ${availableParallelism()} CPUs, hello world, 1 worker\n`);
for (const rt of RUNTIMES) {
  let raw: Result = { rps: 0, p99: "?", errors: 0 };
  let tsgw: Result = raw;
  for (let i = 0; i < rounds; i++) {
    raw = best(raw, await measure((port) => rawCommand(rt, port)));
    tsgw = best(tsgw, await measure((port) => tsgwCommand(rt, port)));
  }
  const ratio = tsgw.rps / raw.rps;
  const line = `${rt.padEnd(5)} raw ${raw.rps.toFixed(0).padStart(7)} req/s (p99 ${raw.p99})  tsgw ${tsgw.rps.toFixed(0).padStart(7)} req/s (p99 ${tsgw.p99})  ratio ${ratio.toFixed(3)}  ${ratio >= 0.95 ? "PASS" : "FAIL"} (target >= 0.95)${tsgw.errors + raw.errors ? `  errors: ${tsgw.errors + raw.errors}` : ""}`;
  console.log(line);
}
