/**
 * The benchmark suite: every scenario side by side in one run,
 * with wrk, against the baselines it must match. `scripts/bench` (= npm run
 * bench) runs it; it writes docs/benchmarks.md and docs/benchmarks.svg.
 *
 *   scripts/bench                  5 s per run, median (min–max) of 3 alternating rounds
 *   scripts/bench --quick          2 s per run, 1 round (a smoke check, not a measurement)
 *   scripts/bench --smoke --out D  1 s per run, no warm-up, output to D (the test runs it on node)
 *   TSGW_RUNTIMES=node,bun scripts/bench   some runtimes only (output not written to docs/)
 *   scripts/bench --only nginx     the groups whose name holds the text (output not written to docs/)
 *
 * Scenarios: tsgw vs the bare runtime server at 1 process and at N workers
 * (node cluster, PM2, Bun reusePort, `deno serve --parallel`), --threads
 * against the same multi-core servers and what a thread costs in memory, vs
 * @hono/node-server; hello world, a JSON echo POST and a 64 KB streamed
 * response; the binaries vs the sources; access log on vs off; nginx in
 * front over uwsgi_pass vs proxy_pass (TCP and unix), vs a minimal
 * hand-written uwsgi server on the same runtime, static files (--static-map vs the runtime's own file serving
 * and express.static), vs uWSGI's C server
 * with a Python hello world, Gunicorn as the Python reference; reloads under
 * load (errors must be 0); WebSocket echo throughput and memory per idle
 * connection (scripts/ws-load.ts); idle worker memory and cold start. Scenarios whose
 * tool is missing (nginx, uwsgi, gunicorn) are skipped with a line saying so.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { availableParallelism, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { askMaster } from "../src/master/control.ts";
import { echo, hold } from "./ws-load.ts";
import { BINARY, commandFor, engineOf, NODE_BINARY, ROOT, type RuntimeName, RUNTIMES } from "../test/helpers/tsgw.ts";

const args = process.argv.slice(2);
const smoke = args.includes("--smoke");
const quick = args.includes("--quick");
const seconds = smoke || quick ? 1 : 5; // wrk takes whole seconds
const rounds = smoke || quick ? 1 : 3;
const outIndex = args.indexOf("--out");
const onlyIndex = args.indexOf("--only");
/** --only TEXT: the parts whose group name holds TEXT (e.g. "nginx", "reloads", "cold start") */
const only = onlyIndex >= 0 ? args[onlyIndex + 1]!.toLowerCase() : undefined;
const wanted = (group: string) => !only || group.toLowerCase().includes(only);
const OUT = outIndex >= 0 ? args[outIndex + 1]! : !smoke && !quick && !only && !process.env.TSGW_RUNTIMES ? join(ROOT, "docs") : undefined;
const BIN = join(ROOT, "node_modules", ".bin");
const BENCH = join(ROOT, "scripts", "bench-apps");
const WORKERS = Math.max(2, Math.min(4, availableParallelism()));
const WORK = join(tmpdir(), `tsgw-bench-${process.pid}`);
mkdirSync(WORK, { recursive: true });
/**
 * Every server runs without NODE_EXTRA_CA_CERTS, bare and tsgw alike: Node 20 reads and parses that file at every
 * process start, which with a system's whole bundle (as on this project's machines) is 35 ms of a 55 ms `node -e 0`
 * and a certificate store in each process, a constant of the machine that would hide tsgw's own cost.
 */
const EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS;
delete process.env.NODE_EXTRA_CA_CERTS;

const which = (cmd: string): string | undefined =>
  ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"].map((d) => join(d, cmd)).find((p) => existsSync(p));
const WRK = which("wrk");
const NGINX = which("nginx");
const UWSGI = which("uwsgi");
const GUNICORN = which("gunicorn");
if (!WRK) {
  console.error("bench: wrk not found; install it with: apt-get install -y wrk");
  process.exit(1);
}

// ------------------------------------------------------------ processes

/** A server under test: its worker pids, its URL, stopped. */
interface Running {
  url?: string;
  /** the process started (a tsgw master, or a bare server) */
  pid?: number;
  workerPids(): Promise<number[]>;
  stop(): Promise<void>;
}
type Launch = (port: number) => Running | Promise<Running>;

/** A command in its own process group, so stopping it stops its children too. */
function group(cmd: string[], extraEnv: Record<string, string> = {}): Running {
  const [bin, ...rest] = cmd;
  const child = spawn(bin!, rest, { stdio: ["ignore", "ignore", "inherit"], detached: true, env: { ...process.env, TSGW_CMD_ARGS: "", ...extraEnv } });
  const exited = new Promise((r) => child.once("exit", r));
  return {
    pid: child.pid,
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

function runtimeArgs(rt: "node" | "bun" | "deno", script: string): string[] {
  if (rt === "node") return [process.execPath, script];
  if (rt === "bun") return [join(BIN, "bun"), script];
  return [join(BIN, "deno"), "run", "-A", "--unstable-net", script];
}

const QUIET = ["--log-level", "warning"];
const tsgwOn = (cmd: string[], app: string, workers: number, extra: string[] = []): Launch => (port) =>
  group([...cmd, app, "-b", `127.0.0.1:${port}`, ...(workers === 1 ? ["--no-master"] : ["-w", String(workers)]), ...QUIET, ...extra]);

/** tsgw with a master and one worker of `threads` serving threads */
const tsgwThreads = (cmd: string[], threads: number): Launch => (port) =>
  group([...cmd, HELLO, "-b", `127.0.0.1:${port}`, "-w", "1", "--threads", String(threads), ...QUIET]);

const pm2: Launch = (port) => {
  const env = { ...process.env, PM2_HOME: join(WORK, "pm2") };
  spawnSync(join(BIN, "pm2"), ["start", join(BENCH, "hello-node.mjs"), "-i", String(WORKERS), "--name", "tsgw-bench", "--", String(port)], {
    env,
    stdio: "ignore",
  });
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

// below the ephemeral range (32768+), where wrk's own connections would collide with a listener
let nextPort = 10000 + Math.floor(Math.random() * 15000);
const freshPort = () => nextPort++;

async function waitUntilServing(url: string, pollMs = 50): Promise<void> {
  for (let i = 0; i < 15000 / pollMs; i++) {
    try {
      if (url.startsWith("https:")) await httpsOnce(url);
      else await (await fetch(url)).arrayBuffer();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, pollMs));
    }
  }
  throw new Error(`nothing served at ${url}`);
}

/** One GET over HTTPS to the bench's self-signed certificate (fetch would refuse it). */
function httpsOnce(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { rejectUnauthorized: false, agent: false }, (res) => res.resume().on("end", resolve)).on("error", reject);
  });
}

/** nginx in front of an upstream (uwsgi_pass or proxy_pass to a unix path or host:port). */
function nginxFront(upstream: Launch, pass: "uwsgi" | "proxy", target: (port: number, dir: string) => string): Launch {
  return async (port) => {
    const dir = join(WORK, `nginx-${port}`);
    mkdirSync(dir, { recursive: true });
    const upstreamPort = freshPort();
    const server = await upstream(upstreamPort);
    const to = target(upstreamPort, dir);
    const location = pass === "uwsgi"
      ? `include /etc/nginx/uwsgi_params; uwsgi_pass ${to};`
      : `proxy_pass http://${to}; proxy_http_version 1.1; proxy_set_header Connection "";`;
    writeFileSync(
      join(dir, "nginx.conf"),
      `${process.getuid?.() === 0 ? "user root root;" : ""}
daemon off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; uwsgi_temp_path ${dir}/u; fastcgi_temp_path ${dir}/f; scgi_temp_path ${dir}/s;
  server { listen 127.0.0.1:${port}; location / { ${location} } }
}
`,
    );
    const nginx = group([NGINX!, "-p", dir, "-c", join(dir, "nginx.conf")]);
    return {
      workerPids: () => server.workerPids(),
      async stop() {
        await nginx.stop();
        await server.stop();
      },
    };
  };
}

// ------------------------------------------------------------ measuring

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

type Workload = "hello" | "json" | "64k" | "static";
const PATHS: Record<Workload, string> = { hello: "/", json: "/json", "64k": "/64k", static: "/static/asset.css" };

function wrk(url: string, duration: number, workload: Workload, close = false): string {
  const extra = [...(workload === "json" ? ["-s", join(BENCH, "post.lua")] : []), ...(close ? ["-H", "Connection: close"] : [])];
  return spawnSync(WRK!, ["-t1", "-c32", `-d${duration}s`, "--latency", ...extra, url], { encoding: "utf8" }).stdout;
}

function parseWrk(out: string): Omit<Result, "rssMb"> {
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
    p50: /50%\s+(\S+)/.exec(out)?.[1] ?? "?",
    p99: /99%\s+(\S+)/.exec(out)?.[1] ?? "?",
    errors: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0) +
      (/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)?.slice(1).reduce((n, v) => n + Number(v), 0) ?? 0),
  };
}

/** Start a server on a fresh port, note an idle worker's memory, warm it up, measure it with wrk. */
async function measure(launch: Launch, workload: Workload, close = false): Promise<Result> {
  const port = freshPort();
  const server = await launch(port);
  const base = server.url ?? `http://127.0.0.1:${port}`;
  try {
    await waitUntilServing(`${base}/`);
    await new Promise((r) => setTimeout(r, smoke ? 100 : 300));
    const idle = Math.max(...(await server.workerPids()).map(rssMb));
    if (!smoke) wrk(`${base}${PATHS[workload]}`, 1, workload, close); // warm-up
    return { ...parseWrk(wrk(`${base}${PATHS[workload]}`, seconds, workload, close)), rssMb: idle };
  } finally {
    await server.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;

// ------------------------------------------------------------ scenarios

interface Comparison {
  group: string;
  runtime: string;
  name: string;
  workload: Workload;
  baselineName: string;
  baseline: Launch;
  candidateName: string;
  candidate: Launch;
  /** candidate / baseline must reach this; null: for reference only */
  target: number | null;
  /** a new connection per request (wrk with Connection: close): what a TLS handshake costs */
  close?: boolean;
}

const HELLO = join(BENCH, "hello.ts");
/** Gunicorn's default access log format with the client address taken from the proxy's X-Forwarded-For instead of the connection */
const NO_PEER_FORMAT = '%({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';
const HELLO_NODE = join(BENCH, "hello-node.mjs");
const engines = [...new Set(RUNTIMES.filter((r) => r !== "binary"))] as ("node" | "bun" | "deno")[];
const skipped: string[] = [];

/** The bare runtime serving the workload: node:http, Bun.serve, Deno.serve. */
function rawServerArgs(rt: "node" | "bun" | "deno"): string[] {
  return runtimeArgs(rt, rt === "node" ? HELLO_NODE : join(BENCH, "raw-fetch.ts"));
}

function rawServer(rt: "node" | "bun" | "deno"): Launch {
  return (port) => group([...rawServerArgs(rt), String(port)]);
}

function rawMulti(rt: "node" | "bun" | "deno"): [string, Launch][] {
  if (rt === "node") {
    return [["node cluster", (port) => group([process.execPath, join(BENCH, "cluster-node.mjs"), String(WORKERS), String(port)])], ["PM2 cluster", pm2]];
  }
  const reusePort = (port: number) => group([...runtimeArgs(rt, join(BENCH, "reuseport.ts")), String(WORKERS), String(port)]);
  if (rt === "bun") return [["Bun.serve reusePort", reusePort]];
  return [
    // the same process model as tsgw's (one process per worker); --parallel runs its workers as threads of one process
    ["Deno.serve reusePort processes", reusePort],
    [
      "deno serve --parallel",
      (port) =>
        group([join(BIN, "deno"), "serve", "--parallel", "-A", "--host", "127.0.0.1", "--port", String(port), join(BENCH, "serve-deno.ts")], {
          DENO_JOBS: String(WORKERS),
        }),
    ],
  ];
}

/** the bench's self-signed certificate, made once by openssl (HTTPS scenarios) */
const CERT = join(WORK, "cert.pem");
const KEY = join(WORK, "key.pem");
function makeCertificate(): boolean {
  mkdirSync(WORK, { recursive: true });
  const args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", KEY, "-out", CERT, "-days", "2", "-subj", "/CN=localhost"];
  return spawnSync("openssl", args, { stdio: "ignore" }).status === 0;
}

/** The same server, reached over HTTPS. */
const overTls = (launch: Launch): Launch => async (port) => ({ ...(await launch(port)), url: `https://127.0.0.1:${port}` });

function comparisons(): Comparison[] {
  const out: Comparison[] = [];
  const rawName = { node: "node:http", bun: "Bun.serve", deno: "Deno.serve" };
  for (const rt of engines) {
    const cmd = commandFor(rt);
    for (const workload of ["hello", "json", "64k"] as const) {
      out.push({
        group: "tsgw vs bare runtime",
        runtime: rt,
        name: `fetch app, 1 process, ${workload}`,
        workload,
        baselineName: rawName[rt],
        baseline: rawServer(rt),
        candidateName: "tsgw",
        candidate: tsgwOn(cmd, HELLO, 1),
        target: 0.95,
      });
    }
    out.push({
      group: "tsgw vs bare runtime",
      runtime: rt,
      name: "Node listener, 1 process, hello",
      workload: "hello",
      baselineName: "node:http",
      baseline: (port) => group([...runtimeArgs(rt, HELLO_NODE), String(port)]),
      candidateName: "tsgw",
      candidate: tsgwOn(cmd, HELLO_NODE, 1),
      target: 0.95,
    });
    for (const [name, launch] of rawMulti(rt)) {
      // PM2 runs a Node script, which cannot be a fetch handler: both process managers serve the same Node listener
      const listener = name === "PM2 cluster";
      out.push({
        group: "tsgw vs bare runtime",
        runtime: rt,
        name: `${listener ? "Node listener" : "fetch app"}, ${WORKERS} workers, hello`,
        workload: "hello",
        baselineName: name,
        baseline: launch,
        candidateName: "tsgw",
        candidate: tsgwOn(cmd, listener ? HELLO_NODE : HELLO, WORKERS),
        target: listener ? 1.0 : 0.95,
      });
    }
    if (rt !== "node") {
      // --threads: one worker process whose threads share the port, against the runtime's own multi-core servers
      const [name, launch] = rawMulti(rt).at(-1)!;
      out.push({
        group: "threads",
        runtime: rt,
        name: `fetch app, 1 worker × ${WORKERS} threads, hello`,
        workload: "hello",
        baselineName: name,
        baseline: launch,
        candidateName: "tsgw --threads",
        candidate: tsgwThreads(cmd, WORKERS),
        target: rt === "deno" ? 1.0 : 0.95,
      });
    }
    if (rt === "node") {
      // the fetch adapter against the best known one, on the same web-stream and Request/Response costs
      for (const workload of ["hello", "json", "64k"] as const) {
        out.push({
          group: "tsgw vs bare runtime",
          runtime: rt,
          name: `fetch app, 1 process, ${workload}`,
          workload,
          baselineName: "@hono/node-server",
          baseline: (port) => group([process.execPath, join(BENCH, "hono-node.mjs"), String(port)]),
          candidateName: "tsgw",
          candidate: tsgwOn(cmd, HELLO, 1),
          // a margin over the best known adapter on node:http, on every workload
          target: 1.1,
        });
      }
    }
    // what the metrics cost on the hot path: each request counted by method, status class and duration
    out.push({
      group: "metrics",
      runtime: rt,
      name: `fetch app, ${WORKERS} workers, hello`,
      workload: "hello",
      baselineName: "tsgw, metrics off",
      baseline: tsgwOn(cmd, HELLO, WORKERS),
      candidateName: "tsgw, --metrics on",
      candidate: (port) => tsgwOn(cmd, HELLO, WORKERS, ["--metrics", String(freshPort())])(port),
      target: 0.97,
    });
    // HTTPS: the runtime's own TLS server against tsgw's on the same certificate, one process each
    const app = rt === "node" ? HELLO_NODE : HELLO;
    for (const close of [false, true]) {
      out.push({
        group: "https",
        runtime: rt,
        name: `${rt === "node" ? "Node listener" : "fetch app"}, 1 process, ${close ? "new connection each" : "keep-alive"}`,
        workload: "hello",
        baselineName: { node: "node:https", bun: "Bun.serve tls", deno: "Deno.serve tls" }[rt],
        baseline: overTls((port) => group([...rawServerArgs(rt), String(port)], { TSGW_BENCH_TLS: `${CERT},${KEY}` })),
        candidateName: "tsgw",
        candidate: overTls(tsgwOn(cmd, app, 1, ["--certfile", CERT, "--keyfile", KEY])),
        target: 0.95,
        close,
      });
    }
    const accessLog = join(WORK, `access-${rt}.log`);
    const accessRow = (workers: number, candidateName: string, format: string[], target: number | null): Comparison => ({
      group: "access log",
      runtime: rt,
      name: workers === 1 ? "fetch app, 1 process, hello" : `fetch app, ${workers} workers, hello`,
      workload: "hello",
      baselineName: "tsgw, access log off",
      baseline: tsgwOn(cmd, HELLO, workers),
      candidateName,
      candidate: tsgwOn(cmd, HELLO, workers, ["--access-log", accessLog, ...format]),
      target,
    });
    out.push(
      accessRow(1, "tsgw, access log on", [], 0.95),
      // the same line with the client address from the proxy's header: what %(h)s costs on its own (docs/benchmarks.md)
      accessRow(1, "on, no %(h)s", ["--access-log-format", NO_PEER_FORMAT], null),
      accessRow(WORKERS, "tsgw, access log on", [], 0.95),
    );
  }
  for (const rt of engines) {
    // a 16 KB stylesheet: tsgw's --static-map against the runtime's own file serving and express.static
    const staticMap = tsgwOn(commandFor(rt), HELLO, 1, ["--static-map", `/static=${join(BENCH, "public")}`]);
    const own = { node: "node:http + fs stream", bun: "Bun.serve + Bun.file", deno: "Deno.serve + Deno.open" }[rt];
    for (const [baselineName, script] of [[own, "static-raw.mjs"], ["express.static", "static-express.mjs"]] as const) {
      out.push({
        group: "static files",
        runtime: rt,
        name: "16 KB file, 1 process",
        workload: "static",
        baselineName,
        baseline: (port) => group([...runtimeArgs(rt, join(BENCH, script)), String(port)]),
        candidateName: "tsgw --static-map",
        candidate: staticMap,
        target: null,
      });
    }
  }
  if (RUNTIMES.includes("binary")) {
    out.push({
      group: "binary vs source",
      runtime: "bun",
      name: "fetch app, 1 process, hello",
      workload: "hello",
      baselineName: "tsgw from source",
      baseline: tsgwOn(commandFor("bun"), HELLO, 1),
      candidateName: "dist/tsgw",
      candidate: tsgwOn([BINARY], HELLO, 1),
      target: 0.95,
    });
    out.push({
      group: "binary vs source",
      runtime: "node",
      name: "Node listener, 1 process, hello",
      workload: "hello",
      baselineName: "tsgw from source",
      baseline: tsgwOn(commandFor("node"), HELLO_NODE, 1),
      candidateName: "dist/tsgw-node",
      candidate: tsgwOn([NODE_BINARY], HELLO_NODE, 1),
      target: 0.95,
    });
  }
  if (!NGINX) skipped.push("nginx scenarios: nginx is not installed (apt-get install -y nginx)");
  else {
    for (const rt of engines) {
      const cmd = commandFor(rt);
      // one worker: Bun cannot share a unix socket between workers; the same for every runtime keeps it comparable
      const via = (pass: "uwsgi" | "proxy", transport: "unix" | "tcp", app = HELLO): Launch => {
        const flag = pass === "uwsgi" ? "--socket" : "--http-socket";
        return nginxFront(
          (port) => {
            const dir = join(WORK, `tsgw-${port}`);
            mkdirSync(dir, { recursive: true });
            return group([...cmd, app, flag, transport === "unix" ? join(dir, "app.sock") : `127.0.0.1:${port}`, ...QUIET]);
          },
          pass,
          (port) => (transport === "unix" ? `unix:${join(WORK, `tsgw-${port}`, "app.sock")}` : `127.0.0.1:${port}`),
        );
      };
      for (const transport of ["unix", "tcp"] as const) {
        out.push({
          group: "behind nginx",
          runtime: rt,
          name: `tsgw, 1 worker, ${transport}`,
          workload: "hello",
          baselineName: "proxy_pass",
          baseline: via("proxy", transport),
          candidateName: "uwsgi_pass",
          candidate: via("uwsgi", transport),
          target: 1.0,
        });
      }
      out.push({
        group: "behind nginx",
        runtime: rt,
        name: "tsgw, Node listener, 1 worker, unix",
        workload: "hello",
        baselineName: "proxy_pass",
        baseline: via("proxy", "unix", HELLO_NODE),
        candidateName: "uwsgi_pass",
        candidate: via("uwsgi", "unix", HELLO_NODE),
        target: 1.0,
      });
      // fixed bytes: the floor of the protocol on that socket API; "app": the same app served the shortest way
      const minimal = (mode: "fixed" | "app"): Launch =>
        nginxFront(
          (port) => {
            const dir = join(WORK, `minimal-${port}`);
            mkdirSync(dir, { recursive: true });
            return group([...runtimeArgs(rt, join(BENCH, "uwsgi-minimal.mjs")), join(dir, "app.sock"), ...(mode === "app" ? ["app"] : [])]);
          },
          "uwsgi",
          (port) => `unix:${join(WORK, `minimal-${port}`, "app.sock")}`,
        );
      out.push({
        group: "behind nginx",
        runtime: rt,
        name: "uwsgi_pass, 1 worker, unix",
        workload: "hello",
        baselineName: "minimal uwsgi server, fixed bytes",
        baseline: minimal("fixed"),
        candidateName: "tsgw",
        candidate: via("uwsgi", "unix"),
        target: 0.95,
      });
      out.push({
        group: "behind nginx",
        runtime: rt,
        name: "uwsgi_pass, 1 worker, unix",
        workload: "hello",
        baselineName: "minimal uwsgi server running the app",
        baseline: minimal("app"),
        candidateName: "tsgw",
        candidate: via("uwsgi", "unix"),
        target: 0.95,
      });
      if (!UWSGI || !existsSync("/usr/lib/uwsgi/plugins/python3_plugin.so")) continue;
      const uwsgiC: Launch = nginxFront(
        (port) => {
          const dir = join(WORK, `uwsgi-${port}`);
          mkdirSync(dir, { recursive: true });
          return group([
            UWSGI,
            "--plugin",
            "python3",
            "--socket",
            join(dir, "app.sock"),
            "--wsgi-file",
            join(BENCH, "hello.py"),
            "--master",
            "--processes",
            "1",
            "--disable-logging",
            "--die-on-term",
            "--logto",
            join(dir, "uwsgi.log"),
          ]);
        },
        "uwsgi",
        (port) => `unix:${join(WORK, `uwsgi-${port}`, "app.sock")}`,
      );
      out.push({
        group: "behind nginx",
        runtime: rt,
        name: "uwsgi_pass, 1 worker, unix",
        workload: "hello",
        baselineName: "uWSGI (C) + Python",
        baseline: uwsgiC,
        candidateName: "tsgw",
        candidate: via("uwsgi", "unix"),
        target: 1.0,
      });
    }
    if (!UWSGI || !existsSync("/usr/lib/uwsgi/plugins/python3_plugin.so")) {
      skipped.push("uWSGI scenarios: uwsgi or its python3 plugin is not installed (apt-get install -y uwsgi-core uwsgi-plugin-python3)");
    }
  }
  if (!GUNICORN) skipped.push("Gunicorn reference: gunicorn is not installed (apt-get install -y gunicorn)");
  else {
    const gunicorn: Launch = (port) =>
      group([GUNICORN, "-w", String(WORKERS), "-b", `127.0.0.1:${port}`, "--chdir", BENCH, "--log-level", "critical", "hello:app"]);
    for (const rt of engines) {
      out.push({
        group: "Python reference",
        runtime: rt,
        name: `${WORKERS} workers, hello`,
        workload: "hello",
        baselineName: "Gunicorn sync workers",
        baseline: gunicorn,
        candidateName: "tsgw",
        candidate: tsgwOn(commandFor(rt), HELLO, WORKERS),
        target: null,
      });
    }
  }
  return out;
}

// ------------------------------------------------------------ reloads under load

interface ReloadResult {
  runtime: string;
  requests: number;
  errors: number;
  reloads: number;
  /** wrk's breakdown of socket errors, if any */
  detail?: string;
}

async function reloadUnderLoad(rt: RuntimeName): Promise<ReloadResult> {
  const port = freshPort();
  const dir = join(WORK, `reload-${port}`);
  mkdirSync(dir, { recursive: true });
  const pidfile = join(dir, "app.pid");
  const server = group([...commandFor(rt), HELLO, "-b", `127.0.0.1:${port}`, "-w", String(WORKERS), "--pid", pidfile, ...QUIET]);
  try {
    await waitUntilServing(`http://127.0.0.1:${port}/`);
    const duration = seconds * 2;
    const load = new Promise<string>((resolve) => {
      const child = spawn(WRK!, ["-t1", "-c32", `-d${duration}s`, `http://127.0.0.1:${port}/`], { stdio: ["ignore", "pipe", "ignore"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.on("exit", () => resolve(out));
    });
    let reloads = 0;
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, (duration * 1000) / 3));
      const r = spawnSync(commandFor(rt)[0]!, [...commandFor(rt).slice(1), "--reload", pidfile], { encoding: "utf8", timeout: 60000 });
      if (r.status === 0) reloads++;
    }
    const out = await load;
    const parsed = parseWrk(out);
    const detail = /Socket errors: .*/.exec(out)?.[0];
    return { runtime: rt, requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0), errors: parsed.errors, reloads, detail };
  } finally {
    await server.stop();
  }
}

// ------------------------------------------------------------ WebSockets

interface WsResult {
  /** messages echoed per second over 100 connections */
  rate: number;
  errors: number;
  /** resident memory 1,000 idle connections added, MB (every process of the server) */
  mb: number;
}

const totalRss = (pids: number[]) => pids.reduce((n, pid) => n + rssMb(pid), 0);

/** A fresh server: memory for 1,000 idle WebSockets first, then echo throughput over 100. */
async function measureWebSockets(launch: Launch): Promise<WsResult> {
  const port = freshPort();
  const server = await launch(port);
  try {
    await waitUntilServing(`http://127.0.0.1:${port}/`);
    const pids = await server.workerPids();
    const before = totalRss(pids);
    const held = await hold(port, smoke ? 100 : 1000);
    await new Promise((r) => setTimeout(r, smoke ? 100 : 500));
    const mb = (totalRss(pids) - before) * (smoke ? 10 : 1);
    held.close();
    if (!smoke) await echo(port, { connections: 100, seconds: 1 }); // warm-up
    const { perSecond, errors } = await echo(port, { connections: 100, seconds });
    return { rate: perSecond, errors, mb };
  } finally {
    await server.stop();
  }
}

interface WsRow {
  runtime: string;
  name: string;
  baselineName: string;
  /** per alternating round: candidate / baseline */
  rates: number[];
  mems: number[];
  base: WsResult;
  cand: WsResult;
  /** targets: throughput ratio at least, memory ratio at most; null: for reference */
  target: { rate: number; mem: number } | null;
}

const wsVerdict = (r: WsRow) => r.target === null ? "ref" : median(r.rates) >= r.target.rate && median(r.mems) <= r.target.mem ? "PASS" : "FAIL";

const WS_NATIVE = join(BENCH, "ws-echo-native.mjs");
const wsRows: WsRow[] = [];
if (wanted("websockets")) {
  console.log("\nWebSockets: echo messages/s over 100 connections and memory for 1,000 idle ones, median (min–max) of alternating rounds:");
}
for (const rt of wanted("websockets") ? engines : []) {
  const baselineName = { node: "ws on node:http", bun: "Bun.serve websocket", deno: "Deno.upgradeWebSocket" }[rt];
  const bare: Launch = (port) => group([...runtimeArgs(rt, WS_NATIVE), String(port)]);
  const candidates: [string, Launch, WsRow["target"]][] = [
    ["tsgw, the same script (adopted)", (port) => group([...commandFor(rt), WS_NATIVE, "-b", `127.0.0.1:${port}`, "--no-master", ...QUIET]), {
      rate: 0.95,
      mem: 1.1,
    }],
    ["tsgw, crossws hooks", tsgwOn(commandFor(rt), join(BENCH, "ws-echo-crossws.mjs"), 1), null],
  ];
  for (const [name, launch, target] of candidates) {
    const rates: number[] = [];
    const mems: number[] = [];
    let base: WsResult | undefined;
    let cand: WsResult | undefined;
    for (let i = 0; i < (smoke || quick ? 1 : 3); i++) {
      base = await measureWebSockets(bare);
      cand = await measureWebSockets(launch);
      rates.push(cand.rate / base.rate);
      mems.push(cand.mb / Math.max(0.1, base.mb));
    }
    const row: WsRow = { runtime: rt, name, baselineName, rates, mems, base: base!, cand: cand!, target };
    wsRows.push(row);
    console.log(
      `${rt.padEnd(5)} ${name.padEnd(32)} vs ${baselineName.padEnd(22)} ${base!.rate.toFixed(0).padStart(7)} -> ${
        cand!.rate.toFixed(0).padStart(7)
      } msg/s, ratio ${spread(rates)}; 1,000 idle: ${base!.mb.toFixed(1)} -> ${cand!.mb.toFixed(1)} MB, ratio ${spread(mems)} ${wsVerdict(row)}${
        base!.errors + cand!.errors ? `  errors: ${base!.errors + cand!.errors}` : ""
      }`,
    );
  }
}

// ------------------------------------------------------------ cold start

/**
 * The summed resident memory of a server's workers (or of the processes `pids` picks), once each thread or
 * process has served a second of load.
 */
async function workersRss(launch: Launch, pids = (server: Running) => server.workerPids()): Promise<number> {
  const port = freshPort();
  const server = await launch(port);
  try {
    await waitUntilServing(`http://127.0.0.1:${port}/`);
    wrk(`http://127.0.0.1:${port}/`, 1, "hello");
    await new Promise((r) => setTimeout(r, 500));
    return (await pids(server)).reduce((n, pid) => n + rssMb(pid), 0);
  } finally {
    await server.stop();
  }
}

/** Exec to first served response, median of a few starts. */
async function coldStart(cmd: (port: number) => string[]): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < (smoke ? 1 : quick ? 3 : 7); i++) {
    const port = freshPort();
    const start = performance.now();
    const server = group(cmd(port));
    await waitUntilServing(`http://127.0.0.1:${port}/`, 2);
    times.push(performance.now() - start);
    await server.stop();
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

// ------------------------------------------------------------ the run

const versionOf = (cmd: string[]) => /\d+\.\d+\.\d+/.exec(spawnSync(cmd[0]!, [...cmd.slice(1), "--version"], { encoding: "utf8" }).stdout ?? "")?.[0] ?? "?";
const machine = [
  `${availableParallelism()} CPUs`,
  `node ${process.versions.node}`,
  `bun ${versionOf([join(BIN, "bun")])}`,
  `deno ${versionOf([join(BIN, "deno")])}`,
  NGINX ? `nginx ${/nginx\/(\S+)/.exec(spawnSync(NGINX, ["-v"], { encoding: "utf8" }).stderr)?.[1] ?? "?"}` : "no nginx",
  UWSGI ? `uWSGI ${spawnSync(UWSGI, ["--version"], { encoding: "utf8" }).stdout.trim()}` : "no uWSGI",
].join(", ");
const header = `wrk -t1 -c32 -d${seconds}s, ratios as median (min–max) of ${rounds} alternating round${
  rounds > 1 ? "s" : ""
}, ${WORKERS} workers where N; ${machine}`;
console.log(`bench: ${header}\n`);
if (EXTRA_CA) console.log(`NODE_EXTRA_CA_CERTS (${EXTRA_CA}) is unset for every server: see "Cold start" in docs/benchmarks.md\n`);

interface Row extends Comparison {
  base: Result;
  cand: Result;
  /** the median of `ratios`, one per alternating round */
  ratio: number;
  ratios: number[];
  verdict: string;
}
const rows: Row[] = [];
const TLS_READY = wanted("https") && makeCertificate();
if (wanted("https") && !TLS_READY) skipped.push("https: openssl is not installed (apt-get install -y openssl)");
/** --smoke proves each kind of scenario runs: of the groups that differ only by their flags, the first comparison is enough */
const SMOKE_ONE = new Set(["https", "metrics"]);
const all = comparisons()
  .filter((c) => wanted(c.group) && (c.group !== "https" || TLS_READY))
  .filter((c, i, list) => !smoke || !SMOKE_ONE.has(c.group) || list.findIndex((o) => o.group === c.group) === i);
for (const s of skipped) console.log(`skipped: ${s}`);
for (const c of all) {
  // alternating rounds; the row shows the round whose ratio is the median
  const runs: { base: Result; cand: Result; ratio: number }[] = [];
  for (let i = 0; i < rounds; i++) {
    const b = await measure(c.baseline, c.workload, c.close);
    const k = await measure(c.candidate, c.workload, c.close);
    runs.push({ base: b, cand: k, ratio: b.rps ? k.rps / b.rps : 0 });
  }
  const ratios = runs.map((r) => r.ratio);
  const { base, cand, ratio } = runs.find((r) => r.ratio === median(ratios))!;
  const verdict = c.target === null ? "ref" : ratio >= c.target ? "PASS" : "FAIL";
  rows.push({ ...c, base, cand, ratio, ratios, verdict });
  const errors = base.errors + cand.errors;
  console.log(
    `${c.runtime.padEnd(5)} ${c.group.padEnd(21)} ${c.name.padEnd(34)} ${c.baselineName.padEnd(22)} ${base.rps.toFixed(0).padStart(7)} -> ${
      c.candidateName.padEnd(20)
    } ${cand.rps.toFixed(0).padStart(7)} req/s  ratio ${spread(ratios)}${c.target === null ? "" : ` (>= ${c.target})`} ${verdict}${
      errors ? `  errors: ${errors}` : ""
    }`,
  );
}

const reloadRows: ReloadResult[] = [];
if (wanted("reloads under load")) console.log("\nreloads under load (2 reloads during one wrk run; errors must be 0):");
for (const rt of wanted("reloads under load") ? RUNTIMES : []) {
  const r = await reloadUnderLoad(rt);
  reloadRows.push(r);
  console.log(
    `${rt.padEnd(7)} ${r.requests} requests, ${r.reloads} reloads, ${r.errors} errors ${r.errors === 0 && r.reloads === 2 ? "PASS" : "FAIL"}${
      r.detail ? ` (${r.detail})` : ""
    }`,
  );
}

const threadRows: string[] = [];
if (wanted("thread memory")) {
  console.log(`\nthread memory: what one more serving thread adds to the workers' RSS, against one more worker process (median of ${rounds}):`);
}
for (const rt of wanted("thread memory") ? engines.filter((e) => e !== "node") : []) {
  const cmd = commandFor(rt);
  const perThread: number[] = [];
  const perProcess: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const threads = await workersRss(tsgwThreads(cmd, 3)) - await workersRss(tsgwThreads(cmd, 2));
    const processes = await workersRss(tsgwOn(cmd, HELLO, 3)) - await workersRss(tsgwOn(cmd, HELLO, 2));
    perThread.push(threads);
    perProcess.push(processes);
  }
  const ratios = perThread.map((t, i) => t / perProcess[i]!);
  const verdict = median(ratios) <= 0.3 ? "PASS" : "FAIL";
  console.log(
    `${rt.padEnd(5)} a thread ${median(perThread).toFixed(1)} MB, a worker process ${median(perProcess).toFixed(1)} MB, ratio ${
      spread(ratios)
    } (<= 0.3) ${verdict}`,
  );
  threadRows.push(`| ${rt} | ${median(perThread).toFixed(1)} MB | ${median(perProcess).toFixed(1)} MB | ${spread(ratios)} | ${verdict} |`);
}

/**
 * What a target starts, by name: its command, the runtime inside it, and the app both it and that bare runtime serve
 * (on Node a plain .mjs listener: bare Node cannot run TypeScript).
 */
function startTargets(rt: RuntimeName): [string, string[], "node" | "bun" | "deno", string][] {
  const targets: [string, string[], "node" | "bun" | "deno"][] = rt === "binary"
    ? [["dist/tsgw", [BINARY], "bun"], ["dist/tsgw-node", [NODE_BINARY], "node"]]
    : rt === "bun"
    // the sources, as a checkout runs them, and the package's bin, as `bunx --bun tsgw` does (its bundle built for Bun)
    ? [["bun", commandFor(rt), "bun"], ["bun, npm bin", [join(BIN, "bun"), join(ROOT, "bin", "tsgw.mjs")], "bun"]]
    : [[rt, commandFor(rt), engineOf(rt)]];
  return targets.map(([name, cmd, engine]) => [name, cmd, engine, engine === "node" ? HELLO_NODE : HELLO]);
}

/**
 * The resident memory of a process tsgw started (`which`: the one the command started, or its workers) against a bare
 * server's, each after a second of load, alternating over the rounds: the console line, and the docs row it returns.
 */
async function memoryAgainstBare(name: string, role: string, bare: Launch, tsgw: Launch, which: "started" | "workers", target: number): Promise<string> {
  const started = async (server: Running) => [server.pid!];
  const bareMb: number[] = [];
  const tsgwMb: number[] = [];
  for (let i = 0; i < rounds; i++) {
    bareMb.push(await workersRss(bare, started));
    tsgwMb.push(await workersRss(tsgw, which === "started" ? started : undefined));
  }
  const ratios = tsgwMb.map((m, i) => m / bareMb[i]!);
  const verdict = median(ratios) <= target ? "PASS" : "FAIL";
  console.log(
    `${name.padEnd(14)} bare ${median(bareMb).toFixed(1)} MB, ${role} ${median(tsgwMb).toFixed(1)} MB, ratio ${spread(ratios)} (<= ${
      target.toFixed(1)
    }) ${verdict}`,
  );
  return `| ${name} | ${median(bareMb).toFixed(1)} MB | ${median(tsgwMb).toFixed(1)} MB | ${spread(ratios)} | ${verdict} |`;
}

const oneWorker = (cmd: string[], app: string): Launch => (port) => group([...cmd, app, "-b", `127.0.0.1:${port}`, "-w", "1", ...QUIET]);

const masterRows: string[] = [];
if (wanted("master memory")) console.log(`\nmaster memory: a master's RSS (-w 1) against a bare server's, each after a second of load (median of ${rounds}):`);
for (const rt of wanted("master memory") ? RUNTIMES : []) {
  for (const [name, cmd, engine, app] of startTargets(rt)) {
    masterRows.push(await memoryAgainstBare(name, "master", rawServer(engine), oneWorker(cmd, app), "started", 1));
  }
}

const workerRows: string[] = [];
if (wanted("worker memory")) console.log(`\nworker memory: a worker's RSS (-w 1) against a bare server's, each after a second of load (median of ${rounds}):`);
for (const rt of wanted("worker memory") ? engines.filter((e) => e !== "node") : []) {
  workerRows.push(await memoryAgainstBare(rt, "worker", rawServer(rt), oneWorker(commandFor(rt), HELLO), "workers", 1.1));
}

const coldRows: string[] = [];
if (wanted("cold start")) console.log("\ncold start, exec to first response (median):");
for (const rt of wanted("cold start") ? RUNTIMES : []) {
  for (const [name, cmd, engine, app] of startTargets(rt)) {
    const base = await coldStart((port) => [...rawServerArgs(engine), String(port)]);
    const alone = await coldStart((port) => [...cmd, app, "-b", `127.0.0.1:${port}`, "--no-master", ...QUIET]);
    const master = await coldStart((port) => [...cmd, app, "-b", `127.0.0.1:${port}`, "-w", "1", ...QUIET]);
    const verdict = (r: number, t: number) => `${r.toFixed(2)} ${r <= t ? "PASS" : "FAIL"}`;
    console.log(
      `${name.padEnd(14)} bare ${base.toFixed(0)} ms, --no-master ${alone.toFixed(0)} ms (${verdict(alone / base, 1.2)}), master ${master.toFixed(0)} ms (${
        verdict(master / base, 2.2)
      })`,
    );
    coldRows.push(
      `| ${name} | ${base.toFixed(0)} ms | ${alone.toFixed(0)} ms | ${verdict(alone / base, 1.2)} | ${master.toFixed(0)} ms | ${verdict(master / base, 2.2)} |`,
    );
  }
}

const sizes = [BINARY, NODE_BINARY].filter(existsSync).map((f) => `${relative(ROOT, f)} ${(statSync(f).size / 1048576).toFixed(1)} MB`);
if (sizes.length) console.log(`\nbinary sizes: ${sizes.join(", ")}`);

/** Bars of candidate/baseline per comparison, with each target marked. */
function svgChart(data: Row[]): string {
  const rowH = 18;
  const labelW = 470;
  const barW = 360;
  const max = Math.max(1.5, ...data.map((r) => r.ratio));
  const x = (v: number) => labelW + (v / max) * barW;
  const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const h = data.length * rowH + 40;
  const bars = data.map((r, i) => {
    const y = 24 + i * rowH;
    const color = r.verdict === "FAIL" ? "#d9534f" : r.verdict === "PASS" ? "#5cb85c" : "#6c8ebf";
    const label = `${r.runtime} · ${r.name} · ${r.candidateName} / ${r.baselineName}`;
    const target = r.target === null ? "" : `<line x1="${x(r.target)}" x2="${x(r.target)}" y1="${y}" y2="${y + rowH - 4}" stroke="#333" stroke-width="2"/>`;
    return `<text x="${labelW - 6}" y="${y + 11}" text-anchor="end">${esc(label)}</text><rect x="${labelW}" y="${y}" width="${x(r.ratio) - labelW}" height="${
      rowH - 4
    }" fill="${color}"/>${target}<text x="${x(r.ratio) + 4}" y="${y + 11}">${r.ratio.toFixed(2)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelW + barW + 60}" height="${h}" font-family="sans-serif" font-size="11">
<text x="4" y="14" font-weight="bold">tsgw / baseline (req/s); black mark: target; green PASS, red FAIL, blue reference</text>
<line x1="${x(1)}" x2="${x(1)}" y1="20" y2="${h - 10}" stroke="#999" stroke-dasharray="3,3"/>
${bars.join("\n")}
</svg>
`;
}

if (OUT) {
  mkdirSync(OUT, { recursive: true });
  const table = [
    "| group | runtime | scenario | baseline | req/s | candidate | req/s | p50 / p99 | errors | idle RSS cand. / base | ratio, median (min–max) | target | verdict |",
    "| --- | --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ...rows.map(
      (r) =>
        `| ${r.group} | ${r.runtime} | ${r.name} | ${r.baselineName} | ${r.base.rps.toFixed(0)} | ${r.candidateName} | ${
          r.cand.rps.toFixed(0)
        } | ${r.cand.p50} / ${r.cand.p99} | ${r.base.errors + r.cand.errors} | ${r.cand.rssMb.toFixed(0)} / ${r.base.rssMb.toFixed(0)} MB | ${
          spread(r.ratios)
        } | ${r.target ?? "—"} | ${r.verdict} |`,
    ),
  ];
  writeFileSync(join(OUT, "benchmarks.svg"), svgChart(rows));
  writeFileSync(
    join(OUT, "benchmarks.md"),
    [
      "# Benchmarks",
      "",
      "<!-- Written by scripts/bench (scripts/bench.ts); run it again to refresh. -->",
      "",
      `Taken ${new Date().toISOString().slice(0, 10)}: ${header}.`,
      "Each baseline runs the same workload (scripts/bench-apps/workload.ts: hello world, a JSON echo POST, a 64 KB streamed response) in the same run;",
      "wrk and the servers share the machine, so only the ratios carry over to other machines.",
      "Idle RSS is the largest worker process, read from /proc after one request.",
      ...(EXTRA_CA ? ["Every server ran without `NODE_EXTRA_CA_CERTS`, which this machine sets (see Cold start)."] : []),
      ...(skipped.length ? ["", ...skipped.map((s) => `Skipped: ${s}.`)] : []),
      "",
      "![tsgw / baseline](benchmarks.svg)",
      "",
      ...table,
      "",
      "## Where the access log's time goes",
      "",
      "Req/s on this machine swings by ±15% between two runs of the same server, so the access log's cost per variable was measured another way (2026-12-02).",
      "The measure is the server's own CPU time per request, from `/proc/PID/stat`: one process with `--no-master`, the server and wrk pinned to one core each with `taskset`, each format run in pairs against access log off.",
      "The table shows ratios of CPU per request (1.00: free), as the range of the pairs:",
      "",
      "| format | Bun | Deno |",
      "| --- | ---: | ---: |",
      "| `%(s)s` alone (the record, the line, the write) | 1.05–1.28 | 0.89–0.95 |",
      "| `%(a)s` alone (a request header) | 0.98–1.02 | 1.01–1.02 |",
      "| `%(r)s` alone (method, URL, protocol) | 1.01–1.07 | 1.07–1.45 |",
      "| `%(h)s` alone (the client's address) | 1.20–1.39 | 1.23 |",
      "| Gunicorn's default | 1.36–1.37 | 1.24–1.37 |",
      "",
      "- **`%(h)s` is most of the default format's cost on Bun.** Bun.serve gives the client's address per request (`requestIP()`), a call into the runtime each time. Bun.serve has no connection object to keep it on. node:http reads it once per connection.",
      '  - The "on, no %(h)s" rows in the table take the address from `X-Forwarded-For` instead, which is what a server behind a proxy should log anyway. Bun goes from 0.69 to 0.84 with it.',
      "  - On Deno (`info.remoteAddr`) the CPU measure shows the same cost, but the req/s rows do not separate it from the rest.",
      '- **A fetch `Request` on Bun and Deno can be read only until it is answered.** Bun empties its URL and headers, and Deno throws "Request closed", so what a line needs is read on the request\'s path.',
      "- **On Node, `writev` per request grows when work sits between responses.** A Node CPU profile shows this: each response that finds wrk asleep costs a wake-up across cores, so work on the request's path costs more than its own CPU time. That is why node:http lines are now made once the event-loop turn's responses are out.",
      "",
      "The same costs, timed inside the worker (2026-12-02): `performance.now()` around making each line and around handing it to the log's buffer, averaged over 200,000 lines of a hello world under wrk, one process.",
      "The figures include 40–80 ns of clock reads each. A hello world costs the server about 9–10 µs of CPU on Bun and Deno and 12–13 µs on Node, so a ratio of 0.95 leaves about 0.5 µs for the whole line.",
      "",
      "| making the line, per line | Bun | Deno |",
      "| --- | ---: | ---: |",
      "| `%(s)s` alone | 120 ns | 130 ns |",
      "| `%(h)s` alone | 1,130 ns | 305 ns |",
      '| `"%(r)s"` alone | 380 ns | 250 ns |',
      "| `%(b)s` alone (the response's Headers, for content-length) | 220 ns | 350 ns |",
      '| `"%(a)s"` alone | 225 ns | 255 ns |',
      "| Gunicorn's default | 1,770 ns | 1,010 ns |",
      "| handing the default line to the buffer | 430–490 ns (655 before) | 620–1,000 ns (unchanged) |",
      "",
      "On Node the default line takes 1.0–1.8 µs to make and 0.64–0.71 µs to hand over (0.79–0.91 before), off the response's path but on the same core.",
      "",
      "- **Bun's `requestIP()` alone is twice that budget.** It is about 1 µs a call, timed in a bare `Bun.serve` as well, because it asks the kernel each time: strace counts one `getpeername` system call per request (4,659 for 4,659 requests), where Deno and node:http make none. Bun has no cheaper source of the client's address, and no connection object to keep it on.",
      "- **A line is a string of a dozen pieces, and making it one string costs 300–370 ns** on Bun and Deno (measured by reading one character of it, which flattens it), before any byte of it is written.",
      "- **Handing a line over now encodes it into one 64 KB buffer at once.** The lines used to be kept as strings and joined at each flush; that measured 150–220 ns a line more on Node and Bun, and the same on Deno.",
      "- **On Node, nothing of the request is built for the line.** Its headers come from node:http's own parsed headers, and its length from the head node:http wrote. The check for a WebSocket handshake that nothing takes reads the `Upgrade` header the same way; it used to build a `Headers` object for every request, which also loaded undici (58 MB instead of 62 MB for a worker after one request).",
      "- **On Node, a response's `close` listener is added with `on()`, not `once()`.** `once()` wraps it in another function per request: 0.4–1 µs of about 15 µs. CPU per request with Gunicorn's default line (2026-12-07, a fetch app, one worker pinned to a core, 3 alternating rounds): 15.2–15.9 µs with `once()`, 14.4–15.0 µs with `on()`; the same change took `--metrics` from 13.5–13.8 to 12.9–13.6 µs, against 12.1–13.1 µs with neither. node:http emits `close` once per response on Node, Bun and Deno, aborted ones included.",
      "",
      "## Where a streamed response's time goes on Node",
      "",
      "The 64 KB streamed row (16 chunks of 4 KB from a `ReadableStream` the app makes) stays near 0.4–0.5 of a bare `node:http` listener writing the same 16 Buffers.",
      "CPU profiles of both under the same wrk load (2026-12-02, `node --cpu-prof`) show where the difference is. strace counts one `writev` per response for both, so the socket writes are the same.",
      "",
      "| per response | bare node:http | tsgw, fetch app |",
      "| --- | ---: | ---: |",
      "| the `writev` of 64 KB (kernel copy) | 31 µs | 36 µs |",
      "| everything else | 7 µs | 43 µs |",
      "",
      "Of tsgw's 43 µs, Node's web streams code takes about 12 µs, creating the stream and reading its 16 chunks (`readablestream.js`, `makeTransferable`), and garbage collection about 6 µs.",
      "Promise and microtask machinery takes about 14 µs, tsgw's bridge and the app about 7 µs, and node:http about 4 µs.",
      "The web streams algorithm itself is most of it; tsgw reads each chunk as it comes and writes it to the socket, which corks them into that one `writev`.",
      "`@hono/node-server`, reading the same stream, is at 0.32 of bare in the full run.",
      "A fetch app that has the whole body at hand (a string, bytes, a Blob) gets `content-length` and one write, and does not pay this.",
      "",
      "Since the run above, a streamed body no longer waits on a promise for a chunk that went straight into the socket's buffer: one promise and one microtask turn fewer per chunk. The ratio against bare stayed at 0.52 (0.38–0.57) in a `--only` run.",
      "A CPU profile of that run puts 5.7% of the server's time in `makeTransferable`, which Node 20 runs for every `new ReadableStream()` the app makes. That cost is the app's, not tsgw's.",
      "",
      "## Where a JSON echo's time goes on Node",
      "",
      "The JSON echo row (a 100-byte POST, `await request.json()`, `Response.json(data)`) stays near 0.7 of a bare `node:http` listener that parses the body in its `end` handler and answers.",
      "It was measured as the server's CPU time per request (2026-12-07, server and wrk pinned to a core each, alternating rounds of 2–3 s):",
      "",
      "| per request | bare node:http | tsgw, fetch app |",
      "| --- | ---: | ---: |",
      "| hello world | 12.7–13.5 µs | 14.8–14.9 µs |",
      "| POST whose body is read, answered `ok` | 14.7–15.8 µs | 17.9–24.2 µs |",
      "| JSON echo | 18.4–20.5 µs | 25.5–29.3 µs |",
      "",
      "- **Parsing and writing the JSON is the same work in both:** `JSON.parse` and `JSON.stringify` of the document take 1.45–1.5 µs, timed alone, whether the body was decoded by `TextDecoder` or `Buffer.toString`.",
      "- **`--body-timeout` cost a POST 2–3 µs.** It used an immediate per read to see whether each body had come whole; a sweep over the connections now does it, and the cost is 1–1.5 µs. Against `--body-timeout 0` in the same run: 26.2–26.9 against 24.8–25.1 µs.",
      "- **The rest is spread over the fetch API's promises.** A CPU profile (time outside the socket write and idle) puts tsgw at 8.8 µs per request against 4.8 µs bare.",
      "  - A fetch app's request is a promise chain where bare code has none. The body is read whole into a promise, then come the app's `then`, and tsgw's guard and write: six promises and five microtask turns per request.",
      "  - No single function stands out. The largest, `Response.json`'s own work, is 0.9 µs.",
      "- An alternating A/B of this session's start against its end (wrk, 6 rounds): JSON echo 1.02 (1.00–1.03), hello 1.01 (0.94–1.16).",
      "",
      "## The Node fetch rows against @hono/node-server",
      "",
      "`@hono/node-server` serves hello world at 0.98–1.0 of a bare `node:http` listener in the same run. tsgw also serves through node:http, so 1.1× Hono on hello world would mean 1.1× node:http itself, which no adapter on node:http can reach.",
      "On the JSON echo and the 64 KB stream, Hono's Request and stream costs leave that margin, and tsgw has it.",
      "",
      "## Where the fetch rows' time goes on Bun and Deno",
      "",
      "Measured as the server's CPU time per request (2026-12-07, `--no-master`, the server and wrk pinned to a core each, rounds of 3 s, the range of 3–5 rounds).",
      "tsgw's layers between the runtime's server and the app were turned off one at a time, in a build made for the measure:",
      "",
      "| per request | Bun | Deno |",
      "| --- | ---: | ---: |",
      "| hello world: bare `Bun.serve` / `Deno.serve` | 6.4–6.7 µs | 6.0–6.3 µs |",
      "| tsgw, the app called with none of tsgw's checks | 6.5–6.8 µs | 5.9–6.3 µs |",
      "| + the 500 guard | 6.6–7.1 µs | 5.9–6.2 µs |",
      "| + the check for WebSocket handshakes nothing takes | 7.4–7.6 µs | 6.9–7.3 µs |",
      "| + forwarded-allow-ips: tsgw as it ships | 7.4–7.7 µs | 7.4–8.0 µs |",
      "| JSON echo POST: bare | 10.0–11.0 µs | 7.7–8.9 µs |",
      "| JSON echo POST: tsgw with `--forwarded-allow-ips ''` | 10.2–11.2 µs | 8.1–9.2 µs |",
      "| JSON echo POST: tsgw as it ships | 10.5–11.5 µs | 9.2–10.3 µs |",
      "| 64 KB stream: bare | 21.0–22.0 µs | 46.4–48.1 µs |",
      "| 64 KB stream: tsgw | 22.1–24.1 µs | 58.1–61.8 µs |",
      "",
      "- **The first request header tsgw reads is most of the gap: 0.7–0.8 µs on Bun, about 1 µs on Deno.** Both runtimes build the request's whole `Headers` at the first read (Deno fetches every header from its HTTP layer at once). Later reads of the same request cost about 50 ns each.",
      "  - The check for an untaken WebSocket handshake (a `426` instead of the app's `200`, see the README) reads `Upgrade` on every GET. It is documented behaviour and stays.",
      "  - `--forwarded-allow-ips` reads `X-Forwarded-Proto` on every request from a trusted peer (by default this host), so on a POST it is the first read. A server that no proxy on this host talks to can turn it off with `--forwarded-allow-ips ''`.",
      "  - An app that reads any header itself pays this cost anyway, once per request, and shares it with tsgw.",
      "- **Everything else on the path measured nothing**: the guard, the request counter, tsgw's handler around the runtime's own server, and its `Response` on Deno.",
      "- **Deno's stream: 8–12 µs per 16-chunk stream go to making string chunks bytes.** Deno.serve answers an empty `200` for a string chunk, which Bun sends as UTF-8. So tsgw reads each stream an app returns through a second stream that encodes string chunks: with that wrapper turned off, tsgw measured 51.5–57.9 µs.",
      "  - A `TransformStream` in its place cost 22 µs per stream in a loop without a server, against 4.5 µs for the wrapper. A wrapper that reads ahead up to 64 KB measured the same as the one tsgw uses.",
      "  - Deno's own streams (a file's `readable`, a `fetch()` body) hold bytes only, and go to Deno.serve as they are, which sends them from the file or socket without JavaScript per chunk.",
      "    Wrapped, as they were before 2026-12-07, a 1 MB file cost 1,404–1,448 µs of CPU a request; now 683–727 µs. `--static-map` sends files over 64 KB this way.",
      "",
      "## Reloads under load",
      "",
      "Two `tsgw --reload` during one wrk run; every failed or reset request counts.",
      "",
      "| target | requests | reloads | errors | verdict |",
      "| --- | ---: | ---: | ---: | --- |",
      ...reloadRows.map((r) =>
        `| ${r.runtime} | ${r.requests} | ${r.reloads} | ${r.errors}${r.detail ? ` (${r.detail})` : ""} | ${
          r.errors === 0 && r.reloads === 2 ? "PASS" : "FAIL"
        } |`
      ),
      "",
      "## WebSockets",
      "",
      "scripts/ws-load.ts (wrk speaks no WebSocket) against scripts/bench-apps/ws-echo-native.mjs, the runtime's own echo server, run bare and under tsgw",
      "(which adopts the server it starts), and tsgw serving the same echo as crossws hooks; one process each. Throughput: 32-byte messages echoed per second",
      "over 100 connections, one in flight on each. Memory: resident memory that 1,000 idle connections add. Ratios are tsgw / bare, median (min–max) of",
      "alternating rounds; targets: throughput at least 0.95, memory at most 1.1.",
      "",
      "| runtime | candidate | baseline | msg/s bare | msg/s tsgw | throughput ratio | MB per 1,000 bare | MB tsgw | memory ratio | verdict |",
      "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
      ...wsRows.map((r) =>
        `| ${r.runtime} | ${r.name} | ${r.baselineName} | ${r.base.rate.toFixed(0)} | ${r.cand.rate.toFixed(0)} | ${spread(r.rates)} | ${
          r.base.mb.toFixed(1)
        } | ${r.cand.mb.toFixed(1)} | ${spread(r.mems)} | ${wsVerdict(r)} |`
      ),
      "",
      "## Threads",
      "",
      "The threads rows in the table run tsgw as `-w 1 --threads 2` against the runtime's own multi-core servers: two `Bun.serve({ reusePort })` processes, and `deno serve --parallel`.",
      "The Deno row moves more between runs than any difference between the two. On 2026-12-02, three runs gave 0.89, 0.94 and 1.15; on 2026-12-07, 0.87, 0.94 and 0.86.",
      "So it was measured a second way: the servers' CPU time per request, from `/proc/PID/stat`, over all threads of all processes. That was equal within the measure's 1 ms per 1,000 requests.",
      "A bare script doing what `--threads` does (two web Workers, each with `Deno.serve({ reusePort })`) measured the same.",
      "",
      "## Thread memory",
      "",
      "What one more serving thread adds (`-w 1 --threads 3` against `--threads 2`) to the workers' resident memory, against what one more worker process adds (`-w 3` against `-w 2`);",
      "each after a second of load, so every thread has served. Target: a thread costs at most 0.3 of a process.",
      "",
      "| runtime | a thread | a worker process | ratio | verdict |",
      "| --- | ---: | ---: | ---: | --- |",
      ...threadRows,
      "",
      "On Deno, where a thread's memory goes (2026-12-07, resident memory after a second of load, `Deno.memoryUsage()` in the thread):",
      "",
      "- **A bare web Worker serving `Deno.serve({ reusePort })` adds 8.4 MB.** It adds 13.5 MB once it imports `node:fs`, `node:net` and `node:path`: Deno sets up its Node compatibility per isolate.",
      "  tsgw's config, logging and serving code use `node:*` modules, so a tsgw thread cannot cost less than that 13.5 MB. 0.3 of a process is 19 MB.",
      "- **A tsgw thread adds 19–23 MB.** Its isolate's heap is 16.8 MB after load, against 9.4–11 MB bare.",
      "  - The live data after a full GC is 8.0–8.6 MB against 5.3–5.7 MB: tsgw's modules and the app.",
      "  - The rest is V8's young generation, grown under load: 6.5 MB against 3.5 MB in a bare thread (`v8.getHeapSpaceStatistics()`, 2026-12-07).",
      "    V8 doubles the young generation once the bytes that survived its scavenges since the last growth exceed its size. A thread that loads tsgw's modules starts with more of them behind it.",
      "    A bare thread that only imports the same modules, without running them, grows its young generation to 6.5 MB in its first second of load as well. A thread of a larger app would too.",
      "  - So the row moves with it: on 2026-12-07 four runs of it gave 0.35 (0.34–0.40), 0.22 (0.19–0.31), 0.18 (0.16–0.34) and 0.41 (0.20–0.41). Bun's row moves as much: 0.05, 0.34 (0.28–0.48) and 0.22 (-0.04–0.39), where in one round the extra thread measured less than none.",
      "  - With `deno run --v8-flags=--max-semi-space-size=1`, a flag for the whole process, one run measured 16.9 MB a thread. tsgw does not set it: it changes garbage collection for the app too, and was not measured further.",
      "",
      "## Master memory",
      "",
      "The resident memory of a master (`-w 1`, the process the command started) against a bare server of the same runtime serving the same app,",
      "each after a second of load (the master's through its worker). Target: at most 1.0.",
      "",
      "| target | bare server | tsgw master | ratio | verdict |",
      "| --- | ---: | ---: | ---: | --- |",
      ...masterRows,
      "",
      "On Deno, the first `node:*` module a process loads brings Deno's Node compatibility layer (5–8 MB, measured by importing each into an idle process);",
      "a master needs `node:cluster`, `node:net` and `node:fs`, and a bare `Deno.serve` none. `dist/tsgw` holds all its modules in one bytecode image.",
      "",
      "What else a master's memory is (2026-12-07, `/proc/PID/status` after 100 requests):",
      "",
      "- **Most of it is the runtime's own binary, mapped from disk and shared with every other process that runs it.** Deno's master: 37.9 MB of file pages and 18.5 MB of its own, against 37.1 and 17.7 MB for a bare `Deno.serve` after a second of load.",
      "  Bun's master: 36.0 and 8.0 MB, against 35.3 and 4.4 MB bare.",
      "- **Deno's master no longer loads FFI.** Its control socket was a `node:net` unix socket, which Deno lets child processes inherit; marking it close-on-exec took libc's `fcntl` through FFI, and FFI's code is 2–3 MB of file pages.",
      "  The control socket is now Deno's own listener (`Deno.listen`), which is close-on-exec. That took Deno's master from 1.06 to 1.03 of bare.",
      "- **Bun's master holds 2 MB of heap and 6 MB of other memory of its own**: importing the master's modules takes 3.7 MB, starting the worker, its channel and the sockets the rest. A full garbage collection after start freed 0.3 MB.",
      "- **A Bun master no longer loads `node:net` or `node:tty`** (2026-12-07): its control socket, the name it holds while starting and its probe of each port go",
      "  through `Bun.listen`, which is native (0.5 MB against 2.5 MB for a `node:net` server, measured in a bare cluster primary), and `node:tty` is asked for",
      "  only when WINCH comes. After a second of load: 42.9 to 39.1–41.1 MB from source, `dist/tsgw` 45.5–45.8 to 41.3–43.7 MB (bare `Bun.serve` 38.6–41.0 MB).",
      "",
      "## Worker memory",
      "",
      "The resident memory of a worker (`-w 1`) against a bare server of the same runtime, each after a second of load. Target: at most 1.1.",
      "",
      "| runtime | bare server | tsgw worker | ratio | verdict |",
      "| --- | ---: | ---: | ---: | --- |",
      ...workerRows,
      "",
      "What a worker holds that a bare server does not (2026-12-07, a worker started with a part turned off, or the part imported alone into an idle process):",
      "",
      "- **The lifeline thread: 12 MB on Deno, 1.5–2.5 MB on Bun.** A worker watches its master from a thread that a stuck handler cannot block (README, Failure modes), and a web Worker is a whole isolate on Deno: a trivial one costs a Deno process 8–15 MB.",
      "  A process-level watchdog (libc's `alarm()` rearmed at each heartbeat, or `PR_SET_PDEATHSIG`) could replace it on Deno; neither is built.",
      "- **Deno's Node compatibility: about 8 MB.** tsgw's code uses `node:*` modules; a bare `Deno.serve` uses none.",
      "- **FFI on Deno: 3–4 MB of file pages.** A worker marks its channel to the master (fd 3) and its `node:net` listeners close-on-exec through libc's `fcntl`, so that the app's child processes do not hold them.",
      "- **`node:http` on Bun: 5.3 MB** (2.2 MB of its own, 3.1 MB of file pages). A worker imports it before the app, to adopt an app's own `listen()` (see Cold start).",
      "- **tsgw's modules: about 4–5 MB on Bun** (the worker's, the servers' and the config's, imported into an idle process).",
      "- A Bun worker started by `Bun.spawn` instead of `node:cluster` would be lighter; that is issue 14's spawner, which is blocked (see src/runtime/cluster.ts).",
      "",
      "## Cold start",
      "",
      "Exec to the first served response, median; the bare runtime serves the same app. Every server in this run ran without `NODE_EXTRA_CA_CERTS`, which this machine sets (see below).",
      "",
      "| target | bare | tsgw --no-master | ratio (target 1.2) | tsgw with a master, 1 worker | ratio (target 2.2) |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
      ...coldRows,
      "",
      "A master is two runtime starts in a row: its `onStarting` hook runs before any worker exists, so the worker's start cannot overlap the master's.",
      'The "bun, npm bin" row is the package\'s bin on Bun, as `bunx --bun tsgw` runs it: a bundle built for Bun, with the bytecode `bun build --bytecode` writes beside it',
      "(`dist/npm/tsgw.bun.cjs.jsc`; Bun checks it against the file and its own version, and parses the file where it does not match). Parsing was the cost, not transpiling:",
      "the same bundle without bytecode started no faster than the sources (2026-12-07, `--no-master`, 3 alternating rounds of 9 starts: 46–52 ms against 45–51 ms); with it,",
      "38–39 ms against 47–49 ms, and 76–78 ms against 93–103 ms with a master (2 alternating rounds of 9). `tsgw --version` takes 16 ms with it, 23 ms without, 3.7 ms for `bun -e 0`.",
      "`dist/tsgw` carries its modules as bytecode too, and starts faster still (22 ms): a `bun` command also reads the script's folder for its configuration.",
      "",
      "Where a start's time goes (2026-12-07, each part timed alone in a fresh process, median of 10–20):",
      "",
      "- **The runtime itself.** `node -e 0` takes 19–20 ms here, `bun -e 0` 4 ms and `deno eval 0` 15 ms: most of a bare server's start.",
      "- **`NODE_EXTRA_CA_CERTS`.** Node 20 reads and parses that file at every process start (OpenSSL 3 is slow at it: nodejs/node#40524). This machine points it at",
      "  the system's whole bundle, and `node -e 0` takes 54–56 ms with it. A Node master and each of its workers pay it, so tsgw with a master pays it twice",
      "  (105 against 180 ms to a first response here). Bun and Deno do not read it at start. A file of one certificate costs 18 ms (Node then builds its",
      "  whole root store at start). Every server of the benchmark runs without it, bare and tsgw alike; the runs before 2026-12-08, which had it, gave Node 84 ms bare.",
      "- **Node's module loader.** Node 20 spends about 0.45 ms on each ES module (20 files importing each other: 81–84 ms, one file: 72–74 ms).",
      "  A worker of the npm bundle loaded 20 of its chunks. The bundle is now one CommonJS file that bin/tsgw.mjs `require`s.",
      "  `import()` of it would first scan all 0.4 MB for its exports, 30–40 ms. `--no-master` went from 123–125 ms to 110–114 ms.",
      "  Compiling that file took about 11 ms on Node and 7 ms on Bun: the bundle wrapped in a function that is never called.",
      "- **V8's code cache on Node.** bin/tsgw.mjs now runs the bundle from a code cache kept beside it, one for a master and one for its workers, written a second",
      "  into a process's life (so it holds the functions a start compiled). Measured 2026-12-07, exec to a first response, 3 alternating rounds of 9 starts:",
      "  `--no-master` 94–99 ms before, 85–88 ms after (bare 75–76 ms); with a master and a worker 195–215 ms before, 169–179 ms after.",
      "  Node 20 loses `import()` in code compiled from a cache, so tsgw's own `import()` of a module named at run time goes through the bin's (src/dynamic-import.ts).",
      "- **Where Node's start goes.** Timed inside the process (`performance.now()` at each step, 2026-12-07, `--no-master`, without `NODE_EXTRA_CA_CERTS`):",
      "  Node reaches the bin's first line 30–38 ms after exec (its ES module loader included, which the bare server's `.mjs` pays too); the bundle is compiled",
      "  from its code cache 6–7 ms later; the configuration is read in 2–3 ms; the serving modules take 4–8 ms (`node:http` and `node:net` among them, which",
      "  the bare server loads too); the app 4–6 ms, and listening 4 ms. With a master (and the variable set), the master forks its worker 13 ms after its",
      "  first line, and the worker serves 16–21 ms after its own: two Node starts in a row are most of the difference.",
      "- **Modules a worker no longer loads on Node.** `node:https`, which brings `node:tls` and `node:crypto`, cost 3–5 ms: the adoption trap loads it only",
      "  where node:https's `listen()` is its own (Deno). `node:zlib` is now asked for on first need.",
      "- **Deno's Node compatibility.** The first `node:*` module a Deno process imports starts it: 24–34 ms for `node:fs`, `node:path`, `node:os` and `node:buffer`",
      "  together in an idle process. tsgw's code uses them throughout; a bare `Deno.serve` uses none. `node:http` adds 5 ms.",
      "- **Bun's `node:http`.** Importing it takes 12 ms and `node:net` 2–2.5 ms. A worker imports both before loading the app, so that an app's own `listen()`",
      "  is adopted (app/adopt.ts). Bun gives no module hook for its built-in modules (a runtime plugin's `onResolve` is not called for them, and `module()`",
      "  refuses their names), so the trap cannot wait until the app imports node:http.",
      "",
      ...(sizes.length ? [`Binary sizes: ${sizes.join(", ")}.`, ""] : []),
    ].join("\n"),
  );
  console.log(`\nwrote ${relative(process.cwd(), join(OUT, "benchmarks.md"))} and benchmarks.svg`);
}
