/**
 * tsgw against the bare runtime server, side by side in one run, with wrk.
 *   npm run bench                 5 s per run, best of 2 alternating runs
 *   npm run bench -- --quick      1 s per run (a smoke check, not a measurement)
 *   TSGW_RUNTIMES=bun npm run bench
 * Prints req/s per scenario and the ratio tsgw/raw; target (DESIGN §10): >= 0.95.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { ROOT, RUNTIMES, commandFor, type RuntimeName } from "../test/helpers/tsgw.ts";

const quick = process.argv.includes("--quick");
const seconds = quick ? 1 : 5;
const rounds = quick ? 1 : 2;
const BIN = join(ROOT, "node_modules", ".bin");

if (spawnSync("wrk", ["--version"]).error) {
  console.error("bench: wrk not found; install it with: apt-get install -y wrk");
  process.exit(1);
}

const BENCH = join(ROOT, "scripts", "bench");

/** The bare runtime running a script with a port argument. */
function runScript(rt: RuntimeName, script: string, port: number): string[] {
  if (rt === "node") return [process.execPath, script, String(port)];
  if (rt === "bun") return [join(BIN, "bun"), script, String(port)];
  return [join(BIN, "deno"), "run", "-A", "--unstable-net", script, String(port)];
}

interface Scenario {
  name: string;
  raw: (rt: RuntimeName, port: number) => string[];
  rawName: (rt: RuntimeName) => string;
  app: string;
}

const SCENARIOS: Scenario[] = [
  {
    name: "fetch handler",
    // Node has no fetch server: its baseline is node:http writing the same response
    raw: (rt, port) => runScript(rt, join(BENCH, rt === "node" ? "hello-node.mjs" : "raw-fetch.ts"), port),
    rawName: (rt) => ({ node: "node:http", bun: "Bun.serve", deno: "Deno.serve" })[rt],
    app: join(BENCH, "hello.ts"),
  },
  {
    name: "Node listener",
    raw: (rt, port) => runScript(rt, join(BENCH, "hello-node.mjs"), port),
    rawName: () => "node:http",
    app: join(BENCH, "hello-node.mjs"),
  },
];

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

const header = `wrk -t1 -c32 -d${seconds}s, best of ${rounds} alternating runs, ${availableParallelism()} CPUs, hello world, 1 process`;
console.log(`bench: ${header}\n`);
const table = ["| runtime | app | baseline | baseline req/s | tsgw req/s | tsgw p99 | ratio | target >= 0.95 |", "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |"];
for (const rt of RUNTIMES) {
  for (const sc of SCENARIOS) {
    let raw: Result = { rps: 0, p99: "?", errors: 0 };
    let tsgw: Result = raw;
    for (let i = 0; i < rounds; i++) {
      raw = best(raw, await measure((port) => sc.raw(rt, port)));
      tsgw = best(tsgw, await measure((port) => [...commandFor(rt), sc.app, "-b", `127.0.0.1:${port}`, "--log-level", "warning"]));
    }
    const ratio = tsgw.rps / raw.rps;
    const verdict = ratio >= 0.95 ? "PASS" : "FAIL";
    const errors = tsgw.errors + raw.errors;
    console.log(
      `${rt.padEnd(5)} ${sc.name.padEnd(14)} ${sc.rawName(rt).padEnd(10)} ${raw.rps.toFixed(0).padStart(7)} req/s   tsgw ${tsgw.rps.toFixed(0).padStart(7)} req/s (p99 ${tsgw.p99})   ratio ${ratio.toFixed(3)} ${verdict}${errors ? `  errors: ${errors}` : ""}`,
    );
    table.push(`| ${rt} | ${sc.name} | ${sc.rawName(rt)} | ${raw.rps.toFixed(0)} | ${tsgw.rps.toFixed(0)} | ${tsgw.p99} | ${ratio.toFixed(3)} | ${verdict} |`);
  }
}
if (!quick && !process.env.TSGW_RUNTIMES) {
  const versionOf = (rt: RuntimeName) => /\d+\.\d+\.\d+/.exec(spawnSync(commandFor(rt)[0]!, ["--version"], { encoding: "utf8" }).stdout)?.[0];
  const versions = RUNTIMES.map((rt) => `${rt} ${versionOf(rt)}`).join(", ");
  writeFileSync(
    join(ROOT, "docs", "benchmarks.md"),
    [
      "# Benchmarks",
      "",
      "<!-- Written by `npm run bench` (scripts/bench.ts); run it again to refresh. -->",
      "",
      `Taken ${new Date().toISOString().slice(0, 10)}: ${header}; ${versions}.`,
      "The baseline is the bare runtime server serving the same hello world in the same run;",
      "wrk and the server share the machine, so only the ratios carry over to other machines.",
      "",
      ...table,
      "",
    ].join("\n"),
  );
  console.log("\nwrote docs/benchmarks.md");
}
