/**
 * Binary upgrade without downtime (USR2, Gunicorn's): a new master from the
 * tsgw on disk takes over the listening sockets while requests keep coming
 * (README, Upgrading tsgw without downtime).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { isAlive } from "../../src/master/pidfile.ts";
import { askMaster } from "../../src/master/control.ts";
import { ask, engineOf, oneLine, type RuntimeName, RUNTIMES, runTsgw, type Server, startTsgw, tempDir } from "../helpers/tsgw.ts";
import { loadLoop, ready, reloadLossReason, until } from "../helpers/master.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** TERM a master the test did not start (the new one) and wait until it is gone. */
async function stopPid(pid: number | undefined): Promise<void> {
  if (!pid || !isAlive(pid)) return;
  process.kill(pid, "SIGTERM");
  for (const start = Date.now(); isAlive(pid) && Date.now() - start < 15_000; await sleep(50));
  if (isAlive(pid)) process.kill(pid, "SIGKILL");
}

const pidIn = (file: string) => Number(readFileSync(file, "utf8").trim());

/**
 * Deno's limit is its reloads' (reloadLossReason). Bun.serve, stopping, can
 * reset a connection it had accepted but not yet read: seen once in about
 * ten full-suite runs, never alone (an upgrade starts two processes at that
 * moment, and the suite's other files load the cores).
 */
function upgradeLossReason(rt: RuntimeName): string | undefined {
  return reloadLossReason(rt) ??
    (engineOf(rt) === "bun"
      ? "Bun.serve can reset a connection it accepted but had not read when it stops (rare, under a loaded machine); see README, Known limits"
      : undefined);
}

/** The new master, as `until` polls it (its output goes where the old one's went). */
const masterAt = (pid: number, old: Server) => ({ child: { pid }, logs: old.logs });

for (const rt of RUNTIMES) {
  describe(`upgrade on ${rt}`, () => {
    test(
      "tsgw --upgrade under load: zero failed requests, the new master's workers answer, the old master is gone",
      { todo: upgradeLossReason(rt) },
      async () => {
        const dir = tempDir();
        const pidfile = join(dir, "app.pid");
        const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2", "--pid", pidfile]);
        let next: number | undefined;
        try {
          const before = await until(server, (s) => ready(s).length === 2, "two ready workers");
          const load = loadLoop(server, 4);
          await sleep(300);
          const r = await runTsgw(rt, ["--upgrade", pidfile]);
          assert.equal(r.code, 0, r.stderr + server.logs());
          next = pidIn(pidfile);
          assert.notEqual(next, before.pid);
          assert.equal(r.stdout.trim(), `tsgw ${before.pid} upgraded: master ${next} serves`);
          assert.equal(isAlive(before.pid), false, "the old master is gone");
          const after = await until(masterAt(next, server), (s) => ready(s).length === 2, "the new master's two workers");
          assert.deepEqual(after.listeners, before.listeners, "the same address, named as before");
          await sleep(300);
          const result = await load.stop();
          assert.deepEqual(result.failed, []);
          assert.ok(before.workers.some((w) => result.pids.has(String(w.pid))), "the old workers answered");
          assert.ok(after.workers.some((w) => result.pids.has(String(w.pid))), "the new workers answered");
          assert.equal(existsSync(`${pidfile}.oldbin`), false);
        } finally {
          await server.stop();
          await stopPid(next);
        }
      },
    );

    test("USR2 by hand on a unix socket: PIDFILE.oldbin, WINCH empties the old master, TERM ends it; the socket file stays the new master's", async () => {
      const dir = tempDir();
      const pidfile = join(dir, "app.pid");
      const path = join(dir, "app.sock");
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", `unix:${path}`, "--pid", pidfile]);
      let next: number | undefined;
      try {
        const old = server.child.pid!;
        server.child.kill("SIGUSR2");
        if (engineOf(rt) === "bun") {
          // Bun's servers bind their own sockets and take none from another process
          const s = await until(server, (st) => st.upgrades === 1, "the refused upgrade");
          assert.match(s.lastUpgrade?.error ?? "", /^cannot upgrade: unix:\S+ cannot pass to a new master: Bun's servers cannot serve an inherited socket/);
          assert.equal(pidIn(pidfile), old, "the pidfile is left as it was");
          assert.equal((await ask(server)).text, "hello world");
          return;
        }
        const s = await until(server, (st) => st.upgrades === 1, "the upgrade", 30_000);
        assert.equal(s.lastUpgrade?.ok, true, s.lastUpgrade?.error ?? "");
        next = s.lastUpgrade!.pid!;
        assert.equal(pidIn(pidfile), next);
        assert.equal(pidIn(`${pidfile}.oldbin`), old);
        server.child.kill("SIGWINCH");
        await until(server, (st) => st.workers.length === 0, "the old master without workers");
        assert.equal((await ask(server)).text, "hello world", "the new master's workers serve the socket");
        assert.equal(await server.stop(), 0);
        assert.equal(existsSync(`${pidfile}.oldbin`), false, "the old master removes PIDFILE.oldbin");
        assert.equal(existsSync(path), true, "the socket file is the new master's");
        assert.equal((await ask(server)).text, "hello world");
        assert.match((await askMaster(next))?.listeners.join() ?? "", new RegExp(`^unix:${path}$`));
        await stopPid(next);
        assert.equal(existsSync(path), false, "the new master removes it when it stops");
      } finally {
        await server.stop();
        await stopPid(next);
      }
    });

    test("an upgrade whose new master fails keeps the old one serving, the pidfile restored; --upgrade says why", async () => {
      const dir = tempDir();
      const app = join(dir, "app.ts");
      const pidfile = join(dir, "app.pid");
      writeFileSync(app, `export default () => new Response("v1");\n`);
      const server = await startTsgw(rt, [app, "-b", "127.0.0.1:0", "--pid", pidfile]);
      try {
        writeFileSync(app, `throw new Error("v2 is broken");\nexport default () => new Response("v2");\n`);
        const r = await runTsgw(rt, ["--upgrade", pidfile]);
        assert.equal(r.code, 1);
        assert.match(oneLine(r.stderr), /upgrade of tsgw \d+ failed, it keeps serving: new master \d+: .*v2 is broken/);
        assert.equal(pidIn(pidfile), server.child.pid);
        assert.equal(existsSync(`${pidfile}.oldbin`), false);
        assert.equal((await ask(server)).text, "v1");
      } finally {
        assert.equal(await server.stop(), 0);
      }
    });
  });
}
