/**
 * The arbiter's loop with fake workers (Gunicorn's tests/test_arbiter.py
 * does the same): boots, crashes and backoff, TTIN/TTOU, recycling, reloads
 * that succeed and fail, timeouts and stops, in milliseconds. The real
 * processes are the e2e suite's business.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createConsola } from "consola/core";
import { resolveConfig } from "../../src/config/load.ts";
import { Arbiter, type Signal } from "../../src/master/arbiter.ts";
import type { Runtime, WorkerEvents } from "../../src/runtime/types.ts";
import { WORKER_ENV } from "../../src/protocol/worker.ts";
import { probePortNet, serveAnswersNet } from "../../src/runtime/socket-files.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A worker the test drives: it boots, serves, beats and exits when told. */
class FakeWorker {
  static nextPid = 50_000;
  readonly pid = FakeWorker.nextPid++;
  readonly signals: string[] = [];
  readonly bornAt = Date.now();
  /** ignores TERM (a handler that loops, a long drain) */
  stuck = false;
  alive = true;
  diedAt = 0;
  constructor(
    readonly id: number,
    readonly generation: number,
    private readonly events: WorkerEvents,
  ) {}
  ready(): void {
    this.events.onMessage({ tsgw: "ready", id: this.id, urls: ["http://127.0.0.1:1"] });
  }
  failBoot(message = "app module failed to load: boom"): void {
    this.events.onMessage({ tsgw: "boot-error", id: this.id, code: 4, message });
    this.exit(4);
  }
  beat(): void {
    this.events.onMessage({ tsgw: "beat", id: this.id, requests: 0, inFlight: 0, rss: 1 });
  }
  retire(reason = "served 5 requests (max-requests)"): void {
    this.events.onMessage({ tsgw: "retire", id: this.id, reason });
  }
  exit(code: number | null, signal: string | null = null): void {
    if (!this.alive) return;
    this.alive = false;
    this.diedAt = Date.now();
    this.events.onExit(code, signal);
  }
  kill(signal: string): void {
    this.signals.push(signal);
    if (!this.alive) return;
    if (signal === "SIGKILL") setImmediate(() => this.exit(null, "SIGKILL"));
    else if ((signal === "SIGTERM" || signal === "SIGINT") && !this.stuck) setImmediate(() => this.exit(0));
  }
}

interface Rig {
  arbiter: Arbiter;
  workers: FakeWorker[];
  lines: string[];
  /** workers spawned and still alive */
  live(): FakeWorker[];
  /** wait until `cond` holds (the loop reacts on its own turns) */
  until(cond: () => boolean, what: string, ms?: number): Promise<void>;
  send(sig: Signal): void;
  stop(): Promise<number>;
}

/** An arbiter over fake workers; `autoBoot`: every new worker reports ready at once. */
async function rig(args: string[], opts: { autoBoot?: boolean; unixOnly?: boolean } = {}): Promise<Rig> {
  const workers: FakeWorker[] = [];
  const lines: string[] = [];
  const runtime: Runtime = {
    name: "node",
    version: "test",
    tlsRefusal: () => undefined,
    holdName: async () => undefined,
    serveAnswers: serveAnswersNet,
    probePort: probePortNet,
    unixSharing: opts.unixOnly ? "none" : "cluster",
    tcpSharing: "cluster",
    spawnWorker(env: Record<string, string>, events: WorkerEvents) {
      const w = new FakeWorker(Number(env[WORKER_ENV.id]), Number(env[WORKER_ENV.generation]), events);
      workers.push(w);
      if (opts.autoBoot !== false) setImmediate(() => w.ready());
      return w;
    },
    spawnMaster: () => {
      throw new Error("not in these tests");
    },
    toMaster() {},
    installGlobals() {},
    setGroups() {},
    fileBody: () => "",
    startThread: async () => {},
    importModule: async () => ({}),
    serveFetch: () => Promise.reject(new Error("not in the master")),
    serveNode: () => Promise.reject(new Error("not in the master")),
    serveConnections: () => Promise.reject(new Error("not in the master")),
    streamUpgrades: () => Promise.reject(new Error("not in the master")),
  };
  const log = createConsola({ level: 4, reporters: [{ log: (o) => void lines.push(o.args.join(" ")) }] });
  const argv = ["demo:app", ...args];
  const resolved = await resolveConfig({ argv, env: {}, cwd: process.cwd(), importModule: runtime.importModule });
  const arbiter = new Arbiter({ runtime, resolved, argv, env: {}, cwd: process.cwd(), log: log as never, installSignals: false });
  const live = () => workers.filter((w) => w.alive);
  return {
    arbiter,
    workers,
    lines,
    live,
    async until(cond, what, ms = 3000) {
      for (const start = Date.now(); !cond(); await sleep(5)) {
        if (Date.now() - start > ms) throw new Error(`not within ${ms} ms: ${what}\n${lines.join("\n")}`);
      }
    },
    send: (sig) => arbiter.signal(sig),
    async stop() {
      arbiter.signal("SIGINT");
      return arbiter.finished;
    },
  };
}

const status = (r: Rig) =>
  (r.arbiter as unknown as {
    status(): {
      workers: { pid: number; generation: number; state: string; slot: number }[];
      reloads: number;
      lastReload: { ok: boolean; error?: string } | null;
      generation: number;
    };
  }).status();

describe("arbiter (fake workers)", () => {
  test("starts the configured workers and resolves once all serve", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "3"]);
    await r.arbiter.run();
    assert.equal(r.live().length, 3);
    assert.deepEqual(status(r).workers.map((w) => w.slot), [1, 2, 3]);
    assert.equal(await r.stop(), 0);
    assert.equal(r.live().length, 0);
  });

  test("a worker that cannot boot at start: run rejects with its error and code, no worker is left", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "2"], { autoBoot: false });
    const running = r.arbiter.run();
    await r.until(() => r.workers.length === 2, "two spawned");
    r.workers[0]!.ready();
    r.workers[1]!.failBoot("app module x.ts failed to load: no database");
    await assert.rejects(running, (err: Error & { exitCode?: number }) => /no database/.test(err.message) && err.exitCode === 4);
    await r.until(() => r.live().length === 0, "all killed");
    assert.equal(r.workers.length, 2, "no respawn of a generation that never served");
  });

  test("a crashed worker is replaced in its slot; workers that die young back off exponentially", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "2"]);
    await r.arbiter.run();
    const [a] = r.workers;
    a!.exit(1);
    await r.until(() => r.live().length === 2, "a replacement");
    assert.equal(status(r).workers.find((w) => w.pid === r.workers[2]!.pid)!.slot, 1);
    assert.match(r.lines.join("\n"), new RegExp(`Worker \\(pid:${a!.pid}\\) exited unexpectedly with code 1`));
    // three young deaths in a row: the gaps before their replacements grow (100, 200, 400 ms)
    const gaps: number[] = [];
    for (let i = 0; i < 3; i++) {
      const victim = r.live()[0]!;
      const diedAt = Date.now();
      const before = r.workers.length;
      victim.exit(1);
      await r.until(() => r.workers.length > before, "a respawn", 5000);
      gaps.push(r.workers.at(-1)!.bornAt - diedAt);
    }
    assert.ok(gaps[1]! > gaps[0]! && gaps[2]! > gaps[1]!, `backoff grows: ${gaps.join(", ")} ms`);
    assert.equal(await r.stop(), 0);
  });

  test("TTIN adds a worker, TTOU retires the oldest, never the last", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "1"]);
    await r.arbiter.run();
    r.send("SIGTTIN");
    await r.until(() => r.live().length === 2, "two after TTIN");
    r.send("SIGTTOU");
    await r.until(() => r.live().length === 1, "one after TTOU");
    assert.deepEqual(r.workers[0]!.signals, ["SIGTERM"], "the oldest left");
    r.send("SIGTTOU");
    await sleep(50);
    assert.equal(r.live().length, 1);
    assert.match(r.lines.join("\n"), /one worker left; not removing it/);
    assert.equal(await r.stop(), 0);
  });

  test("a retiring worker (max-requests) serves until its replacement does; a replacement that fails leaves it serving", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "1"], { autoBoot: false });
    const running = r.arbiter.run();
    await r.until(() => r.workers.length === 1, "spawned");
    r.workers[0]!.ready();
    await running;
    const old = r.workers[0]!;
    old.retire();
    await r.until(() => r.workers.length === 2, "a replacement spawned");
    assert.deepEqual(old.signals, [], "not stopped before its replacement serves");
    r.workers[1]!.failBoot();
    await r.until(() => r.workers.length === 3, "another try, after backoff", 5000);
    assert.deepEqual(old.signals, []);
    r.workers[2]!.ready();
    await r.until(() => !old.alive, "the old worker left");
    assert.equal(status(r).workers[0]!.slot, 1, "the replacement took its slot");
    assert.equal(await r.stop(), 0);
  });

  test("HUP: a new generation, the old one leaves once it serves; a retire in progress does not hold the reload up", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "2"]);
    await r.arbiter.run();
    r.workers[0]!.retire(); // its replacement is booting (auto) when the reload comes
    r.send("SIGHUP");
    await r.until(() => status(r).reloads === 1, "the reload");
    const st = status(r);
    assert.equal(st.lastReload?.ok, true);
    assert.equal(st.generation, 2);
    assert.ok(st.workers.every((w) => w.generation === 2) && st.workers.length === 2, JSON.stringify(st.workers));
    assert.ok(r.workers.filter((w) => w.generation === 1).every((w) => !w.alive));
    assert.equal(await r.stop(), 0);
  });

  test("HUP whose new generation fails: it is killed, the old one serves on, the reload says why", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "2"], { autoBoot: false });
    const running = r.arbiter.run();
    await r.until(() => r.workers.length === 2, "spawned");
    for (const w of r.workers) w.ready();
    await running;
    r.send("SIGHUP");
    await r.until(() => r.workers.length === 4, "the new generation spawned");
    r.workers[2]!.ready();
    r.workers[3]!.failBoot("app module x.ts failed to load: syntax error");
    await r.until(() => status(r).reloads === 1, "the failed reload");
    assert.equal(status(r).lastReload?.ok, false);
    assert.match(status(r).lastReload!.error!, /syntax error/);
    assert.equal(status(r).generation, 1);
    await r.until(() => !r.workers[2]!.alive, "the new generation killed");
    assert.ok(r.workers[0]!.alive && r.workers[1]!.alive, "the old generation serves on");
    assert.deepEqual(r.workers[0]!.signals, []);
    assert.equal(r.workers.length, 4, "no respawn for a failed generation");
    assert.equal(await r.stop(), 0);
  });

  test("where workers cannot share the socket (Bun, unix): a reload stops the old worker before the new one starts", async () => {
    const r = await rig(["-b", `unix:/tmp/tsgw-arbiter-test-${process.pid}.sock`], { unixOnly: true });
    await r.arbiter.run();
    const old = r.workers[0]!;
    r.send("SIGHUP");
    await r.until(() => status(r).reloads === 1, "the reload");
    assert.ok(!old.alive && r.workers[1]!.bornAt >= old.diedAt, "the new worker started after the old one exited");
    assert.equal(status(r).lastReload?.ok, true);
    assert.equal(await r.stop(), 0);
  });

  test("a worker without heartbeats for --timeout is killed and replaced", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "1", "--timeout", "1"]);
    await r.arbiter.run();
    const stuck = r.workers[0]!;
    await r.until(() => stuck.signals.includes("SIGKILL"), "killed", 3000);
    assert.match(r.lines.join("\n"), new RegExp(`WORKER TIMEOUT \\(pid:${stuck.pid}\\)`));
    await r.until(() => r.live().length === 1 && r.live()[0] !== stuck, "replaced");
    assert.equal(await r.stop(), 0);
  });

  test("TERM: workers drain; one still busy after --graceful-timeout is killed; the master finishes with 0", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "2", "--graceful-timeout", "0.2"]);
    await r.arbiter.run();
    r.workers[1]!.stuck = true;
    r.send("SIGTERM");
    assert.equal(await r.arbiter.finished, 0);
    assert.deepEqual(r.workers[0]!.signals, ["SIGTERM"]);
    assert.deepEqual(r.workers[1]!.signals, ["SIGTERM", "SIGKILL"]);
    assert.match(r.lines.join("\n"), /still busy after graceful-timeout 0\.2s; killing it/);
  });

  test("beats keep a worker alive past --timeout", async () => {
    const r = await rig(["-b", "127.0.0.1:0", "-w", "1", "--timeout", "1"]);
    await r.arbiter.run();
    const w = r.workers[0]!;
    const beating = setInterval(() => w.beat(), 200);
    await sleep(1600);
    clearInterval(beating);
    assert.deepEqual(w.signals, []);
    assert.equal(await r.stop(), 0);
  });
});
