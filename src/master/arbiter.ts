/**
 * The master (Gunicorn's arbiter): owns the configuration, the pidfile, the
 * control socket and the signals, and runs generations of workers. It never
 * imports the app; a worker's failure reaches it as a message or an exit.
 *
 * Signals are queued and handled one at a time, in order:
 *   HUP  graceful reload: start a new generation, wait until it serves, then
 *        drain the old one; if the new one fails, the old one keeps serving
 *   TERM graceful stop     INT, QUIT fast stop
 *   TTIN one worker more   TTOU one worker fewer    USR1 reopen log files
 */
import { readFileSync } from "node:fs";
import { createServer as createTcpServer } from "node:net";
import type { Server } from "node:net";
import { formatAddress, formatListener, type Address, type Listener } from "../config/address.ts";
import { resolveConfig, type ResolvedConfig } from "../config/load.ts";
import { TsgwError, describeError, EXIT } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { bindError, prepareUnixPath, removeSocket } from "../runtime/listen.ts";
import type { Runtime, WorkerProcess } from "../runtime/types.ts";
import { VERSION } from "../version.ts";
import { WORKER_ENV, isWorkerMessage, type WorkerMessage } from "../protocol/worker.ts";
import { reportToLauncher } from "./daemon.ts";
import { closeControl, removeStaleControls, serveControl, type MasterStatus } from "./control.ts";
import { serveStats, type StatsServer } from "./stats.ts";
import { reopenLogFiles } from "../log/files.ts";
import { runHook, type ServerInfo, type WorkerInfo } from "../hooks.ts";
import { removePidfile, takePidfile } from "./pidfile.ts";
import { handLogFiles, workerOwner } from "../worker/user.ts";

type State = "booting" | "ready" | "stopping";

interface Worker {
  id: number;
  generation: number;
  proc: WorkerProcess;
  state: State;
  startedAt: number;
  lastBeat: number;
  requests: number;
  inFlight: number;
  rss: number;
  /** the worker's place in the pool (1..N), kept by its replacements, as uWSGI's worker ids */
  slot: number;
  /** planned exit: a failed generation, a retired or timed-out worker */
  abandoned: boolean;
  urls: string[];
  bootError?: { code: number; message: string };
  booted: Promise<void>;
  settle: (err?: Error) => void;
  exited: Promise<void>;
  markExited: () => void;
}

const SIGNALS = ["SIGHUP", "SIGTERM", "SIGINT", "SIGQUIT", "SIGTTIN", "SIGTTOU", "SIGUSR1"] as const;
type Signal = (typeof SIGNALS)[number];

export interface MasterInput {
  runtime: Runtime;
  resolved: ResolvedConfig;
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  log: Logger;
}

export class Arbiter {
  private workers = new Map<number, Worker>();
  private generation = 0;
  private nextId = 1;
  private target: number;
  private listeners: Listener[] = [];
  private reloads = 0;
  private lastReload: MasterStatus["lastReload"] = null;
  private stopping = false;
  private pidfileTaken = false;
  private queue: Promise<void> = Promise.resolve();
  private control?: Server;
  private crashes = 0;
  private readonly spawnsBySlot = new Map<number, number>();
  private readonly startedAt = Date.now();
  private stats?: StatsServer;
  private resolved: ResolvedConfig;
  private readonly log: Logger;
  private readonly runtime: Runtime;

  constructor(private readonly input: MasterInput) {
    this.resolved = input.resolved;
    this.log = input.log;
    this.runtime = input.runtime;
    this.target = this.resolved.config.workers;
  }

  private get config() {
    return this.resolved.config;
  }

  /** Several processes may serve each address at once (needed for overlapping generations). */
  private get canOverlap(): boolean {
    return this.runtime.unixSharing === "cluster" || !this.listeners.some((l) => l.address.kind === "unix");
  }

  async run(): Promise<void> {
    try {
      await this.start();
    } catch (err) {
      // every way out of a failed start leaves nothing behind: no control socket, pidfile or socket file
      await this.killAll();
      this.cleanup();
      throw err;
    }
  }

  private async start(): Promise<void> {
    const { config } = this;
    removeStaleControls();
    // the control socket first: a second master that finds the pidfile taken asks this one whether it lives
    this.control = await serveControl(process.pid, () => this.status());
    if (config.pidfile) {
      await takePidfile(config.pidfile, process.pid);
      this.pidfileTaken = true;
    }
    this.listeners = await this.concreteListeners(this.resolved.listeners);
    if (!this.canOverlap && this.target > 1) {
      throw new TsgwError(
        `${this.runtime.name} cannot serve a unix socket from several workers (its servers cannot share one); use -w 1, a TCP address, or run tsgw on node or deno`,
      );
    }
    this.checkMigrateReq();
    this.handLogs();
    for (const sig of SIGNALS) process.on(sig, () => this.enqueue(sig));
    if (config.stats) this.stats = await serveStats(config.stats, this.input.cwd, () => this.status());
    await this.hook("onStarting", this.serverInfo());
    this.log.info(`Starting tsgw ${VERSION} on ${this.runtime.name} ${this.runtime.version}: master, ${this.target} worker${this.target === 1 ? "" : "s"}`);
    this.generation = 1;
    const started = Array.from({ length: this.target }, (_, i) => this.spawn(1, i === 0));
    const failure = await this.waitBooted(started);
    if (failure) {
      throw new TsgwError(failure.message, failure.code === EXIT.usage || failure.code === EXIT.appLoad ? failure.code : EXIT.workerBoot);
    }
    for (const url of started[0]!.urls) this.log.info(`Listening at: ${url} (${process.pid})`);
    await this.hook("whenReady", this.serverInfo());
    await reportToLauncher({ ok: true });
    setInterval(() => this.checkTimeouts(), 500).unref();
  }

  /**
   * With SO_REUSEPORT each worker has its own listening socket, and Linux drops
   * the connections queued on one when it closes, unless tcp_migrate_req hands
   * them to a sibling: without it a reload under load can reset a few connections.
   */
  private checkMigrateReq(): void {
    if (this.runtime.tcpSharing !== "reusePort" || !this.listeners.some((l) => l.address.kind === "tcp")) return;
    try {
      if (readFileSync("/proc/sys/net/ipv4/tcp_migrate_req", "utf8").trim() === "0") {
        this.log.warn(
          `${this.runtime.name} workers share TCP ports with SO_REUSEPORT: for reloads that lose no connection set sysctl net.ipv4.tcp_migrate_req=1`,
        );
      }
    } catch {
      // not Linux, or an old kernel: nothing to advise
    }
  }

  // ------------------------------------------------------------- workers

  /** The lowest place in the pool not held by a serving worker of this generation. */
  private freeSlot(generation: number): number {
    const held = new Set([...this.workers.values()].filter((w) => w.generation === generation && w.state !== "stopping").map((w) => w.slot));
    let slot = 1;
    while (held.has(slot)) slot++;
    return slot;
  }

  private spawn(generation: number, announce: boolean, slot = this.freeSlot(generation)): Worker {
    const id = this.nextId++;
    const seen = this.spawnsBySlot.get(slot);
    this.spawnsBySlot.set(slot, seen === undefined ? 0 : seen + 1);
    let settle!: (err?: Error) => void;
    let markExited!: () => void;
    const booted = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
    booted.catch(() => {}); // a failure is read from bootError
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const now = Date.now();
    const w: Worker = {
      id, generation, slot, state: "booting", startedAt: now, lastBeat: now, requests: 0, inFlight: 0, rss: 0,
      abandoned: false, urls: [], booted, settle, exited, markExited, proc: undefined!,
    };
    w.proc = this.runtime.spawnWorker(
      {
        [WORKER_ENV.id]: String(id),
        [WORKER_ENV.generation]: String(generation),
        [WORKER_ENV.listeners]: JSON.stringify(this.listeners),
        [WORKER_ENV.announce]: announce ? "1" : "0",
        [WORKER_ENV.argv]: JSON.stringify(this.input.argv),
        [WORKER_ENV.stats]: this.config.stats ? "1" : "0",
      },
      { onMessage: (m) => this.onMessage(w, m), onExit: (code, signal) => this.onExit(w, code, signal) },
    );
    this.workers.set(id, w);
    this.log.info(`Booting worker with pid: ${w.proc.pid}`);
    void this.hook("postFork", this.serverInfo(), this.workerInfo(w));
    return w;
  }

  private onMessage(w: Worker, m: unknown): void {
    if (!isWorkerMessage(m)) return;
    const msg = m as WorkerMessage;
    w.lastBeat = Date.now();
    switch (msg.tsgw) {
      case "ready":
        w.state = w.state === "booting" ? "ready" : w.state;
        w.urls = msg.urls;
        w.settle();
        break;
      case "boot-error":
        w.bootError = { code: msg.code, message: msg.message };
        w.settle(new Error(msg.message));
        break;
      case "beat":
        w.requests = msg.requests;
        w.inFlight = msg.inFlight;
        w.rss = msg.rss;
        break;
      case "retire":
        this.log.info(`Worker (pid:${w.proc.pid}) retires: ${msg.reason}`);
        this.enqueue(() => this.replace(w));
        break;
    }
  }

  private onExit(w: Worker, code: number | null, signal: string | null): void {
    this.workers.delete(w.id);
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (w.state === "booting") w.settle(new Error(w.bootError?.message ?? `worker exited with ${how} while booting`));
    w.markExited();
    void this.hook("workerExit", this.serverInfo(), this.workerInfo(w));
    if (this.stopping || w.state === "stopping" || w.abandoned) {
      this.log.info(`Worker exiting (pid: ${w.proc.pid})`);
      return;
    }
    // a replacement that failed to boot says why (its boot error would be lost otherwise)
    this.log.warn(`Worker (pid:${w.proc.pid}) exited unexpectedly with ${how}${w.bootError ? `: ${w.bootError.message}` : ""}`);
    if (w.generation !== this.generation) return;
    // a worker that dies young counts as a crash; back off so a crash at boot does not spin
    this.crashes = Date.now() - w.startedAt < 5000 ? this.crashes + 1 : 0;
    const delay = this.crashes ? Math.min(10_000, 100 * 2 ** (this.crashes - 1)) : 0;
    setTimeout(() => {
      if (!this.stopping && this.countLive() < this.target) this.spawn(this.generation, false);
    }, delay).unref();
  }

  private countLive(): number {
    return [...this.workers.values()].filter((w) => w.generation === this.generation && w.state !== "stopping").length;
  }

  /** Resolves to the first boot failure among `ws`, or null once all serve. */
  private async waitBooted(ws: Worker[]): Promise<{ code: number; message: string } | null> {
    const results = await Promise.allSettled(ws.map((w) => w.booted));
    const failed = results.findIndex((r) => r.status === "rejected");
    if (failed < 0) return null;
    const w = ws[failed]!;
    return w.bootError ?? { code: EXIT.workerBoot, message: (results[failed] as PromiseRejectedResult).reason?.message ?? "worker failed to boot" };
  }

  /** Ask workers to stop (TERM: finish in-flight requests) and wait, SIGKILL after the graceful timeout. */
  private async retireWorkers(ws: Worker[], signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    for (const w of ws) {
      w.state = "stopping";
      w.proc.kill(signal);
    }
    const deadline = setTimeout(() => {
      for (const w of ws) if (this.workers.has(w.id)) {
        this.log.warn(`Worker (pid:${w.proc.pid}) still busy after graceful-timeout ${this.config.gracefulTimeout}s; killing it`);
        w.proc.kill("SIGKILL");
      }
    }, this.config.gracefulTimeout * 1000 + 500);
    await Promise.all(ws.map((w) => w.exited));
    clearTimeout(deadline);
  }

  /** Replace one worker (max-requests, reload-on-rss): the new one serves before the old one drains. */
  private async replace(old: Worker): Promise<void> {
    if (this.stopping || !this.workers.has(old.id) || old.state === "stopping") return;
    if (!this.canOverlap) await this.retireWorkers([old]);
    const fresh = this.spawn(this.generation, false, old.slot);
    const failure = await this.waitBooted([fresh]);
    if (failure) {
      this.log.error(`replacement worker failed to boot: ${failure.message}`);
      fresh.abandoned = true;
      return;
    }
    if (this.canOverlap) await this.retireWorkers([old]);
  }

  private checkTimeouts(): void {
    const limit = this.config.timeout * 1000;
    const now = Date.now();
    for (const w of this.workers.values()) {
      if (w.state === "stopping" || w.abandoned || now - w.lastBeat <= limit) continue;
      this.log.error(`WORKER TIMEOUT (pid:${w.proc.pid}): no heartbeat for ${this.config.timeout}s; killing it`);
      w.proc.kill("SIGKILL");
      w.lastBeat = now; // one kill per timeout; its exit brings the replacement
    }
  }

  // ------------------------------------------------------------- signals

  private enqueue(what: Signal | (() => Promise<void>)): void {
    this.queue = this.queue.then(() => (typeof what === "function" ? what() : this.handle(what))).catch((err) => this.log.error(`master: ${describeError(err)}`));
  }

  private async handle(sig: Signal): Promise<void> {
    this.log.info(`Handling signal: ${sig.slice(3).toLowerCase()}`);
    switch (sig) {
      case "SIGHUP":
        return this.reload();
      case "SIGTERM":
        return this.stop(true);
      case "SIGINT":
      case "SIGQUIT":
        return this.stop(false);
      case "SIGTTIN":
        if (!this.canOverlap) {
          this.log.error(`${this.runtime.name} cannot serve a unix socket from several workers; not adding one`);
          return;
        }
        this.target++;
        this.spawn(this.generation, false);
        return;
      case "SIGTTOU": {
        if (this.target <= 1) return void this.log.info("one worker left; not removing it");
        this.target--;
        const victim = [...this.workers.values()].find((w) => w.generation === this.generation && w.state !== "stopping");
        if (victim) await this.retireWorkers([victim]);
        return;
      }
      case "SIGUSR1":
        // as Gunicorn: the master reopens its files, then each worker reopens its own
        for (const problem of reopenLogFiles()) this.log.error(`cannot reopen a log file: ${problem}`);
        this.handLogs();
        this.log.info("Reopened log files");
        for (const w of this.workers.values()) w.proc.kill("SIGUSR1");
        return;
    }
  }

  private async reload(): Promise<void> {
    const finish = (ok: boolean, error?: string) => {
      this.reloads++;
      this.lastReload = ok ? { ok } : { ok, error };
      if (error) this.log.error(`reload failed, the old workers keep serving: ${error}`);
      else this.log.info(`Reloaded: generation ${this.generation} serves`);
    };
    await this.hook("onReload", this.serverInfo());
    let next: ResolvedConfig;
    try {
      next = await resolveConfig({ argv: this.input.argv, env: this.input.env, cwd: this.input.cwd, importModule: this.runtime.importModule });
    } catch (err) {
      return finish(false, describeError(err instanceof TsgwError ? err.message : err));
    }
    if (JSON.stringify(next.listeners) !== JSON.stringify(this.resolved.listeners)) {
      this.log.warn("listening addresses (bind, socket) cannot change on reload (restart tsgw for that); keeping the current ones");
    }
    const target = next.config.workers;
    const old = [...this.workers.values()].filter((w) => w.state !== "stopping");
    const generation = ++this.generation;
    if (!this.canOverlap) {
      this.log.warn(`${this.runtime.name} cannot share a unix socket between generations: stopping the old worker before starting the new one`);
      await this.retireWorkers(old);
    }
    const fresh = Array.from({ length: target }, (_, i) => this.spawn(generation, i === 0));
    const failure = await this.waitBooted(fresh);
    if (failure) {
      for (const w of fresh) w.abandoned = true;
      await this.retireWorkers(fresh.filter((w) => this.workers.has(w.id)), "SIGKILL");
      this.generation--;
      if (!this.canOverlap) {
        // nothing serves now: start the previous generation's successor with backoff through onExit's path
        this.crashes++;
        this.spawn(this.generation, false);
      }
      return finish(false, failure.message);
    }
    this.resolved = { ...next, listeners: this.resolved.listeners };
    this.target = target;
    if (this.canOverlap) await this.retireWorkers(old);
    finish(true);
  }

  private async stop(graceful: boolean): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const all = [...this.workers.values()];
    if (graceful) await this.retireWorkers(all, "SIGTERM");
    else {
      for (const w of all) w.proc.kill("SIGINT");
      await Promise.race([Promise.all(all.map((w) => w.exited)), new Promise((r) => setTimeout(r, 2000))]);
      await this.killAll();
    }
    this.cleanup();
    await this.hook("onExit", this.serverInfo());
    this.log.info("Shutting down: Master");
    process.exit(0);
  }

  private async killAll(): Promise<void> {
    const all = [...this.workers.values()];
    for (const w of all) {
      w.abandoned = true;
      w.proc.kill("SIGKILL");
    }
    await Promise.all(all.map((w) => w.exited));
  }

  private cleanup(): void {
    if (this.config.pidfile && this.pidfileTaken) removePidfile(this.config.pidfile, process.pid);
    closeControl(this.control, process.pid);
    this.stats?.close();
    for (const l of this.listeners) removeSocket(l.address);
  }

  /** Workers that run as another user must be able to reopen their log files after a rotation: create and give them. */
  private handLogs(): void {
    const { user, group, errorLog, accessLog } = this.config;
    for (const problem of handLogFiles([errorLog, accessLog], workerOwner(user, group))) this.log.warn(`cannot hand a log file to the workers' user: ${problem}`);
  }

  // --------------------------------------------------------------- hooks

  private hook(name: Parameters<typeof runHook>[1], ...args: unknown[]): Promise<void> {
    return runHook(this.config, name, this.log, ...args);
  }

  private serverInfo(): ServerInfo {
    return { pid: process.pid, generation: this.generation, workers: this.target, config: this.config };
  }

  private workerInfo(w: Worker): WorkerInfo {
    return { id: w.id, pid: w.proc.pid, generation: w.generation };
  }

  // -------------------------------------------------------------- status

  private status(): MasterStatus {
    const now = Date.now();
    return {
      version: VERSION,
      runtime: `${this.runtime.name} ${this.runtime.version}`,
      pid: process.pid,
      uptime: Math.round((now - this.startedAt) / 1000),
      generation: this.generation,
      reloads: this.reloads,
      lastReload: this.lastReload,
      gracefulTimeout: this.config.gracefulTimeout,
      listeners: this.listeners.map((l) => formatListener(l)),
      workers: [...this.workers.values()]
        .sort((a, b) => a.generation - b.generation || a.slot - b.slot)
        .map((w) => ({
          id: w.id,
          slot: w.slot,
          pid: w.proc.pid,
          generation: w.generation,
          state: w.state,
          status: w.inFlight > 0 ? "busy" : "idle",
          requests: w.requests,
          inFlight: w.inFlight,
          rss: w.rss,
          lastBeat: Math.max(0, now - w.lastBeat) / 1000,
          respawns: this.spawnsBySlot.get(w.slot) ?? 0,
          uptime: Math.round((now - w.startedAt) / 1000),
        })),
    };
  }

  /**
   * Before any worker starts: stale unix sockets checked once here (workers
   * share them), and port 0 made concrete so every worker binds the same port.
   */
  private async concreteListeners(listeners: Listener[]): Promise<Listener[]> {
    const out: Listener[] = [];
    for (const l of listeners) {
      const a = l.address;
      if (a.kind === "unix") await prepareUnixPath(a.path);
      // a bind without SO_REUSEPORT fails where anything listens, SO_REUSEPORT or not: workers that share
      // the port with SO_REUSEPORT (Bun, Deno) would otherwise join another server's port silently
      out.push(a.kind === "tcp" ? { ...l, address: { ...a, port: await probePort(a) } } : l);
    }
    return out;
  }
}

/** Bind the address for a moment (port 0: a free port), so a port something else serves is refused before any worker starts. */
function probePort(address: Address & { kind: "tcp" }): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createTcpServer();
    probe.once("error", (err) => reject(bindError(address, err)));
    probe.listen({ port: address.port, host: address.host, exclusive: true }, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
