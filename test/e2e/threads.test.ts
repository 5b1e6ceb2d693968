/** Serving threads (--threads) on every runtime: where a runtime has them, and the one-line refusal where not (README, Threads). */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ask, commandFor, engineOf, freePort, oneLine, ROOT, RUNTIMES, runTsgw, startTsgw, waitForLog } from "../helpers/tsgw.ts";
import { until } from "../helpers/master.ts";

const APP = "test/fixtures/fetch";
const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern, "g"))?.length ?? 0;

/** Fresh connections until `n` copies of the app answered (SO_REUSEPORT spreads connections by their ports). */
async function instances(server: Parameters<typeof ask>[0], n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 300 && seen.size < n; i++) seen.add((await ask(server, { path: "/instance" })).text);
  return seen;
}

for (const rt of RUNTIMES) {
  describe(`threads on ${rt}`, () => {
    if (engineOf(rt) === "node") {
      test("--threads is refused in one line naming the reason", async () => {
        const r = await runTsgw(rt, [APP, "-b", "127.0.0.1:0", "--threads", "2"]);
        assert.notEqual(r.code, 0);
        assert.match(oneLine(r.stderr), /^--threads is not available on Node: .*SO_REUSEPORT.*use --workers, or run tsgw on bun or deno$/);
      });
      return;
    }

    if (rt === "deno") {
      test("deno without --unstable-net: --threads is refused in one line naming the flag; -w 2 shares its port through node:http, with a warning", async () => {
        // the project's deno.json turns the flag on for everything run in this tree: the same config without it
        const dir = mkdtempSync(join(tmpdir(), "tsgw-test-deno-"));
        const config = JSON.parse(readFileSync(join(ROOT, "deno.json"), "utf8")) as Record<string, unknown>;
        delete config.unstable;
        writeFileSync(join(dir, "deno.json"), JSON.stringify(config));
        const plainDeno = commandFor("deno").filter((a) => a !== "--unstable-net");
        plainDeno.splice(plainDeno.length - 1, 0, "--config", join(dir, "deno.json"));
        const r = await runTsgw(plainDeno, [APP, "-b", "127.0.0.1:0", "--threads", "2"]);
        assert.notEqual(r.code, 0);
        assert.match(oneLine(r.stderr), /^--threads needs deno's --unstable-net \(threads share a port with SO_REUSEPORT/);
        const server = await startTsgw(plainDeno, [APP, "-b", "127.0.0.1:0", "-w", "2"]);
        try {
          await waitForLog(server, /Deno\.serve needs --unstable-net to share a port between workers; serving through node:http/);
          assert.equal((await ask(server, { path: "/" })).status, 200);
        } finally {
          await server.stop();
          rmSync(dir, { recursive: true, force: true });
        }
      });
    }

    test("-w 1 --threads 2: two copies of the app in one worker serve each port; TERM lets a request in flight finish", async () => {
      const server = await startTsgw(rt, [APP, "-b", "127.0.0.1:0", "-s", "127.0.0.1:0", "-w", "1", "--threads", "2"], { listeners: 2 });
      assert.match(server.logs(), /Listening at: uwsgi:\/\/127\.0\.0\.1:\d+ \(/);
      const seen = await instances(server, 2);
      assert.equal(seen.size, 2, `two threads answered: ${[...seen].join(", ")}`);
      assert.equal(new Set([...seen].map((s) => s.split(":")[0])).size, 1, "in one process");
      const slow = ask(server, { path: "/slow?ms=800" });
      await new Promise((r) => setTimeout(r, 200));
      const code = await server.stop();
      assert.equal((await slow).status, 200);
      assert.equal(code, 0);
    });

    test("--max-requests recycles a thread, not the worker, and its requests stay counted", async () => {
      const metricsPort = await freePort();
      const server = await startTsgw(rt, [APP, "-b", "127.0.0.1:0", "-w", "1", "--threads", "2", "--max-requests", "5", "--metrics", String(metricsPort)]);
      try {
        for (let i = 0; i < 30; i++) assert.equal((await ask(server, { path: "/pid" })).status, 200);
        await waitForLog(server, /thread \d+ of worker 1: served 5 requests \(max-requests\); replacing it/);
        await until(server, (s) => s.workers.length === 1 && s.workers[0]!.requests >= 30 && s.workers[0]!.threads === 2, "30 requests counted, 2 threads");
        assert.equal(count(server.logs(), /Booting worker/), 1);
        const metrics = (await ask({ port: metricsPort }, { path: "/metrics" })).text;
        assert.match(metrics, /^tsgw_thread_restarts_total\{cause="max-requests"\} [1-9]\d*$/m);
        assert.doesNotMatch(metrics, /^tsgw_worker_restarts_total\{/m);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    test("HUP: the new generation's threads take the port over from the old ones", async () => {
      const server = await startTsgw(rt, [APP, "-b", "127.0.0.1:0", "-w", "1", "--threads", "2"]);
      try {
        const before = (await ask(server, { path: "/pid" })).text;
        server.child.kill("SIGHUP");
        const after = await until(server, (s) => s.reloads === 1 && s.workers.length === 1 && s.workers[0]!.generation === 2, "the reload");
        assert.notEqual(String(after.workers[0]!.pid), before);
        assert.equal((await instances(server, 2)).size, 2, "both new threads serve");
        assert.equal((await ask(server, { path: "/pid" })).text, String(after.workers[0]!.pid));
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    test("a thread stuck in a loop past --timeout is ended; the worker serves on", async () => {
      const server = await startTsgw(rt, [APP, "-b", "127.0.0.1:0", "-w", "1", "--threads", "2", "--timeout", "2"]);
      try {
        ask(server, { path: "/hang" }).catch(() => {}); // its connection ends with the thread
        await waitForLog(server, /THREAD TIMEOUT/, 10000);
        if (engineOf(rt) === "deno") {
          // Deno cannot stop a thread stuck in a loop: the worker is replaced, its other thread finishing first
          await waitForLog(server, /cannot stop a thread stuck in a loop, so the worker is replaced/);
          await until(server, (s) => s.workers.length === 1 && s.workers[0]!.state === "ready" && s.workers[0]!.id === 2, "a replacement worker", 20000);
        } else {
          await waitForLog(server, /THREAD TIMEOUT: no heartbeat for 2s; terminated; replacing it/);
          assert.equal(count(server.logs(), /Booting worker/), 1, "the worker stays");
        }
        assert.equal((await instances(server, 2)).size, 2, "two threads serve again");
      } finally {
        await server.stop();
      }
    });

    test("an app that throws as its threads load it: the master exits with the app's error in one line", async () => {
      const r = await runTsgw(rt, ["test/fixtures/throws", "-b", "127.0.0.1:0", "-w", "2", "--threads", "2"]);
      assert.equal(r.code, 4);
      assert.match(oneLine(r.stderr), /app module .*test\/fixtures\/throws\.ts failed to load: database unreachable at import$/);
    });

    test("--threads with a unix socket is refused in one line", async () => {
      const r = await runTsgw(rt, [APP, "-b", "unix:/tmp/tsgw-threads.sock", "--threads", "2"]);
      assert.notEqual(r.code, 0);
      assert.match(oneLine(r.stderr), /^--threads shares each port .* SO_REUSEPORT, which a unix socket \(unix:\/tmp\/tsgw-threads\.sock\) cannot be/);
    });
  });
}
