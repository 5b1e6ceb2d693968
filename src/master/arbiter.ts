/**
 * The master (Gunicorn's arbiter): owns the configuration, the pidfile, the
 * control socket and the signals, and runs generations of workers. It never
 * imports the app; a worker's failure reaches it as a message or an exit.
 *
 * One loop, as Gunicorn's run() and manage_workers(): events (signals,
 * worker messages, exits, a tick every 500 ms) only change intent — how many
 * workers the current generation should have, which workers are to leave,
 * when the next spawn may happen — and manage() then brings the workers to
 * that intent: it spawns, retires and kills. Signals are queued and handled
 * one at a time, in order:
 *   HUP  graceful reload: a new generation, and the old one leaves once the
 *        new one serves; if the new one fails, the old one keeps serving
 *   TERM graceful stop     INT, QUIT fast stop
 *   TTIN one worker more   TTOU one worker fewer    USR1 reopen log files
 *   USR2 upgrade: a new master from the tsgw on disk, handed the listening
 *        sockets (upgrade.ts); this one serves on until told to go
 *   WINCH every worker leaves gracefully, the master stays (after USR2)
 */
import { readFileSync, renameSync } from "node:fs";
import { basename, dirname, join, resolve as resolvePath } from "node:path";
import { formatListener, type Listener, MAX_SOCKET_PATH, schemeOf } from "../config/address.ts";
import { resolveConfig, type ResolvedConfig } from "../config/load.ts";
import { describeError, EXIT, TsgwError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { setProcessTitle } from "../log/title.ts";
import { holdWhileStarting, prepareUnixPath, removeSocket } from "../runtime/socket-files.ts";
import type { RuntimeCore, WorkerProcess } from "../runtime/types.ts";
import { VERSION } from "../version.ts";
import { isWorkerMessage, type RequestMetrics, type RetireCause, type WebSocketCounts, WORKER_ENV, type WorkerMessage } from "../protocol/worker.ts";
import { reportToLauncher, startMaster, type Word, wordFrom } from "./daemon.ts";
import { Inheritance, planUpgrade } from "./upgrade.ts";
import { closeControl, type MasterStatus, removeStaleControls, serveControl } from "./control.ts";
import { serveStats, type StatsServer } from "./stats.ts";
import { Tally } from "./tally.ts";
import { SystemdNotifier } from "./notify.ts";
import type { Watcher } from "./watch.ts";
import type { StatsdSender } from "./metrics.ts";
import { reopenLogFiles } from "../log/files.ts";
import { runHook, type ServerInfo, type WorkerInfo } from "../hooks.ts";
import { removePidfile, takePidfile } from "./pidfile.ts";
import { handLogFiles, workerOwner } from "../worker/user.ts";
import { dynamicImport } from "../dynamic-import.ts";

type State = "booting" | "ready" | "stopping";

interface Worker {
  id: number;
  generation: number;
  proc: WorkerProcess;
  state: State;
  startedAt: number;
  lastBeat: number;
  /** when it was told to stop (graceful-timeout counts from here) */
  stoppingSince: number;
  requests: number;
  inFlight: number;
  rss: number;
  webSockets: WebSocketCounts;
  /** the worker's place in the pool (1..N), kept by its replacements, as uWSGI's worker ids */
  slot: number;
  /** intent: leave at once, or once a replacement serves (max-requests, reload-on-rss, a dead listener) */
  leave?: "now" | "when-replaced";
  /** planned exit (a failed generation, a fast stop): no respawn, not "unexpected" */
  abandoned: boolean;
  /** why it is leaving (the metrics' restarts by cause); unset for a crash */
  cause?: ExitCause;
  /** its request metrics at the last heartbeat (--metrics, --statsd-host) */
  metrics?: RequestMetrics;
  connections?: number;
  /** its serving threads serving now, at the last heartbeat (--threads) */
  threads?: number;
  /** its serving threads replaced, by cause, at the last heartbeat */
  threadRestarts?: Record<string, number>;
  urls: string[];
  bootError?: { code: number; message: string };
  booted: Promise<void>;
  settle: (err?: Error) => void;
  exited: Promise<void>;
  markExited: () => void;
}

/** why a worker went (a stop of the whole master is none of these) */
export type ExitCause = "crash" | "timeout" | "reload" | "scale-down" | RetireCause;

const SIGNALS = ["SIGHUP", "SIGTERM", "SIGINT", "SIGQUIT", "SIGTTIN", "SIGTTOU", "SIGUSR1", "SIGUSR2", "SIGWINCH"] as const;
export type Signal = (typeof SIGNALS)[number];

export interface MasterInput {
  runtime: RuntimeCore;
  resolved: ResolvedConfig;
  argv: string[];
  env: Record<string, string | undefined>;
  cwd: string;
  log: Logger;
  /** take the process's signals (the CLI); tests send them with signal() */
  installSignals?: boolean;
}

/** How often the loop ticks: heartbeat timeouts, graceful deadlines, backoff. */
const TICK_MS = 500;
/** How long a master waits for another that is starting on one of its addresses to have bound it (see holdWhileStarting). */
const START_WAIT_MS = 60_000;
/** how often systemd's STATUS= line is refreshed */
const STATUS_MS = 10_000;

export class Arbiter {
  private workers = new Map<number, Worker>();
  private generation = 0;
  private nextId = 1;
  /** intent: workers the current generation should have */
  private workerCount: number;
  /** generations whose first workers all served: only these are topped up after an exit */
  private readonly established = new Set<number>();
  /** a reload is waiting for its generation: the previous one keeps serving meanwhile */
  private reloading = false;
  /** intent: no spawn before this time (backoff after crashes) */
  private spawnAfter = 0;
  private crashes = 0;
  private backoffTimer?: NodeJS.Timeout;
  private ticker?: NodeJS.Timeout;
  /** what the workers are given: the listeners, an inherited socket for those an old master handed over */
  private listeners: Listener[] = [];
  /** the same listeners as the operator knows them (where each is bound), for log lines, the status and clean-up */
  private named: Listener[] = [];
  /** in a master started by USR2: what the old master handed over */
  private inheritance?: Inheritance;
  /** USR2: the pid of the new master while it starts; then of the one that serves in this one's place */
  private upgrading?: number;
  private successor?: number;
  private upgrades = 0;
  private lastUpgrade: MasterStatus["lastUpgrade"] = null;
  private reloads = 0;
  private lastReload: MasterStatus["lastReload"] = null;
  private stopping = false;
  private pidfileTaken = false;
  private queue: Promise<void> = Promise.resolve();
  private control?: () => void;
  private readonly spawnsBySlot = new Map<number, number>();
  private readonly startedAt = Date.now();
  private stats?: StatsServer;
  private metricsServer?: StatsServer;
  private statsd?: StatsdSender;
  /** what the metrics count beyond the live workers: the gone workers' requests, restarts by cause */
  private readonly tally = new Tally();
  /** systemd's Type=notify, when NOTIFY_SOCKET asks for it */
  private notifier?: SystemdNotifier;
  private lastTick = Date.now();
  private watcher?: Watcher;
  private lastStatus = 0;
  /** what the master exits with once stopped */
  private exitCode: number = EXIT.ok;
  private resolved: ResolvedConfig;
  private readonly log: Logger;
  private readonly runtime: RuntimeCore;
  private done!: (code: number) => void;
  /** resolves with the exit code once the master has stopped (the CLI exits with it) */
  readonly finished = new Promise<number>((resolve) => (this.done = resolve));

  constructor(private readonly input: MasterInput) {
    this.resolved = input.resolved;
    this.log = input.log;
    this.runtime = input.runtime;
    this.workerCount = this.resolved.config.workers;
  }

  private get config() {
    return this.resolved.config;
  }

  /** Several processes may serve each address at once (needed for overlapping generations and replacements). */
  private get canOverlap(): boolean {
    return this.runtime.unixSharing === "cluster" || !this.listeners.some((l) => l.address.kind === "unix");
  }

  async run(): Promise<void> {
    try {
      await this.start();
    } catch (err) {
      // every way out of a failed start leaves nothing behind: no control socket, pidfile or socket file
      this.stopping = true;
      await this.killAll();
      this.cleanup();
      throw err;
    }
  }

  /** A signal, as if the process had received it (queued behind the ones before it). */
  signal(sig: Signal): void {
    this.enqueue(sig);
  }

  private async start(): Promise<void> {
    setProcessTitle("master", this.config);
    removeStaleControls();
    // the control socket first: a second master that finds the pidfile taken asks this one whether it lives
    this.control = await serveControl(process.pid, () => this.status(), this.runtime.serveAnswers);
    // a new master at an upgrade takes the pidfile once it serves: until then the old master's is the one to read
    this.inheritance = Inheritance.take(this.input.env);
    if (!this.inheritance) await this.takePidfile();
    // (a new master at an upgrade binds nothing: the old master's sockets are handed to it)
    const release = this.inheritance
      ? undefined
      : await holdWhileStarting(this.resolved.listeners.map((l) => l.address), this.runtime.holdName, START_WAIT_MS, (m) => this.log.info(m));
    try {
      await this.bindAndLaunch();
    } finally {
      release?.();
    }
    const first = [...this.workers.values()].find((w) => w.generation === 1)!;
    // watching before "Listening at", which is the word that tsgw is up: no change after it is missed
    if (this.config.watch) await this.watch();
    if (this.inheritance) await this.takePidfile();
    // an inherited socket is named by its address, not by the fd it came as
    for (const [i, url] of first.urls.entries()) this.log.info(`Listening at: ${this.listeners[i]?.name ?? url} (${process.pid})`);
    this.notifier = SystemdNotifier.fromEnv(this.input.env, (m) => this.log.warn(m));
    void this.notifier?.ready(this.statusLine());
    // the watchdog is fed only while the loop ticks
    this.notifier?.startWatchdog(this.input.env, () => Date.now() - this.lastTick < TICK_MS * 4);
    await this.hook("whenReady", this.serverInfo());
    await reportToLauncher({ ok: true });
    // the old master lets its endpoints go once it has this master's word
    if (this.inheritance) void this.serveEndpointsWhenFree();
  }

  /** The addresses made concrete, the endpoints and the onStarting hook, then the first generation of workers, bound and ready. */
  private async bindAndLaunch(): Promise<void> {
    [this.named, this.listeners] = await this.concreteListeners(this.resolved.listeners);
    if (!this.canOverlap && this.workerCount > 1) {
      throw new TsgwError(
        `${this.runtime.name} cannot serve a unix socket from several workers (its servers cannot share one); use -w 1, a TCP address, or run tsgw on node or deno`,
      );
    }
    this.checkMigrateReq();
    this.handLogs();
    if (this.input.installSignals !== false) { for (const sig of SIGNALS) process.on(sig, () => this.enqueue(sig)); }
    if (!this.inheritance) await this.serveEndpoints();
    await this.hook("onStarting", this.serverInfo());
    this.log.info(
      `Starting tsgw ${VERSION} on ${this.runtime.name} ${this.runtime.version}: master, ${this.workerCount} worker${this.workerCount === 1 ? "" : "s"}${
        this.inheritance ? `, upgrading master ${this.inheritance.from}` : ""
      }`,
    );
    this.generation = 1;
    this.ticker = setInterval(() => this.tick(), TICK_MS);
    this.ticker.unref();
    const failure = await this.launch();
    if (failure) {
      throw new TsgwError(failure.message, failure.code === EXIT.usage || failure.code === EXIT.appLoad ? failure.code : EXIT.workerBoot);
    }
  }

  private async takePidfile(): Promise<void> {
    if (!this.config.pidfile) return;
    await takePidfile(this.config.pidfile, process.pid);
    this.pidfileTaken = true;
  }

  /** The master's own endpoints: --stats, --metrics, statsd (each started once). */
  private async serveEndpoints(): Promise<void> {
    const { config } = this;
    if (config.stats) this.stats ??= await serveStats(config.stats, this.input.cwd, () => this.status());
    if (config.metrics || config.statsdHost) {
      // loaded only where metrics are asked for
      const { serveMetrics, startStatsd } = await import("./metrics.ts");
      const view = () => this.tally.view(this.status(), [...this.workers.values()]);
      if (config.metrics) this.metricsServer ??= await serveMetrics(config.metrics, this.input.cwd, view);
      if (config.statsdHost) this.statsd ??= startStatsd(config.statsdHost, config.statsdPrefix, view, (m) => this.log.warn(m));
    }
  }

  /** A new master's endpoints are the old master's until that one has its word: bound as soon as they are let go (tried for 30 s). */
  private async serveEndpointsWhenFree(): Promise<void> {
    for (let tries = 1;; tries++) {
      try {
        return await this.serveEndpoints();
      } catch (err) {
        if (this.stopping) return;
        if (tries >= 120) {
          return void this.log.warn(`${describeError(err instanceof TsgwError ? err.message : err)} (still held by master ${this.inheritance!.from}?)`);
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }
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

  // ------------------------------------------------------- the one loop

  /**
   * Bring the workers to the intent. Called after every event; does only
   * what the intent asks and what is allowed now, so calling it again
   * changes nothing.
   */
  private manage(): void {
    if (this.stopping) return;
    const all = [...this.workers.values()];
    const current = all.filter((w) => w.generation === this.generation && w.state !== "stopping");
    const staying = current.filter((w) => !w.leave);
    // other generations leave once the current one serves (at once where two cannot share the addresses)
    for (const w of all) {
      if (w.generation !== this.generation && !w.abandoned && (!this.reloading || !this.canOverlap)) [w.leave, w.cause] = ["now", w.cause ?? "reload"];
    }
    // TTOU: the oldest leave, down to the worker count
    for (const w of staying.slice(0, Math.max(0, staying.length - this.workerCount))) [w.leave, w.cause] = ["now", w.cause ?? "scale-down"];
    const ready = staying.filter((w) => !w.leave && w.state === "ready").length;
    for (const w of current) if (w.leave === "when-replaced" && (!this.canOverlap || ready >= this.workerCount)) w.leave = "now";
    for (const w of all) if (w.leave === "now" && w.state !== "stopping") this.tellToStop(w);
    // spawn what the current generation lacks: its first workers at once, later ones (after exits) with backoff
    const wanted = this.established.has(this.generation) ? this.workerCount - staying.filter((w) => !w.leave).length : 0;
    if (wanted <= 0) return;
    if (!this.canOverlap && all.some((w) => w.generation !== this.generation || w.state === "stopping")) return; // the socket is not free yet
    const wait = this.spawnAfter - Date.now();
    if (wait > 0) {
      this.backoffTimer ??= setTimeout(() => {
        this.backoffTimer = undefined;
        this.manage();
      }, wait);
      this.backoffTimer.unref();
      return;
    }
    for (let i = 0; i < wanted; i++) this.spawn(this.generation);
  }

  /** Start the current generation's workers and wait until they all serve; the first failure, or null. */
  private async launch(): Promise<{ code: number; message: string } | null> {
    const generation = this.generation;
    if (!this.canOverlap) {
      // the old generation must be gone before the new one can bind
      const leaving = [...this.workers.values()].filter((w) => w.generation !== generation);
      this.manage();
      await Promise.all(leaving.map((w) => w.exited));
    }
    const fresh = Array.from({ length: this.workerCount }, (_, i) => this.spawn(generation, i === 0 ? "announce" : "quiet"));
    const failure = await this.waitBooted(fresh);
    if (!failure) this.established.add(generation);
    return failure;
  }

  /** The ticks: heartbeat timeouts and graceful deadlines (then the loop, for anything they changed). */
  private tick(): void {
    const now = Date.now();
    this.lastTick = now;
    if (this.notifier && now - this.lastStatus >= STATUS_MS) {
      this.lastStatus = now;
      void this.notifier.status(this.statusLine());
    }
    const timeout = this.config.timeout * 1000;
    const grace = this.config.gracefulTimeout * 1000 + 500;
    for (const w of this.workers.values()) {
      if (w.state === "stopping") {
        if (now - w.stoppingSince > grace && !w.abandoned) this.killBusy(w);
      } else if (!w.abandoned && now - w.lastBeat > timeout) {
        this.log.error(`WORKER TIMEOUT (pid:${w.proc.pid}): no heartbeat for ${this.config.timeout}s; killing it`);
        w.cause = "timeout";
        w.proc.kill("SIGKILL");
        w.lastBeat = now; // one kill per timeout; its exit brings the replacement
      }
    }
    this.manage();
  }

  // ------------------------------------------------------------- workers

  /** The lowest place in the pool not held by a worker of this generation that stays. */
  private freeSlot(generation: number): number {
    const held = new Set([...this.workers.values()].filter((w) => w.generation === generation && w.state !== "stopping" && !w.leave).map((w) => w.slot));
    let slot = 1;
    while (held.has(slot)) slot++;
    return slot;
  }

  /** `announce`: this worker logs how the app was loaded (once per generation). */
  private spawn(generation: number, announce: "announce" | "quiet" = "quiet"): Worker {
    const id = this.nextId++;
    const slot = this.freeSlot(generation);
    const seen = this.spawnsBySlot.get(slot);
    this.spawnsBySlot.set(slot, seen === undefined ? 0 : seen + 1);
    let settle!: (err?: Error) => void;
    let markExited!: () => void;
    const booted = new Promise<void>((resolve, reject) => (settle = (err) => (err ? reject(err) : resolve())));
    booted.catch(() => {}); // a failure is read from bootError
    const exited = new Promise<void>((resolve) => (markExited = resolve));
    const now = Date.now();
    const w: Worker = {
      id,
      generation,
      slot,
      state: "booting",
      startedAt: now,
      lastBeat: now,
      stoppingSince: 0,
      requests: 0,
      inFlight: 0,
      rss: 0,
      webSockets: { open: 0, opened: 0, messagesIn: 0, messagesOut: 0 },
      abandoned: false,
      urls: [],
      booted,
      settle,
      exited,
      markExited,
      proc: undefined!,
    };
    w.proc = this.runtime.spawnWorker(
      {
        [WORKER_ENV.id]: String(id),
        [WORKER_ENV.generation]: String(generation),
        [WORKER_ENV.listeners]: JSON.stringify(this.listeners),
        [WORKER_ENV.announce]: announce === "announce" ? "1" : "0",
        [WORKER_ENV.argv]: JSON.stringify(this.input.argv),
        [WORKER_ENV.stats]: this.config.stats ? "1" : "0",
        [WORKER_ENV.metrics]: this.config.metrics || this.config.statsdHost ? "1" : "0",
      },
      { onMessage: (m) => this.onMessage(w, m), onExit: (code, signal) => this.onExit(w, code, signal) },
    );
    this.workers.set(id, w);
    this.log.info(`Booting worker with pid: ${w.proc.pid}`);
    void this.hook("postFork", this.serverInfo(), this.workerInfo(w));
    return w;
  }

  private tellToStop(w: Worker, signal: NodeJS.Signals = "SIGTERM"): void {
    w.state = "stopping";
    w.stoppingSince = Date.now();
    w.proc.kill(signal);
  }

  private onMessage(w: Worker, m: unknown): void {
    if (!isWorkerMessage(m)) return;
    const msg = m as WorkerMessage;
    w.lastBeat = Date.now();
    switch (msg.tsgw) {
      case "ready":
        w.state = w.state === "booting" ? "ready" : w.state;
        w.urls = msg.urls;
        this.publishSockets();
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
        // (a beat without them: a worker of another tsgw version)
        if (msg.webSockets) w.webSockets = msg.webSockets;
        if (msg.metrics) w.metrics = msg.metrics;
        w.connections = msg.connections;
        w.threads = msg.threads;
        w.threadRestarts = msg.threadRestarts;
        return;
      case "retire":
        if (w.leave || w.state === "stopping") return;
        this.log.info(`Worker (pid:${w.proc.pid}) retires: ${msg.reason}`);
        w.leave = "when-replaced";
        w.cause = msg.cause;
        break;
    }
    this.manage();
  }

  private onExit(w: Worker, code: number | null, signal: string | null): void {
    this.workers.delete(w.id);
    this.tally.workerGone(w, this.stopping);
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (w.state === "booting") w.settle(new Error(w.bootError?.message ?? `worker exited with ${how} while booting`));
    w.markExited();
    void this.hook("workerExit", this.serverInfo(), this.workerInfo(w));
    if (this.stopping || w.state === "stopping" || w.abandoned) {
      this.log.info(`Worker exiting (pid: ${w.proc.pid})`);
    } else {
      // a replacement that failed to boot says why (its boot error would be lost otherwise)
      this.log.warn(`Worker (pid:${w.proc.pid}) exited unexpectedly with ${how}${w.bootError ? `: ${w.bootError.message}` : ""}`);
      if (w.bootError && /cannot listen on \S*fd:\/\//.test(w.bootError.message) && !this.rebindInherited()) return this.inheritedSocketLost();
      if (w.generation === this.generation && this.established.has(w.generation)) {
        // a worker that dies young counts as a crash; back off so a crash at boot does not spin
        if (Date.now() - w.startedAt < 5000) this.backOff();
        else this.crashes = this.spawnAfter = 0;
      }
    }
    this.manage();
  }

  /**
   * node:cluster closes a shared socket with the last worker that used it:
   * after every worker died at once, an inherited one (systemd's) is gone
   * for good. The master exits non-zero, and systemd (Restart=on-failure),
   * which still holds the socket, starts tsgw again with it.
   */
  private inheritedSocketLost(): void {
    this.log.error(
      "the inherited socket closed when every worker had died (node:cluster closes it with its last user): exiting, so that systemd restarts tsgw with its socket",
    );
    this.exitCode = EXIT.workerBoot;
    this.enqueue(() => this.stop(false));
  }

  /**
   * The sockets an old master handed over closed with the last worker that
   * used them (as systemd's do, above); unlike systemd's, their addresses
   * are known: the workers bind them afresh. False when there were none.
   */
  private rebindInherited(): boolean {
    if (!this.listeners.some((l, i) => l.address.kind === "fd" && this.named[i]!.address.kind !== "fd")) return false;
    this.log.warn(
      "the sockets inherited at the upgrade closed when every worker had died (node:cluster closes them with their last user): binding their addresses afresh",
    );
    this.listeners = this.named.map((l) => this.servedAs(l));
    return true;
  }

  /** A listener as the workers are given it: a unix socket they share through node:cluster under its binding name (see publishSockets). */
  private servedAs(l: Listener): Listener {
    const a = l.address;
    return a.kind === "unix" && this.runtime.unixSharing === "cluster"
      ? { ...l, address: { kind: "unix", path: bindingPath(a.path) }, name: formatListener(l) }
      : l;
  }

  /**
   * A unix socket that workers share through node:cluster is bound under a
   * name of this master's own and renamed into place once a worker serves
   * it: the runtime unlinks the name it bound when the socket closes, which
   * after an upgrade would remove the path the new master serves.
   */
  private publishSockets(): void {
    for (const [i, l] of this.listeners.entries()) {
      const named = this.named[i]!.address;
      if (l.address.kind !== "unix" || named.kind !== "unix" || l.address.path === named.path) continue;
      try {
        renameSync(l.address.path, named.path);
      } catch {
        // published already (a worker that joined a socket in use)
      }
    }
  }

  /** One crash more: no spawn for 100 ms, doubling with each crash in a row, at most 10 s. */
  private backOff(): void {
    this.crashes++;
    this.spawnAfter = Date.now() + Math.min(10_000, 100 * 2 ** (this.crashes - 1));
  }

  /** Resolves to the first boot failure among `ws`, or null once all serve. */
  private async waitBooted(ws: Worker[]): Promise<{ code: number; message: string } | null> {
    const results = await Promise.allSettled(ws.map((w) => w.booted));
    const failed = results.findIndex((r) => r.status === "rejected");
    if (failed < 0) return null;
    const w = ws[failed]!;
    return w.bootError ?? { code: EXIT.workerBoot, message: (results[failed] as PromiseRejectedResult).reason?.message ?? "worker failed to boot" };
  }

  // ------------------------------------------------------------- signals

  private enqueue(what: Signal | (() => Promise<void>)): void {
    this.queue = this.queue.then(() => (typeof what === "function" ? what() : this.handle(what))).catch((err) =>
      this.log.error(`master: ${describeError(err)}`)
    );
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
        if (!this.canOverlap) return void this.log.error(`${this.runtime.name} cannot serve a unix socket from several workers; not adding one`);
        this.workerCount++;
        return this.manage();
      case "SIGTTOU":
        if (this.workerCount <= 1) return void this.log.info("one worker left; not removing it");
        this.workerCount--;
        return this.manage();
      case "SIGUSR1":
        // as Gunicorn: the master reopens its files, then each worker reopens its own
        reopenLogFiles((m) => this.log.error(m));
        this.handLogs();
        this.log.info("Reopened log files");
        for (const w of this.workers.values()) w.proc.kill("SIGUSR1");
        return;
      case "SIGUSR2":
        return this.upgrade();
      case "SIGWINCH":
        // as Gunicorn, which heeds it only as a daemon (node:tty asked for here: it costs a Bun master 0.8 MB)
        if ((await dynamicImport<typeof import("node:tty")>("node:tty")).isatty(0)) {
          return void this.log.info("WINCH ignored: this master runs in a terminal, which sends it at every resize");
        }
        this.workerCount = 0;
        this.log.info("Stopping every worker gracefully; the master stays (HUP or TTIN bring workers back, TERM ends it)");
        return this.manage();
    }
  }

  /** USR2: a new master from the tsgw on disk, handed this one's sockets; this one serves on until WINCH or TERM. */
  private upgrade(): void {
    if (this.upgrading) return void this.log.warn(`an upgrade is under way already: new master ${this.upgrading} is starting`);
    if (this.successor) return void this.log.warn(`this master was upgraded already: master ${this.successor} serves (TERM this one to end it)`);
    const plan = planUpgrade(this.runtime, this.resolved.listeners, this.named, this.listeners);
    if (typeof plan === "string") return this.upgraded(undefined, { ok: false, message: `cannot upgrade: ${plan}` });
    const { pidfile } = this.config;
    if (pidfile) {
      try {
        renameSync(pidfile, `${pidfile}.oldbin`);
      } catch (err) {
        return this.upgraded(undefined, { ok: false, message: `cannot rename the pidfile to ${pidfile}.oldbin: ${(err as Error).message}` });
      }
    }
    const child = startMaster(this.runtime, this.input.argv, plan.env, { detached: false, out: "inherit", fds: plan.fds });
    const pid = (this.upgrading = child.pid ?? 0);
    this.log.info(`Upgrading: new master started with pid ${pid}`);
    void wordFrom(child).then((word) => this.enqueue(async () => this.upgraded(pid, word)));
  }

  /** The new master's word (`pid` undefined: none was started). */
  private upgraded(pid: number | undefined, word: Word): void {
    this.upgrading = undefined;
    this.upgrades++;
    if (word.ok) {
      this.successor = word.pid;
      this.lastUpgrade = { ok: true, pid: word.pid };
      // the endpoints (--stats, --metrics) are the new master's now
      this.stats?.close();
      this.metricsServer?.close();
      this.stats = this.metricsServer = undefined;
      void this.notifier?.handOver(word.pid);
      return void this.log.info(`Upgraded: master ${word.pid} serves; WINCH stops this master's workers, TERM ends this master (${process.pid})`);
    }
    const { pidfile } = this.config;
    if (pidfile && pid !== undefined) {
      try {
        renameSync(`${pidfile}.oldbin`, pidfile);
      } catch {
        // moved by the operator meanwhile
      }
    }
    const error = pid === undefined ? word.message : `new master ${pid}: ${word.message}`;
    this.lastUpgrade = { ok: false, error };
    this.log.error(`upgrade failed, this master keeps serving: ${error}`);
  }

  private async reload(): Promise<void> {
    const finish = (ok: boolean, error?: string) => {
      this.reloads++;
      this.lastReload = ok ? { ok } : { ok, error };
      if (error) this.log.error(`reload failed, the old workers keep serving: ${error}`);
      else this.log.info(`Reloaded: generation ${this.generation} serves`);
      void this.notifier?.ready(error ? `reload failed, generation ${this.generation} serves: ${error}` : this.statusLine());
    };
    void this.notifier?.reloading();
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
    if (!this.canOverlap) {
      this.log.warn(`${this.runtime.name} cannot share a unix socket between generations: stopping the old worker before starting the new one`);
    }
    const previous = { generation: this.generation, workerCount: this.workerCount };
    const old = [...this.workers.values()].filter((w) => w.state !== "stopping");
    this.generation++;
    this.workerCount = next.config.workers;
    this.reloading = true;
    const failure = await this.launch();
    this.reloading = false;
    if (failure) {
      for (const w of this.workers.values()) {
        if (w.generation !== this.generation) continue;
        w.abandoned = true;
        w.proc.kill("SIGKILL");
      }
      this.generation = previous.generation;
      this.workerCount = previous.workerCount;
      // where the old generation had to go first, nothing serves now: its successors start with backoff
      if (!this.canOverlap) this.backOff();
      this.manage();
      return finish(false, failure.message);
    }
    this.resolved = { ...next, listeners: this.resolved.listeners };
    this.manage(); // the old generation leaves
    await Promise.all(old.map((w) => w.exited));
    finish(true);
  }

  private async stop(graceful: boolean): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    // (after an upgrade, systemd is watching the new master)
    if (!this.successor) void this.notifier?.stopping();
    clearInterval(this.ticker);
    clearTimeout(this.backoffTimer);
    const all = [...this.workers.values()];
    for (const w of all) this.tellToStop(w, graceful ? "SIGTERM" : "SIGINT");
    const limit = graceful ? this.config.gracefulTimeout * 1000 + 500 : 2000;
    const deadline = new Promise<void>((r) => setTimeout(r, limit).unref());
    await Promise.race([Promise.all(all.map((w) => w.exited)), deadline]);
    if (graceful) { for (const w of this.workers.values()) if (!w.abandoned) this.killBusy(w); }
    await this.killAll();
    this.cleanup();
    await this.hook("onExit", this.serverInfo());
    await this.notifier?.close();
    this.log.info("Shutting down: Master");
    this.done(this.exitCode);
  }

  /** A worker still draining past graceful-timeout: it goes now. */
  private killBusy(w: Worker): void {
    this.log.warn(`Worker (pid:${w.proc.pid}) still busy after graceful-timeout ${this.config.gracefulTimeout}s; killing it`);
    w.abandoned = true;
    w.proc.kill("SIGKILL");
  }

  private async killAll(): Promise<void> {
    clearInterval(this.ticker);
    clearTimeout(this.backoffTimer);
    const all = [...this.workers.values()];
    // (an abandoned worker was sent its SIGKILL already)
    for (const w of all) {
      if (w.abandoned) continue;
      w.abandoned = true;
      w.proc.kill("SIGKILL");
    }
    await Promise.all(all.map((w) => w.exited));
  }

  private cleanup(): void {
    if (this.config.pidfile && this.pidfileTaken) removePidfile(this.config.pidfile, process.pid);
    if (this.config.pidfile) removePidfile(`${this.config.pidfile}.oldbin`, process.pid);
    closeControl(this.control, process.pid);
    this.stats?.close();
    this.metricsServer?.close();
    this.watcher?.close();
    this.statsd?.close();
    // after an upgrade (or during one) the sockets are the new master's
    if (!this.successor && !this.upgrading) { for (const l of [...this.named, ...this.listeners]) removeSocket(l.address); }
  }

  /** Workers that run as another user must be able to reopen their log files after a rotation: create and give them. */
  private handLogs(): void {
    const { user, group, errorLog, accessLog } = this.config;
    for (const problem of handLogFiles([errorLog, accessLog], workerOwner(user, group))) {
      this.log.warn(`cannot hand a log file to the workers' user: ${problem}`);
    }
  }

  // --------------------------------------------------------------- hooks

  private hook(name: Parameters<typeof runHook>[1], ...args: unknown[]): Promise<void> {
    return runHook(this.config, name, this.log, ...args);
  }

  private serverInfo(): ServerInfo {
    return { pid: process.pid, generation: this.generation, workers: this.workerCount, config: this.config };
  }

  private workerInfo(w: Worker): WorkerInfo {
    return { id: w.id, pid: w.proc.pid, generation: w.generation };
  }

  // -------------------------------------------------------------- status

  /** --watch: a changed file reloads the workers the way HUP does */
  private async watch(): Promise<void> {
    const { watchFiles } = await import("./watch.ts");
    const dirs = this.config.watchDir.length
      ? this.config.watchDir.map((d) => resolvePath(this.input.cwd, d))
      : [resolvePath(this.input.cwd, this.config.chdir ?? ".")];
    this.watcher = watchFiles(dirs, this.config.watchIgnore, (file) => {
      this.log.info(`Watched file changed: ${file}; reloading`);
      this.enqueue("SIGHUP");
    }, (m) => this.log.warn(m));
    this.log.info(`Watching for changes: ${dirs.join(", ")}`);
  }

  /** STATUS= for systemd: 2 workers, generation 3, 1,234 requests */
  private statusLine(): string {
    const live = [...this.workers.values()].filter((w) => w.generation === this.generation);
    const served = this.tally.served([...this.workers.values()]);
    return `${live.length} worker${live.length === 1 ? "" : "s"}, generation ${this.generation}, ${served.toLocaleString("en-US")} requests`;
  }

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
      upgrades: this.upgrades,
      lastUpgrade: this.lastUpgrade,
      gracefulTimeout: this.config.gracefulTimeout,
      listeners: this.named.map((l) => formatListener(l)),
      workers: [...this.workers.values()]
        .sort((a, b) => a.generation - b.generation || a.slot - b.slot)
        .map((w) => ({
          id: w.id,
          slot: w.slot,
          pid: w.proc.pid,
          generation: w.generation,
          state: w.state,
          status: w.inFlight > 0 || w.webSockets.open > 0 ? "busy" : "idle",
          requests: w.requests,
          inFlight: w.inFlight,
          webSockets: w.webSockets,
          rss: w.rss,
          ...(w.threads !== undefined ? { threads: w.threads } : {}),
          lastBeat: Math.max(0, now - w.lastBeat) / 1000,
          respawns: this.spawnsBySlot.get(w.slot) ?? 0,
          uptime: Math.round((now - w.startedAt) / 1000),
        })),
    };
  }

  /**
   * Before any worker starts: stale unix sockets checked once here (workers
   * share them), and port 0 made concrete so every worker binds the same
   * port; what an old master handed over is taken as it is. Each listener
   * as the operator knows it, and as the workers are given it.
   */
  private async concreteListeners(listeners: Listener[]): Promise<[named: Listener[], served: Listener[]]> {
    const named: Listener[] = [];
    const served: Listener[] = [];
    for (const l of listeners) {
      const inherited = this.inheritance?.claim(l);
      if (inherited) {
        named.push(inherited.named);
        served.push(inherited.served);
        continue;
      }
      const a = l.address;
      if (a.kind === "unix") await prepareUnixPath(a.path);
      // a bind without SO_REUSEPORT fails where anything listens, SO_REUSEPORT or not: workers that share
      // the port with SO_REUSEPORT (Bun, Deno) would otherwise join another server's port silently
      const bound = a.kind === "tcp" ? { ...l, address: { ...a, port: await this.runtime.probePort(a, schemeOf(l)) } } : l;
      named.push(bound);
      served.push(this.servedAs(bound));
    }
    for (const key of this.inheritance?.closeUnclaimed() ?? []) this.log.info(`${key} is no longer configured: closed the socket the old master handed over`);
    return [named, served];
  }
}

/** The name a shared unix socket is bound under until it is published (see publishSockets), where the OS allows one that long. */
function bindingPath(path: string): string {
  const own = join(dirname(path), `.${basename(path)}.${process.pid}`);
  return Buffer.byteLength(own) <= MAX_SOCKET_PATH ? own : path;
}
