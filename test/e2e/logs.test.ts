/**
 * What tsgw tells operators: access logs (Gunicorn's format, HTTP and uwsgi
 * alike, no line lost across reloads, recycles and stops), log files and USR1
 * reopening, the stats server and `tsgw --status`.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { encodeRequest } from "../../src/protocol/uwsgi.ts";
import { ask, oneLine, rawSend, RUNTIMES, runTsgw, startTsgw, tempDir, withTsgw } from "../helpers/tsgw.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const lines = (file: string): string[] => (existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : []);

/** Lines reach the file within a second of the request (the buffer's flush): wait for `n`. */
async function waitForLines(file: string, n: number, ms = 5000): Promise<string[]> {
  for (const start = Date.now(); Date.now() - start < ms; await sleep(50)) if (lines(file).length >= n) break;
  return lines(file);
}

/** Start a daemon (the launching command returns once it serves) and return where it listens. */
async function daemon(rt: (typeof RUNTIMES)[number], dir: string, args: string[]): Promise<{ pidfile: string; port: number; errorLog: string }> {
  const pidfile = join(dir, "app.pid");
  const errorLog = join(dir, "error.log");
  const r = await runTsgw(rt, [...args, "-D", "--pid", pidfile, "--error-log", errorLog], { timeoutMs: 30000 });
  assert.equal(r.code, 0, r.stderr + r.stdout);
  const port = Number(/Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(errorLog, "utf8"))?.[1]);
  return { pidfile, port, errorLog };
}

const statsOver = (path: string, http: boolean): Promise<string> =>
  new Promise((resolve, reject) => {
    if (http) {
      httpRequest({ socketPath: path, path: "/" }, (res) => {
        let body = "";
        res.on("data", (d) => (body += d));
        res.on("end", () => resolve(body));
      })
        .on("error", reject)
        .end();
      return;
    }
    const sock = connect(path);
    let text = "";
    sock.on("data", (d) => (text += d));
    sock.on("end", () => resolve(text));
    sock.on("error", reject);
  });

for (const rt of RUNTIMES) {
  describe(`logs and stats on ${rt}`, () => {
    test("access log: Gunicorn's default format, custom variables, HTTP and uwsgi alike", async () => {
      const dir = tempDir();
      const file = join(dir, "access.log");
      const format = '%(h)s %(m)s %(U)s %(q)s %(H)s %(s)s %(B)s "%({x-test}i)s" "%({x-late}o)s" %(p)s %(D)s';
      const server = await startTsgw(rt, [
        "test/fixtures/fetch",
        "-b",
        "127.0.0.1:0",
        "--socket",
        "127.0.0.1:0",
        "--access-log",
        file,
        "--access-log-format",
        format,
      ], {
        listeners: 2,
      });
      try {
        assert.equal((await ask(server, { path: "/?a=1", headers: { "x-test": "yes" } })).status, 200);
        assert.equal((await ask(server, { path: "/headers-after" })).status, 200);
        const uwsgiPort = Number(/Listening at: uwsgi:\/\/127\.0\.0\.1:(\d+)/.exec(server.logs())![1]);
        const reply = await rawSend(
          uwsgiPort,
          encodeRequest({ REQUEST_METHOD: "GET", REQUEST_URI: "/nowhere?b=2", HTTP_X_TEST: "via-uwsgi", REMOTE_ADDR: "10.1.2.3" }),
        ).reply;
        assert.match(reply, /^HTTP\/1\.1 404/);
        const got = await waitForLines(file, 3);
        assert.equal(got.length, 3, got.join("\n"));
        assert.match(got[0]!, /^127\.0\.0\.1 GET \/ a=1 HTTP\/1\.1 200 \d+ "yes" "-" <\d+> \d+$/);
        assert.match(got[1]!, /^127\.0\.0\.1 GET \/headers-after {2}HTTP\/1\.1 200 \d+ "-" "yes" <\d+> \d+$/);
        assert.match(got[2]!, /^10\.1\.2\.3 GET \/nowhere b=2 HTTP\/1\.1 404 \d+ "via-uwsgi" "-" <\d+> \d+$/);
      } finally {
        await server.stop();
      }
    });

    test("access log for a Node listener app, default format", async () => {
      const file = join(tempDir(), "access.log");
      await withTsgw(rt, ["test/fixtures/express.cjs", "-b", "127.0.0.1:0", "--access-log", file], async (server) => {
        await ask(server, { path: "/?x=1", headers: { "user-agent": "probe/1", referer: "http://r.test/" } });
        const [line] = await waitForLines(file, 1);
        assert.match(line!, /^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/\?x=1 HTTP\/1\.1" 200 \S+ "http:\/\/r\.test\/" "probe\/1"$/);
      });
    });

    test("N requests -> N access lines across max-requests recycling, a reload and a graceful stop", async () => {
      const dir = tempDir();
      const file = join(dir, "access.log");
      const { pidfile, port } = await daemon(rt, dir, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2", "--max-requests", "7", "--access-log", file]);
      const target = { port };
      let sent = 0;
      const burst = async (n: number) => {
        for (let i = 0; i < n; i++, sent++) assert.equal((await ask(target, { path: `/?n=${sent}` })).status, 200);
      };
      await burst(12);
      const reload = await runTsgw(rt, ["--reload", pidfile], { timeoutMs: 60000 });
      assert.equal(reload.code, 0, reload.stderr);
      await burst(12);
      const stop = await runTsgw(rt, ["--stop", pidfile], { timeoutMs: 60000 });
      assert.equal(stop.code, 0, stop.stderr);
      const got = lines(file);
      assert.equal(got.length, sent, `expected ${sent} lines, got ${got.length}`);
      const seen = new Set(got.map((l) => /n=(\d+)/.exec(l)?.[1]));
      assert.equal(seen.size, sent);
    });

    test("USR1 reopens log files: after a rename, new lines go to a new file", async () => {
      const dir = tempDir();
      const file = join(dir, "access.log");
      const { pidfile, port, errorLog } = await daemon(rt, dir, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2", "--access-log", file]);
      try {
        await ask({ port }, { path: "/?before" });
        renameSync(file, `${file}.1`);
        renameSync(errorLog, `${errorLog}.1`);
        process.kill(Number(readFileSync(pidfile, "utf8")), "SIGUSR1");
        for (let i = 0; i < 100 && !existsSync(errorLog); i++) await sleep(50);
        await sleep(300); // the workers reopen after the master
        await ask({ port }, { path: "/?after" });
        const fresh = await waitForLines(file, 1);
        assert.equal(fresh.length, 1);
        assert.match(fresh[0]!, /\?after/);
        const old = lines(`${file}.1`);
        assert.equal(old.length, 1);
        assert.match(old[0]!, /\?before/);
        assert.match(readFileSync(`${errorLog}.1`, "utf8"), /Listening at:/);
        assert.match(readFileSync(errorLog, "utf8"), /Reopened log files/);
      } finally {
        await runTsgw(rt, ["--stop", pidfile], { timeoutMs: 60000 });
      }
    });

    test("--stats serves the master's JSON (plain and over HTTP); tsgw --status prints it as a table or JSON", async () => {
      const dir = tempDir();
      const stats = join(dir, "stats.sock");
      const { pidfile, port } = await daemon(rt, dir, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2", "--stats", stats]);
      try {
        for (let i = 0; i < 4; i++) await ask({ port });
        const slow = ask({ port }, { path: "/slow?ms=2500" });
        await sleep(1500); // a heartbeat (every second) carries the counts
        const doc = JSON.parse(await statsOver(stats, false));
        assert.equal(doc.pid, Number(readFileSync(pidfile, "utf8")));
        assert.equal(doc.generation, 1);
        assert.deepEqual(doc.listeners, [`http://127.0.0.1:${port}`]);
        assert.equal(doc.workers.length, 2);
        assert.deepEqual(doc.workers.map((w: { slot: number }) => w.slot), [1, 2]);
        assert.equal(doc.workers.reduce((n: number, w: { requests: number }) => n + w.requests, 0), 5);
        assert.equal(doc.workers.reduce((n: number, w: { inFlight: number }) => n + w.inFlight, 0), 1);
        assert.ok(doc.workers.some((w: { status: string }) => w.status === "busy"));
        for (const w of doc.workers) {
          assert.ok(w.rss > 0 && w.lastBeat < 5 && w.respawns === 0 && w.state === "ready", JSON.stringify(w));
        }
        const overHttp = JSON.parse(await statsOver(stats, true));
        assert.equal(overHttp.pid, doc.pid);
        await slow;
        const table = await runTsgw(rt, ["--status", pidfile]);
        assert.equal(table.code, 0, table.stderr);
        assert.match(table.stdout, new RegExp(`master pid ${doc.pid}, up \\d+s, generation 1`));
        assert.match(table.stdout, /^slot\s+pid\s+gen\s+state\s+status\s+requests\s+in-flight\s+websockets\s+rss\s+last beat\s+respawns\s+up$/m);
        assert.equal(table.stdout.split("\n").filter((l) => /^[12]\s+\d+\s+1\s+ready/.test(l)).length, 2);
        const json = await runTsgw(rt, ["--status", pidfile, "--json"]);
        assert.equal(JSON.parse(json.stdout).pid, doc.pid);
      } finally {
        await runTsgw(rt, ["--stop", pidfile], { timeoutMs: 60000 });
      }
      assert.equal(existsSync(stats), false, "the stats socket is removed on exit");
    });

    test("bad log settings: one line each", async () => {
      const format = await runTsgw(rt, ["test/fixtures/fetch", "--access-log", "-", "--access-log-format", "%(h)s %(zz)s"]);
      assert.equal(format.code, 1);
      assert.match(oneLine(format.stderr), /access-log-format.*unknown access log variable %\(zz\)s/);
      const errorLog = await runTsgw(rt, ["test/fixtures/fetch", "--error-log", "/nonexistent/dir/e.log"]);
      assert.equal(errorLog.code, 1);
      assert.match(oneLine(errorLog.stderr), /cannot open log file \/nonexistent\/dir\/e\.log/);
      const stats = await runTsgw(rt, ["test/fixtures/fetch", "--no-master", "--stats", "9191"]);
      assert.notEqual(stats.code, 0);
      assert.match(oneLine(stats.stderr), /stats.*master/);
    });
  });
}
