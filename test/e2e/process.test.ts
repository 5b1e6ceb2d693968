/** The process model on every runtime, with real signals and real requests (README, Master and workers). */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ask, commandFor, engineOf, FIXTURES, oneLine, RUNTIMES, runTsgw, startTsgw, tempDir, waitForLog, withTsgw, workerPids } from "../helpers/tsgw.ts";
import { loadLoop, ready, reloadLossReason, until } from "../helpers/master.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const rt of RUNTIMES) {
  describe(`process model on ${rt}`, () => {
    test("process titles: tsgw: master [NAME] and tsgw: worker [NAME] (Gunicorn's), the app spec or --name; Bun keeps its command line", async () => {
      const title = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ").trim();
      await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--name", "shop"], async (server) => {
        const master = server.child.pid!;
        if (engineOf(rt) === "bun") {
          assert.doesNotMatch(title(master), /tsgw: master/);
          return;
        }
        assert.match(title(master), /^tsgw: master \[shop\]/);
        assert.match(title(workerPids(server)[0]!), /^tsgw: worker \[shop\]/);
      });
      if (engineOf(rt) === "bun") return;
      await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--no-master"], async (server) => {
        assert.match(title(server.child.pid!), /^tsgw: worker \[test\/fixtures\/fetch\]/);
      });
    });

    test("-w 2 runs two workers that both serve, and TTIN/TTOU change the count", async () => {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2"]);
      try {
        const s = await until(server, (st) => ready(st).length === 2, "two ready workers");
        const seen = new Set<string>();
        for (let i = 0; i < 200 && seen.size < 2; i++) seen.add((await ask(server, { path: "/pid" })).text);
        assert.deepEqual([...seen].sort(), s.workers.map((w) => String(w.pid)).sort());
        server.child.kill("SIGTTIN");
        await until(server, (st) => ready(st).length === 3, "three workers after TTIN");
        server.child.kill("SIGTTOU");
        await until(server, (st) => st.workers.length === 2, "two workers after TTOU");
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });

    test("a worker killed with -9 under load is replaced; the master survives", async () => {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2"]);
      try {
        const before = await until(server, (st) => ready(st).length === 2, "two ready workers");
        const load = loadLoop(server, 4);
        await sleep(300);
        const victim = before.workers[0]!.pid;
        process.kill(victim, "SIGKILL");
        const after = await until(server, (st) => ready(st).length === 2 && !st.workers.some((w) => w.pid === victim), "a replacement worker");
        await sleep(300);
        const result = await load.stop();
        assert.ok(result.ok > 0);
        assert.equal(after.pid, before.pid);
        assert.match(server.logs(), new RegExp(`Worker \\(pid:${victim}\\) exited unexpectedly with signal SIGKILL`));
        assert.equal((await ask(server, { path: "/pid" })).status, 200);
      } finally {
        await server.stop();
      }
    });

    test("HUP twice under load: zero failed requests, both generations answered", { todo: reloadLossReason(rt) }, async () => {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2"]);
      try {
        const first = await until(server, (st) => ready(st).length === 2, "two ready workers");
        const load = loadLoop(server, 4);
        await sleep(400);
        server.child.kill("SIGHUP");
        await until(server, (st) => st.reloads === 1 && st.workers.every((w) => w.generation === 2), "the first reload", 30000);
        await sleep(400);
        server.child.kill("SIGHUP");
        const last = await until(server, (st) => st.reloads === 2 && st.workers.every((w) => w.generation === 3), "the second reload", 30000);
        await sleep(400);
        const result = await load.stop();
        assert.deepEqual(result.failed, []);
        assert.ok(first.workers.some((w) => result.pids.has(String(w.pid))), "the first generation answered");
        assert.ok(last.workers.some((w) => result.pids.has(String(w.pid))), "the last generation answered");
        assert.equal(last.lastReload?.ok, true);
      } finally {
        await server.stop();
      }
    });

    test("a reload whose app fails to load keeps the old workers serving; --reload says why", async () => {
      const dir = tempDir();
      const app = join(dir, "app.ts");
      const pidfile = join(dir, "app.pid");
      writeFileSync(app, `export default () => new Response("v1 " + process.pid);\n`);
      const server = await startTsgw(rt, [app, "-b", "127.0.0.1:0", "--pid", pidfile]);
      try {
        assert.match((await ask(server)).text, /^v1 /);
        writeFileSync(app, `throw new Error("v2 is broken");\nexport default () => new Response("v2");\n`);
        const r = await runTsgw(rt, ["--reload", pidfile]);
        assert.equal(r.code, 1);
        assert.match(oneLine(r.stderr), /reload of tsgw \d+ failed, the old workers keep serving: .*v2 is broken/);
        assert.match((await ask(server)).text, /^v1 /);
        writeFileSync(app, `export default () => new Response("v3 " + process.pid);\n`);
        const ok = await runTsgw(rt, ["--reload", pidfile]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.match(ok.stdout, /reloaded: generation \d+ serves/);
        assert.match((await ask(server)).text, /^v3 /);
      } finally {
        await server.stop();
      }
    });

    test("TERM lets an in-flight request finish, removes the pidfile, exits 0", async () => {
      const dir = tempDir();
      const pidfile = join(dir, "app.pid");
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--pid", pidfile]);
      assert.equal(readFileSync(pidfile, "utf8").trim(), String(server.child.pid));
      const slow = ask(server, { path: "/slow?ms=1500" });
      await sleep(400);
      const code = server.stop("SIGTERM");
      const r = await slow;
      assert.equal(r.status, 200);
      assert.match(r.text, /^slow done/);
      assert.equal(await code, 0);
      assert.equal(existsSync(pidfile), false);
    });

    test("INT stops at once", async () => {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2"]);
      const started = Date.now();
      assert.equal(await server.stop("SIGINT"), 0);
      assert.ok(Date.now() - started < 5000);
    });

    test("a worker stuck in a loop is killed after --timeout and replaced", async () => {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2", "--timeout", "2"]);
      try {
        const before = await until(server, (st) => ready(st).length === 2, "two ready workers");
        ask(server, { path: "/hang" }).catch(() => {});
        await waitForLog(server, /WORKER TIMEOUT \(pid:\d+\)/, 15000);
        await until(server, (st) => ready(st).length === 2 && st.workers.some((w) => !before.workers.some((b) => b.pid === w.pid)), "a replacement");
        assert.equal((await ask(server)).status, 200);
      } finally {
        await server.stop("SIGINT");
      }
    });

    test("--max-requests recycles a worker without dropping a request", { todo: reloadLossReason(rt) }, async () => {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--max-requests", "5"]);
      try {
        const first = (await ask(server, { path: "/pid" })).text;
        for (let i = 0; i < 9; i++) assert.equal((await ask(server, { path: "/pid" })).status, 200);
        await waitForLog(server, /retires: served 5 requests \(max-requests\)/);
        // the old worker serves until its replacement does: no gap, no dropped request
        let now = first;
        for (let i = 0; i < 300 && now === first; i++) {
          const r = await ask(server, { path: "/pid" });
          assert.equal(r.status, 200);
          now = r.text;
          if (now === first) await sleep(50);
        }
        assert.notEqual(now, first, "a new worker took over");
      } finally {
        await server.stop();
      }
    });

    test("--reload-on-rss recycles a worker over the limit", async () => {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--reload-on-rss", "1"]);
      try {
        await waitForLog(server, /retires: resident memory \d+ MB is over reload-on-rss 1 MB/, 15000);
        assert.equal((await ask(server)).status, 200);
      } finally {
        await server.stop("SIGINT");
      }
    });

    test("pidfile: a second start is refused while the first runs; a stale one is replaced", async () => {
      const dir = tempDir();
      const pidfile = join(dir, "app.pid");
      await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--pid", pidfile], async (server) => {
        const second = await runTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--pid", pidfile]);
        assert.equal(second.code, 1);
        assert.match(oneLine(second.stderr), new RegExp(`tsgw is already running with pid ${server.child.pid} \\(pidfile .*app\\.pid\\)`));
      });
      writeFileSync(pidfile, "999999\n"); // a pid nobody has
      await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--pid", pidfile], async (again) => {
        assert.equal(readFileSync(pidfile, "utf8").trim(), String(again.child.pid));
        const stopped = await runTsgw(rt, ["--stop", pidfile]);
        assert.equal(stopped.code, 0, stopped.stderr);
        assert.match(stopped.stdout, /^tsgw \d+ stopped$/m);
        assert.equal(again.child.exitCode ?? (await again.stop()), 0);
      });
    });

    test("bad pidfiles for --reload/--stop: one line, non-zero, and a foreign process is never signalled", async () => {
      const dir = tempDir();
      const cases: [string, string | null, RegExp][] = [
        ["missing.pid", null, /no such file \(is tsgw running\?\)/],
        ["empty.pid", "", /is empty$/],
        ["garbage.pid", "hello\n", /does not hold a pid \(it reads "hello"\)/],
        // another file given by mistake (an INI): still one line
        ["app.ini", "[uwsgi]\nworkers = 2\n", /does not hold a pid \(it reads "\[uwsgi\]\\nworkers = 2"\)/],
        ["dead.pid", "999999\n", /is stale: no process 999999/],
      ];
      for (const [name, body, message] of cases) {
        const file = join(dir, name);
        if (body !== null) writeFileSync(file, body);
        for (const action of ["--stop", "--reload"]) {
          const r = await runTsgw(rt, [action, file]);
          assert.equal(r.code, 1, `${action} ${name}`);
          assert.match(oneLine(r.stderr), message);
        }
      }
      const foreign = spawn("sleep", ["30"]);
      try {
        writeFileSync(join(dir, "foreign.pid"), `${foreign.pid}\n`);
        const r = await runTsgw(rt, ["--stop", join(dir, "foreign.pid")]);
        assert.equal(r.code, 1);
        assert.match(oneLine(r.stderr), new RegExp(`is stale: process ${foreign.pid} is not a tsgw master`));
        assert.equal(foreign.exitCode, null, "the foreign process is still alive");
      } finally {
        foreign.kill();
      }
    });

    test("--no-master serves from one process", async () => {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--no-master"]);
      try {
        assert.equal((await ask(server, { path: "/pid" })).text, String(server.child.pid));
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  });
}

for (const rt of RUNTIMES) {
  test(`server hooks from the TS config run where and when they should (${rt})`, async () => {
    const dir = tempDir();
    const trail = join(dir, "hooks.log");
    writeFileSync(
      join(dir, "tsgw.config.ts"),
      [
        `import { appendFileSync } from "node:fs";`,
        `const note = (line: string) => appendFileSync(${JSON.stringify(trail)}, line + "\\n");`,
        "export default {",
        `  app: ${JSON.stringify(join(FIXTURES, "fetch"))},`,
        `  bind: ["127.0.0.1:0"],`,
        "  onStarting: (s: any) => note(`onStarting master=${s.pid === process.pid}`),",
        "  whenReady: (s: any) => note(`whenReady gen=${s.generation}`),",
        "  postFork: (s: any, w: any) => note(`postFork worker=${w.id}`),",
        "  postWorkerInit: (w: any) => note(`postWorkerInit worker=${w.id} inWorker=${w.pid === process.pid}`),",
        "  onReload: (s: any) => note(`onReload gen=${s.generation}`),",
        "  workerExit: (s: any, w: any) => note(`workerExit worker=${w.id}`),",
        "  onExit: () => note('onExit'),",
        "};",
      ].join("\n"),
    );
    const server = await startTsgw(rt, ["-c", join(dir, "tsgw.config.ts")]);
    server.child.kill("SIGHUP");
    await until(server, (st) => st.reloads === 1, "the reload");
    assert.equal(await server.stop(), 0);
    const lines = readFileSync(trail, "utf8").trim().split("\n");
    for (
      const expected of [
        "onStarting master=true",
        "postFork worker=1",
        "postWorkerInit worker=1 inWorker=true",
        "whenReady gen=1",
        "onReload gen=1",
        "postFork worker=2",
        "postWorkerInit worker=2 inWorker=true",
        "workerExit worker=1",
        "workerExit worker=2",
        "onExit",
      ]
    ) {
      assert.ok(lines.includes(expected), `${expected} in:\n${lines.join("\n")}`);
    }
    assert.ok(lines.indexOf("onStarting master=true") < lines.indexOf("whenReady gen=1"));
    assert.equal(lines.at(-1), "onExit");
  });
}

for (const rt of RUNTIMES) {
  describe(`daemon and shell scripts on ${rt}`, () => {
    /** A `tsgw` command on PATH that runs this runtime, as an installed tsgw would. */
    function binDir(): string {
      const dir = tempDir();
      const [cmd, ...pre] = commandFor(rt);
      writeFileSync(join(dir, "tsgw"), `#!/bin/sh\nexec ${[cmd, ...pre].map((a) => `'${a}'`).join(" ")} "$@"\n`, { mode: 0o755 });
      return dir;
    }

    test("a plain sh script: tsgw --ini app.ini && tsgw --reload app.pid && tsgw --stop app.pid", async () => {
      const dir = tempDir();
      writeFileSync(join(dir, "app.ts"), `export default () => new Response("from the daemon " + process.pid);\n`);
      writeFileSync(
        join(dir, "app.ini"),
        ["[uwsgi]", "chdir = %d", "module = app", "http = 127.0.0.1:0", "pidfile = %dapp.pid", "daemonize = %dapp.log", "processes = 2", "master = true"].join(
          "\n",
        ),
      );
      writeFileSync(
        join(dir, "ctl.sh"),
        [
          "set -e",
          `cd ${JSON.stringify(dir)}`,
          "tsgw --ini app.ini",
          "test -s app.pid",
          "tsgw --reload app.pid",
          "tsgw --stop app.pid",
          "test ! -e app.pid",
          "echo all-done",
        ].join("\n"),
      );
      const r = spawnSync("sh", [join(dir, "ctl.sh")], {
        encoding: "utf8",
        env: { ...process.env, PATH: `${binDir()}:${process.env.PATH}`, TSGW_CMD_ARGS: "" },
        timeout: 60000,
      });
      // a script that failed half-way must not leave its daemon behind
      if (existsSync(join(dir, "app.pid"))) process.kill(Number(readFileSync(join(dir, "app.pid"), "utf8")), "SIGINT");
      assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}\n${existsSync(join(dir, "app.log")) ? readFileSync(join(dir, "app.log"), "utf8") : ""}`);
      assert.match(r.stdout, /^tsgw daemon started with pid \d+; logging to .*app\.log$/m);
      assert.match(r.stdout, /reloaded: generation 2 serves/);
      assert.match(r.stdout, /^tsgw \d+ stopped$/m);
      assert.match(r.stdout, /all-done/);
      assert.match(readFileSync(join(dir, "app.log"), "utf8"), /Listening at: http:\/\/127\.0\.0\.1:\d+/);
    });

    test("tsgw --stop past the graceful timeout: in-flight work is cut and the master is gone, exit 0", async () => {
      const dir = tempDir();
      const pidfile = join(dir, "app.pid");
      const started = await runTsgw(rt, [
        "test/fixtures/fetch",
        "-b",
        "127.0.0.1:0",
        "-w",
        "2",
        "--graceful-timeout",
        "1",
        "--pid",
        pidfile,
        "-D",
        "--error-log",
        join(dir, "e.log"),
      ], { timeoutMs: 30000 });
      assert.equal(started.code, 0, started.stderr);
      const port = Number(/Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(readFileSync(join(dir, "e.log"), "utf8"))![1]);
      const pid = Number(readFileSync(pidfile, "utf8"));
      const slow = ask({ port }, { path: "/slow?ms=20000" }).then(
        () => "answered",
        () => "cut",
      );
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      const stop = await runTsgw(rt, ["--stop", pidfile], { timeoutMs: 30000 });
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, new RegExp(`^tsgw ${pid} stopped$`, "m"));
      assert.ok(Date.now() - t0 < 8000, "stopped within the graceful timeout and its margin");
      assert.equal(await slow, "cut");
      assert.throws(() => process.kill(pid, 0));
      assert.equal(existsSync(pidfile), false);
    });

    test("a daemon that cannot start: the launching command exits non-zero with the error", async () => {
      const r = await runTsgw(rt, ["test/fixtures/throws", "-b", "127.0.0.1:0", "-D"]);
      assert.equal(r.code, 4);
      assert.match(oneLine(r.stderr), /failed to load: database unreachable at import$/);
    });
  });
}

for (const rt of RUNTIMES) {
  test(`a unix socket under the master survives a reload (${rt})`, async () => {
    const path = join(tempDir(), "app.sock");
    const workers = engineOf(rt) === "bun" ? "1" : "2";
    if (engineOf(rt) === "bun") {
      const refused = await runTsgw(rt, ["test/fixtures/fetch", "-b", `unix:${path}`, "-w", "2"]);
      assert.equal(refused.code, 1);
      assert.match(oneLine(refused.stderr), /bun cannot serve a unix socket from several workers/);
    }
    const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", `unix:${path}`, "-w", workers]);
    try {
      assert.equal((await ask(server)).text, "hello world");
      server.child.kill("SIGHUP");
      await until(server, (st) => st.reloads === 1 && st.lastReload?.ok === true, "the reload");
      assert.equal((await ask(server)).text, "hello world");
    } finally {
      assert.equal(await server.stop(), 0);
    }
    assert.equal(existsSync(path), false, "the socket file is removed on exit");
  });
}

for (const rt of RUNTIMES) {
  test(`--user/--group: workers drop root once they listen (${rt})`, { skip: process.getuid?.() !== 0 ? "needs root" : undefined }, async () => {
    for (const extra of [[], ["--no-master"]]) {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--user", "nobody", "--group", "65534", ...extra]);
      try {
        const info = JSON.parse((await ask(server, { path: "/info" })).text);
        assert.equal(info.uid, 65534);
        assert.equal(info.gid, 65534);
      } finally {
        assert.equal(await server.stop(), 0);
      }
    }
  });
}
