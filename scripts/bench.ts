/**
 * tsgw against the bare runtime servers, side by side in one run, with wrk.
 *   npm run bench                 5 s per run, best of 2 alternating runs
 *   npm run bench -- --quick      1 s per run (a smoke check, not a measurement)
 *   TSGW_RUNTIMES=bun npm run bench
 * Scenarios: 1 process (tsgw vs Bun.serve / Deno.serve / node:http) and
 * 2 workers (tsgw vs node cluster and PM2 cluster mode, Bun reusePort,
 * `deno serve --parallel`), the binaries vs tsgw from source, idle worker
 * memory, cold start and binary sizes (npm run compile first). Prints ratios and
 * PASS/FAIL against DESIGN §10, and rewrites docs/benchmarks.md.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, relative } from "node:path";
import { askMaster } from "../src/master/control.ts";
import { BINARY, NODE_BINARY, ROOT, RUNTIMES, commandFor, type RuntimeName } from "../test/helpers/tsgw.ts";

const quick = process.argv.includes("--quick");
const seconds = quick ? 1 : 5;
const rounds = quick ? 1 : 2;
const BIN = join(ROOT, "node_modules", ".bin");
const BENCH = join(ROOT, "scripts", "bench");
const WORKERS = 2;

if (spawnSync("wrk", ["--version"]).error) {
  console.error("bench: wrk not found; install it with: apt-get install -y wrk");
  process.exit(1);
}

/** A server under test: started on a port, its worker pids, stopped. */
interface Running {
  workerPids(): Promise<number[]>;
  stop(): Promise<void>;
}
type Launch = (port: number) => Running;

/** A command in its own process group, so stopping it stops its children too. */
function group(cmd: string[], extraEnv: Record<string, string> = {}): Running {
  const [bin, ...args] = cmd;
  const child = spawn(bin!, args, { stdio: ["ignore", "ignore", "inherit"], detached: true, env: { ...process.env, TSGW_CMD_ARGS: "", ...extraEnv } });
  const exited = new Promise((r) => child.once("exit", r));
  return {
    async workerPids() {
      const status = await askMaster(child.pid!);
      return status ? status.workers.map((w) => w.pid) : [child.pid!];
    },
    async stop() {
      // TERM first, so a tsgw master cleans up its control socket; KILL whatever is left
      const kill = (sig: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, sig);
        } catch {
          // gone
        }
      };
      kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      kill("SIGKILL");
      await exited;
    },
  };
}

function runtimeArgs(rt: RuntimeName, script: string): string[] {
  if (rt === "node") return [process.execPath, script];
  if (rt === "bun") return [join(BIN, "bun"), script];
  return [join(BIN, "deno"), "run", "-A", "--unstable-net", script];
}

const tsgw = (rt: RuntimeName, app: string, workers: number): Launch => (port) =>
  group([...commandFor(rt), app, "-b", `127.0.0.1:${port}`, "-w", String(workers), "--log-level", "warning"]);

const pm2: Launch = (port) => {
  const env = { ...process.env, PM2_HOME: join(ROOT, ".tmp", "pm2") };
  spawnSync(join(BIN, "pm2"), ["start", join(BENCH, "hello-node.mjs"), "-i", String(WORKERS), "--name", "tsgw-bench", "--", String(port)], { env, stdio: "ignore" });
  return {
    async workerPids() {
      const list = JSON.parse(spawnSync(join(BIN, "pm2"), ["jlist"], { env, encoding: "utf8" }).stdout || "[]") as { pid: number }[];
      return list.map((p) => p.pid);
    },
    async stop() {
      spawnSync(join(BIN, "pm2"), ["kill"], { env, stdio: "ignore" });
    },
  };
};

interface Scenario {
  runtime: RuntimeName;
  name: string;
  baselineName: string;
  baseline: Launch;
  candidate: Launch;
  target: number;
}

/** The standalone binaries against tsgw from source on the runtime inside them (npm run compile first). */
function binaryScenarios(): Scenario[] {
  const hello = join(BENCH, "hello.ts");
  const alone = (cmd: string[]): Launch => (port) => group([...cmd, hello, "-b", `127.0.0.1:${port}`, "--no-master", "--log-level", "warning"]);
  return [
    { runtime: "binary", name: "dist/tsgw, 1 process", baselineName: "tsgw from source on bun", baseline: alone(commandFor("bun")), candidate: alone([BINARY]), target: 0.95 },
    { runtime: "binary", name: "dist/tsgw-node, 1 process", baselineName: "tsgw from source on node", baseline: alone(commandFor("node")), candidate: alone([NODE_BINARY]), target: 0.95 },
  ];
}

function scenarios(rt: RuntimeName): Scenario[] {
  if (rt === "binary") return binaryScenarios();
  const rawFetch = rt === "node" ? join(BENCH, "hello-node.mjs") : join(BENCH, "raw-fetch.ts");
  const out: Scenario[] = [
    {
      runtime: rt,
      name: "fetch handler, 1 process",
      baselineName: { node: "node:http", bun: "Bun.serve", deno: "Deno.serve" }[rt],
      baseline: (port) => group([...runtimeArgs(rt, rawFetch), String(port)]),
      candidate: (port) => group([...commandFor(rt), join(BENCH, "hello.ts"), "-b", `127.0.0.1:${port}`, "--no-master", "--log-level", "warning"]),
      target: 0.95,
    },
    {
      runtime: rt,
      name: "Node listener, 1 process",
      baselineName: "node:http",
      baseline: (port) => group([...runtimeArgs(rt, join(BENCH, "hello-node.mjs")), String(port)]),
      candidate: (port) => group([...commandFor(rt), join(BENCH, "hello-node.mjs"), "-b", `127.0.0.1:${port}`, "--no-master", "--log-level", "warning"]),
      target: 0.95,
    },
  ];
  const multi: Record<Exclude<RuntimeName, "binary">, [string, Launch][]> = {
    node: [
      ["node cluster", (port) => group([process.execPath, join(BENCH, "cluster-node.mjs"), String(WORKERS), String(port)])],
      ["PM2 cluster", pm2],
    ],
    bun: [["Bun.serve reusePort", (port) => group([...runtimeArgs("bun", join(BENCH, "reuseport.ts")), String(WORKERS), String(port)])]],
    deno: [
      [
        "deno serve --parallel",
        (port) => group([join(BIN, "deno"), "serve", "--parallel", "-A", "--host", "127.0.0.1", "--port", String(port), join(BENCH, "serve-deno.ts")], { DENO_JOBS: String(WORKERS) }),
      ],
    ],
  };
  for (const [baselineName, baseline] of multi[rt]) {
    out.push({ runtime: rt, name: `fetch handler, ${WORKERS} workers`, baselineName, baseline, candidate: tsgw(rt, join(BENCH, "hello.ts"), WORKERS), target: baselineName === "PM2 cluster" ? 1.0 : 0.95 });
  }
  return out;
}

async function waitUntilServing(port: number, pollMs = 50): Promise<void> {
  for (let i = 0; i < 15000 / pollMs; i++) {
    try {
      await (await fetch(`http://127.0.0.1:${port}/`)).text();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
  throw new Error(`nothing served on port ${port}`);
}

let nextPort = 20000 + Math.floor(Math.random() * 20000);

interface Result {
  rps: number;
  p50: string;
  p99: string;
  errors: number;
  rssMb: number;
}

function rssMb(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** Start a server on a fresh port, note an idle worker's memory, warm it up, measure it with wrk. */
async function measure(launch: Launch): Promise<Result> {
  const port = nextPort++;
  const server = launch(port);
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitUntilServing(port);
    await new Promise((r) => setTimeout(r, 300));
    const pids = await server.workerPids();
    const idle = Math.max(...pids.map(rssMb));
    spawnSync("wrk", ["-t1", "-c32", "-d1s", url]);
    const out = spawnSync("wrk", ["-t1", "-c32", `-d${seconds}s`, "--latency", url], { encoding: "utf8" }).stdout;
    return {
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
      p50: /50%\s+(\S+)/.exec(out)?.[1] ?? "?",
      p99: /99%\s+(\S+)/.exec(out)?.[1] ?? "?",
      errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) + (/Socket errors: (.*)/.exec(out) ? 1 : 0),
      rssMb: idle,
    };
  } finally {
    await server.stop();
  }
}

function best(a: Result | undefined, b: Result): Result {
  return !a || b.rps > a.rps ? b : a;
}

const header = `wrk -t1 -c32 -d${seconds}s, best of ${rounds} alternating runs, ${availableParallelism()} CPUs, hello world`;
console.log(`bench: ${header}\n`);
const table = [
  "| runtime | scenario | baseline | baseline req/s | tsgw req/s | tsgw p50 / p99 | ratio | target | verdict | idle worker RSS tsgw / baseline |",
  "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
];
for (const rt of RUNTIMES) {
  for (const sc of scenarios(rt)) {
    let base: Result | undefined;
    let cand: Result | undefined;
    for (let i = 0; i < rounds; i++) {
      base = best(base, await measure(sc.baseline));
      cand = best(cand, await measure(sc.candidate));
    }
    const ratio = cand!.rps / base!.rps;
    const verdict = ratio >= sc.target ? "PASS" : "FAIL";
    const mem = `${cand!.rssMb.toFixed(0)} / ${base!.rssMb.toFixed(0)} MB`;
    const errors = cand!.errors + base!.errors;
    console.log(
      `${rt.padEnd(5)} ${sc.name.padEnd(26)} vs ${sc.baselineName.padEnd(22)} ${base!.rps.toFixed(0).padStart(7)} -> ${cand!.rps.toFixed(0).padStart(7)} req/s  ratio ${ratio.toFixed(3)} (>= ${sc.target}) ${verdict}  RSS ${mem}${errors ? `  errors: ${errors}` : ""}`,
    );
    table.push(`| ${rt} | ${sc.name} | ${sc.baselineName} | ${base!.rps.toFixed(0)} | ${cand!.rps.toFixed(0)} | ${cand!.p50} / ${cand!.p99} | ${ratio.toFixed(3)} | ${sc.target} | ${verdict} | ${mem} |`);
  }
}
/** Exec to first served response, median of a few starts. */
async function coldStart(cmd: (port: number) => string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < (quick ? 2 : 7); i++) {
    const port = nextPort++;
    const start = performance.now();
    const server = group(cmd(port));
    await waitUntilServing(port, 2);
    times.push(performance.now() - start);
    await server.stop();
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const coldTable = [
  "| runtime | bare | tsgw --no-master | ratio (target 1.2) | tsgw with a master, 1 worker | ratio (target 2.2) |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
];
console.log("\ncold start, exec to first response (median):");
for (const rt of RUNTIMES) {
  // the same app on both sides: on Node a plain .mjs listener (bare Node cannot run TypeScript)
  const targets: [string, string[], "node" | "bun" | "deno"][] =
    rt === "binary" ? [["dist/tsgw", [BINARY], "bun"], ["dist/tsgw-node", [NODE_BINARY], "node"]] : [[rt, commandFor(rt), rt]];
  for (const [name, cmd, engine] of targets) {
    const hello = engine === "node" ? join(BENCH, "hello-node.mjs") : join(BENCH, "hello.ts");
    const base = await coldStart((port) => [...runtimeArgs(engine, engine === "node" ? hello : join(BENCH, "raw-fetch.ts")), String(port)]);
    const alone = await coldStart((port) => [...cmd, hello, "-b", `127.0.0.1:${port}`, "--no-master", "--log-level", "warning"]);
    const master = await coldStart((port) => [...cmd, hello, "-b", `127.0.0.1:${port}`, "-w", "1", "--log-level", "warning"]);
    const r1 = alone / base;
    const r2 = master / base;
    const verdict = (r: number, t: number) => `${r.toFixed(2)} ${r <= t ? "PASS" : "FAIL"}`;
    console.log(`${name.padEnd(14)} bare ${base.toFixed(0)} ms, --no-master ${alone.toFixed(0)} ms (${verdict(r1, 1.2)}), master ${master.toFixed(0)} ms (${verdict(r2, 2.2)})`);
    coldTable.push(`| ${name} | ${base.toFixed(0)} ms | ${alone.toFixed(0)} ms | ${verdict(r1, 1.2)} | ${master.toFixed(0)} ms | ${verdict(r2, 2.2)} |`);
  }
}
const sizes = [BINARY, NODE_BINARY].filter(existsSync).map((f) => `${relative(ROOT, f)} ${(statSync(f).size / 1048576).toFixed(1)} MB`);
if (sizes.length) console.log(`\nbinary sizes: ${sizes.join(", ")}`);

if (!quick && !process.env.TSGW_RUNTIMES) {
  const versionOf = (rt: RuntimeName) => /\d+\.\d+\.\d+/.exec(spawnSync(commandFor(rt)[0]!, ["--version"], { encoding: "utf8" }).stdout)?.[0];
  writeFileSync(
    join(ROOT, "docs", "benchmarks.md"),
    [
      "# Benchmarks",
      "",
      "<!-- Written by `npm run bench` (scripts/bench.ts); run it again to refresh. -->",
      "",
      `Taken ${new Date().toISOString().slice(0, 10)}: ${header}; ${RUNTIMES.map((rt) => `${rt} ${versionOf(rt)}`).join(", ")}.`,
      "Each baseline is the bare runtime setup serving the same hello world in the same run;",
      "wrk and the servers share the machine, so only the ratios carry over to other machines.",
      "Idle worker RSS is read from /proc after one request (for a multi-process baseline: its largest process).",
      "",
      ...table,
      "",
      "## Cold start",
      "",
      "Exec to the first served response, median of 7 starts; the bare runtime serves the same hello world.",
      "",
      ...coldTable,
      "",
      ...(sizes.length ? [`Binary sizes: ${sizes.join(", ")}.`, ""] : []),
    ].join("\n"),
  );
  console.log("\nwrote docs/benchmarks.md");
}
