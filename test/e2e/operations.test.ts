/**
 * What the engines around tsgw read of it: Prometheus metrics summed over
 * the workers and across a reload (scraped by a real Prometheus, Debian's),
 * statsd lines over UDP.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ask, engineOf, freePort, oneLine, RUNTIMES, runTsgw, tempDir, waitForLog, withTsgw } from "../helpers/tsgw.ts";

const PROMETHEUS = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].find((p) => existsSync(p));
const PROMETHEUS_SKIP = PROMETHEUS ? undefined : "prometheus is not installed (apt-get install -y prometheus; .ci/run installs it)";
if (PROMETHEUS_SKIP) console.log(`# Prometheus scrape skipped: ${PROMETHEUS_SKIP}`);

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

for (const rt of RUNTIMES) {
  describe(`operations on ${rt}`, { concurrency: true }, () => {
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
        // bytes as content-length says: Bun.serve and Deno.serve add it to a fetch app's response only as they send it (README, Metrics)
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

    test("bad metrics values: one line, exit 1", async () => {
      const cases: [string[], RegExp][] = [
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
