/**
 * What the engines around tsgw read of it: Prometheus metrics summed over
 * the workers and across a reload (scraped by a real Prometheus, Debian's),
 * statsd lines over UDP, systemd's notify protocol as systemd reads it.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  ask,
  BINARY,
  commandFor,
  engineOf,
  freePort,
  oneLine,
  rawSend,
  ROOT,
  RUNTIMES,
  runTsgw,
  systemTool,
  tempDir,
  waitForLog,
  withTsgw,
} from "../helpers/tsgw.ts";

const { path: PROMETHEUS, skip: PROMETHEUS_SKIP } = systemTool(["/usr/bin/prometheus", "/usr/local/bin/prometheus"], "prometheus", "Prometheus scrape");

const { skip: NOTIFY_SKIP } = systemTool(["/usr/bin/systemd-notify", "/bin/systemd-notify"], "systemd", "notify tests");

/** A notify socket as systemd holds one (a unix datagram socket, a path or @abstract), each message kept as it came. */
function notifySocket(name: string): { env: string; messages: string[]; stop(): void } {
  // node:dgram has no unix sockets: Debian's python3 listens, one JSON line per datagram
  const script = [
    "import socket, sys, json",
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
    "a = sys.argv[1]",
    "s.bind('\\0' + a[1:] if a.startswith('@') else a)",
    "print('bound', flush=True)",
    "while True:",
    "    print(json.dumps(s.recv(65536).decode()), flush=True)",
  ].join("\n");
  const child = spawn("/usr/bin/python3", ["-c", script, name], { stdio: ["ignore", "pipe", "inherit"] });
  const messages: string[] = [];
  let buffered = "";
  child.stdout.on("data", (d) => {
    buffered += d;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) if (line !== "bound") messages.push(JSON.parse(line) as string);
  });
  return { env: name, messages, stop: () => void child.kill() };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** the samples of a Prometheus text exposition, "name{labels}" -> value */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return samples(await res.text());
}

/** Poll until `check` passes (the master's figures come with the workers' heartbeats, one a second). */
async function eventually<T>(what: () => Promise<T>, check: (v: T) => boolean, ms = 10_000): Promise<T> {
  let last: T;
  for (const start = Date.now();; await sleep(200)) {
    last = await what();
    if (check(last) || Date.now() - start > ms) return last;
  }
}

/** A real Prometheus scraping `target` every second; resolves with its query API's port and a stop. */
async function prometheus(target: number): Promise<{ query(q: string): Promise<number | undefined>; stop(): Promise<void> }> {
  const dir = tempDir();
  const port = await freePort();
  writeFileSync(
    join(dir, "prometheus.yml"),
    `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: tsgw\n    static_configs: [{ targets: ["127.0.0.1:${target}"] }]\n`,
  );
  const child = spawn(PROMETHEUS!, [
    `--config.file=${join(dir, "prometheus.yml")}`,
    `--storage.tsdb.path=${join(dir, "data")}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ], { stdio: "ignore" });
  return {
    async query(q) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = (await res.json()) as { data?: { result?: { value: [number, string] }[] } };
        const v = body.data?.result?.[0]?.value[1];
        return v === undefined ? undefined : Number(v);
      } catch {
        return undefined; // not listening yet
      }
    },
    async stop() {
      child.kill("SIGTERM");
      if (child.exitCode === null) await new Promise((r) => child.once("exit", r));
    },
  };
}

const { path: ANALYZE, skip: ANALYZE_SKIP } = systemTool(["/usr/bin/systemd-analyze", "/bin/systemd-analyze"], "systemd", "unit file check");
const { path: ACTIVATE, skip: ACTIVATE_SKIP } = systemTool(
  ["/usr/bin/systemd-socket-activate", "/bin/systemd-socket-activate"],
  "systemd",
  "socket activation tests",
);

/** GET / until it answers (systemd-socket-activate starts tsgw on the first connection, which waits in the backlog meanwhile) */
async function served(port: number, ms = 20_000): Promise<string> {
  for (const start = Date.now();; await sleep(100)) {
    try {
      return await (await fetch(`http://127.0.0.1:${port}/`)).text();
    } catch (err) {
      if (Date.now() - start > ms) throw err;
    }
  }
}

test("docs/systemd.md's tsgw.service and tsgw.socket pass systemd-analyze verify", {
  skip: ANALYZE_SKIP,
}, () => {
  const doc = readFileSync(join(ROOT, "docs", "systemd.md"), "utf8");
  const [service, socket] = [...doc.matchAll(/```ini\n(?:# tsgw\.socket\n)?(\[Unit\][^]*?)```/g)].map((m) => m[1]!);
  assert.ok(service && socket, "two unit files in docs/systemd.md");
  const dir = tempDir();
  // the unit names /usr/local/bin/tsgw; here it is the binary the build made
  writeFileSync(join(dir, "tsgw.service"), service.replace("/usr/local/bin/tsgw", existsSync(BINARY) ? BINARY : process.execPath));
  writeFileSync(join(dir, "tsgw.socket"), socket);
  const r = spawnSync(ANALYZE!, ["verify", join(dir, "tsgw.socket"), join(dir, "tsgw.service")], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /tsgw\.(service|socket)/, r.stderr);
});

for (const rt of RUNTIMES) {
  // (three at a time, as the TLS tests, for the same reason)
  describe(`operations on ${rt}`, { concurrency: 3 }, () => {
    test("--metrics: every worker's requests summed, across a reload, with restarts by cause; a real Prometheus scrapes them", async () => {
      const metrics = await freePort();
      await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2", "--metrics", String(metrics)], async (server) => {
        for (let i = 0; i < 20; i++) assert.equal((await ask(server, { path: "/" })).status, 200);
        for (let i = 0; i < 5; i++) assert.equal((await ask(server, { path: "/missing", method: "POST", body: "x" })).status, 404);
        server.child.kill("SIGHUP");
        await waitForLog(server, /Reloaded: generation 2 serves/, 20_000);
        await waitForLog(server, /Worker exiting[^]*Worker exiting/, 20_000);
        for (let i = 0; i < 10; i++) assert.equal((await ask(server, { path: "/" })).status, 200);
        const seen = await eventually(() => scrape(metrics), (m) => m.get('tsgw_requests_total{method="GET",status="2xx"}') === 30);
        assert.equal(seen.get('tsgw_requests_total{method="GET",status="2xx"}'), 30);
        assert.equal(seen.get('tsgw_requests_total{method="POST",status="4xx"}'), 5);
        assert.equal(seen.get('tsgw_request_duration_seconds_bucket{le="+Inf"}'), 35);
        assert.equal(seen.get("tsgw_request_duration_seconds_count"), 35);
        assert.equal(seen.get('tsgw_worker_restarts_total{cause="reload"}'), 2);
        assert.equal(seen.get("tsgw_reloads_total"), 1);
        assert.equal(seen.get("tsgw_generation"), 2);
        assert.equal(seen.get("tsgw_workers"), 2);
        assert.equal(seen.get("tsgw_requests_in_flight"), 0);
        // bytes as content-length says, where node:http serves (README, Metrics)
        assert.ok((seen.get("tsgw_response_bytes_total") ?? -1) >= (engineOf(rt) === "node" ? 30 * "hello world".length : 0));
        assert.ok((seen.get('tsgw_worker_resident_memory_bytes{slot="1",generation="2"}') ?? 0) > 1e6);
        if (PROMETHEUS_SKIP) return;
        const prom = await prometheus(metrics);
        try {
          const total = await eventually(() => prom.query("sum(tsgw_requests_total)"), (v) => v === 35, 20_000);
          assert.equal(total, 35, "Prometheus's view of tsgw_requests_total");
          assert.equal(await prom.query('tsgw_worker_restarts_total{cause="reload"}'), 2);
        } finally {
          await prom.stop();
        }
      });
    });

    test("--metrics: open connections where the workers' servers show them (node:http on every runtime); no figure where they do not (Bun.serve, Deno.serve)", async () => {
      const metrics = await freePort();
      await withTsgw(rt, ["test/fixtures/node-plain.mjs", "-b", "127.0.0.1:0", "-w", "2", "--metrics", String(metrics)], async (server) => {
        // three keep-alive connections, each with a request answered, left open
        const held = await Promise.all([1, 2, 3].map(() => rawSend(server.port, "GET / HTTP/1.1\r\nhost: x\r\n\r\n")));
        const open = await eventually(() => scrape(metrics), (m) => m.get("tsgw_connections_open") === 3);
        assert.equal(open.get("tsgw_connections_open"), 3);
        for (const h of held) h.sock.destroy();
        const closed = await eventually(() => scrape(metrics), (m) => m.get("tsgw_connections_open") === 0);
        assert.equal(closed.get("tsgw_connections_open"), 0);
      });
      const native = engineOf(rt) !== "node";
      await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--metrics", String(metrics)], async (server) => {
        await ask(server);
        const seen = await eventually(() => scrape(metrics), (m) => m.has('tsgw_requests_total{method="GET",status="2xx"}'));
        assert.equal(seen.has("tsgw_connections_open"), !native, "fetch apps on Bun.serve and Deno.serve report no connection count");
      });
    });

    test("--statsd-host: counters and gauges over UDP, under --statsd-prefix", async () => {
      const udp = createSocket("udp4");
      const lines: string[] = [];
      udp.on("message", (m) => lines.push(...String(m).split("\n")));
      await new Promise<void>((r) => udp.bind(0, "127.0.0.1", r));
      const { port } = udp.address();
      try {
        const args = ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2", "--statsd-host", `127.0.0.1:${port}`, "--statsd-prefix", "shop"];
        await withTsgw(rt, args, async (server) => {
          for (let i = 0; i < 7; i++) await ask(server, { path: "/" });
          const counted = () => lines.filter((l) => l.startsWith("shop.requests:")).reduce((n, l) => n + Number(/:(\d+)\|c/.exec(l)![1]), 0);
          await eventually(async () => counted(), (n) => n === 7);
          assert.equal(counted(), 7);
          assert.ok(lines.some((l) => /^shop\.request\.status\.2xx:\d+\|c$/.test(l)), lines.join("\n"));
          assert.ok(lines.includes("shop.workers:2|g"), lines.join("\n"));
        });
      } finally {
        udp.close();
      }
    });

    for (const kind of ["path", "abstract"] as const) {
      test(`Type=notify (${kind} socket): READY=1 with MAINPID once the workers serve, RELOADING=1 and READY=1 around a HUP, WATCHDOG=1, STOPPING=1`, {
        skip: NOTIFY_SKIP,
      }, async () => {
        const sock = notifySocket(kind === "path" ? join(tempDir(), "notify.sock") : `@tsgw-test-${process.pid}-${rt}`);
        await sleep(300); // bound
        try {
          const env = { NOTIFY_SOCKET: sock.env, WATCHDOG_USEC: "1000000" };
          let pid = 0;
          await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2"], async (server) => {
            pid = server.child.pid!;
            const ready = await eventually(async () => sock.messages.find((m) => m.includes("READY=1")), Boolean);
            assert.ok(ready, sock.messages.join(" | "));
            assert.match(ready, new RegExp(`MAINPID=${pid}`));
            assert.match(ready, /STATUS=2 workers, generation 1, \d+ requests/);
            await eventually(async () => sock.messages.some((m) => m.includes("WATCHDOG=1")), Boolean);
            assert.ok(sock.messages.some((m) => m.includes("WATCHDOG=1")), sock.messages.join(" | "));
            await ask(server, { path: "/" });
            server.child.kill("SIGHUP");
            await waitForLog(server, /Reloaded: generation 2 serves/, 20_000);
            const after = await eventually(async () => sock.messages.findLastIndex((m) => /READY=1/.test(m) && /generation 2/.test(m)), (i) => i >= 0);
            const reloading = sock.messages.findIndex((m) => m.includes("RELOADING=1"));
            assert.ok(reloading >= 0 && reloading < after, sock.messages.join(" | "));
            assert.match(sock.messages[reloading]!, /MONOTONIC_USEC=\d+/);
          }, { env });
          const stopping = await eventually(async () => sock.messages.find((m) => m.includes("STOPPING=1")), Boolean);
          assert.ok(stopping, sock.messages.join(" | "));
          assert.match(stopping, new RegExp(`MAINPID=${pid}`));
        } finally {
          sock.stop();
        }
      });
    }

    test("--watch: a changed file reloads the workers; a broken one keeps the old ones serving; node_modules, dot files and --watch-ignore globs do not count", async () => {
      const dir = tempDir();
      const app = (text: string) => writeFileSync(join(dir, "app.mjs"), `export default () => new Response(${JSON.stringify(text)});\n`);
      app("v1");
      mkdirSync(join(dir, "node_modules"));
      await withTsgw(rt, ["app.mjs", "-b", "127.0.0.1:0", "-w", "2", "--watch", "--watch-ignore", "*.log"], async (server) => {
        const body = async () => (await ask(server, { path: "/" })).text;
        assert.equal(await body(), "v1");
        app("v2");
        await waitForLog(server, /Watched file changed: app\.mjs; reloading[^]*Reloaded: generation 2 serves/, 20_000);
        assert.equal(await body(), "v2");
        writeFileSync(join(dir, "app.mjs"), "export default (\n");
        await waitForLog(server, /reload failed, the old workers keep serving: .*app\.mjs/, 20_000);
        assert.equal(await body(), "v2");
        // none of these reload
        writeFileSync(join(dir, "node_modules", "dep.js"), "x");
        writeFileSync(join(dir, ".app.mjs.swp"), "x");
        writeFileSync(join(dir, "debug.log"), "x");
        await sleep(1000);
        assert.equal(server.logs().match(/Watched file changed/g)?.length, 2, server.logs());
        app("v3");
        await waitForLog(server, /Reloaded: generation 3 serves/, 20_000);
        assert.equal(await body(), "v3");
      }, { cwd: dir });
    });

    test("socket activation: systemd's sockets (LISTEN_FDS, fd://N) served by every worker and across a reload; Bun refuses in one line", {
      skip: ACTIVATE_SKIP,
    }, async () => {
      const [web, named] = [await freePort(), await freePort()];
      // two sockets: the first taken as HTTP by default, the second named by -b fd://4
      const cmd = [
        ACTIVATE!,
        "-l",
        `127.0.0.1:${web}`,
        "-l",
        `127.0.0.1:${named}`,
        "--fdname=web:api",
        ...commandFor(rt),
        "test/fixtures/fetch",
        "-w",
        "2",
        "-b",
        "fd://4",
      ];
      const child = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", TSGW_CMD_ARGS: "" }, stdio: ["ignore", "pipe", "pipe"] });
      let logs = "";
      child.stdout.on("data", (d) => (logs += d));
      child.stderr.on("data", (d) => (logs += d));
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      try {
        if (engineOf(rt) === "bun") {
          // a connection starts it (once systemd-socket-activate listens)
          while (child.exitCode === null) await Promise.race([fetch(`http://127.0.0.1:${web}/`).catch(() => {}), sleep(300)]);
          assert.equal(await exited, 1);
          assert.match(logs, /tsgw: error: Bun's servers cannot serve an inherited socket \(fd:\/\/, systemd's LISTEN_FDS\): run tsgw on node or deno/);
          return;
        }
        assert.equal(await served(web), "hello world");
        assert.equal(await served(named), "hello world");
        await waitForLog({ logs: () => logs }, /Listening at: fd:\/\/4[^]*Listening at: fd:\/\/3/, 20_000);
        child.kill("SIGHUP");
        await waitForLog({ logs: () => logs }, /Reloaded: generation 2 serves/, 20_000);
        const pids = new Set<string>();
        for (let i = 0; i < 20; i++) pids.add(JSON.parse(await (await fetch(`http://127.0.0.1:${web}/info`)).text()).pid);
        assert.ok(pids.size >= 1);
        assert.equal(await served(named), "hello world");
      } finally {
        child.kill("SIGTERM");
        await exited;
      }
    });

    test("bad metrics values: one line, exit 1", async () => {
      const cases: [string[], RegExp][] = [
        [["-b", "fd://3"], /fd:\/\/3 is not a socket systemd passed \(it passed none: LISTEN_FDS is not set for this process\)/],
        [["-b", "fd://1"], /an inherited socket is fd:\/\/N, N from 3/],
        [["--metrics", "127.0.0.1:99999"], /metrics: .*invalid port/],
        [["--statsd-host", "127.0.0.1:99999"], /statsd-host: "127\.0\.0\.1:99999" is not HOST:PORT/],
        [["--metrics", "9100", "--no-master"], /metrics needs the master process/],
      ];
      for (const [args, expected] of cases) {
        const r = await runTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", ...args]);
        assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
        assert.match(oneLine(r.stderr), expected);
      }
    });
  });
}
