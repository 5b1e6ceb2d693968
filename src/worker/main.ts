/**
 * A worker under the master: resolve the same configuration, load the app,
 * serve on the master's addresses, report to the master (ready, heartbeats,
 * retirement) and stop on its signals. A boot failure is reported with its
 * exit code and message, so the master can tell the operator in one line.
 * With --threads, the app is loaded and served by the worker's threads
 * (`thread-pool.ts`), and this process's main thread supervises them.
 */
import { connections } from "../runtime/connection-count.ts";
import { closeSync, openSync } from "node:fs";
import type { Listener } from "../config/address.ts";
import { resolveConfig, type ResolvedConfig } from "../config/load.ts";
import { describeError, EXIT, TsgwError } from "../errors.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { setProcessTitle } from "../log/title.ts";
import type { RunningServer, Runtime } from "../runtime/types.ts";
import { runHook } from "../hooks.ts";
import { rateLimited } from "../log/rate.ts";
import { holdLifeline } from "./lifeline.ts";
import { webSockets } from "../app/upgrade.ts";
import { type BeatFigures, type RetireCause, WORKER_ENV, type WorkerMessage } from "../protocol/worker.ts";
import type { LoadedApp } from "../app/load.ts";
import { listenAll, loadConfiguredApp, prepareProcess, requestCounter, stopOnSignals } from "./serve.ts";
import { switchUser } from "./user.ts";

/** What the master tells a worker through its environment; a worker's serving threads are given the same. */
export interface WorkerSetup {
  id: number;
  generation: number;
  /** the listeners to serve, as the master resolved them (port 0 made concrete) */
  listeners: Listener[];
  /** this one logs how the app was loaded (once per generation) */
  announce: boolean;
  stats: boolean;
  metrics: boolean;
}

function setupFrom(env: Record<string, string | undefined>): WorkerSetup {
  return {
    id: Number(env[WORKER_ENV.id]),
    generation: Number(env[WORKER_ENV.generation]),
    listeners: JSON.parse(env[WORKER_ENV.listeners] ?? "[]") as Listener[],
    announce: env[WORKER_ENV.announce] === "1",
    stats: env[WORKER_ENV.stats] === "1",
    metrics: env[WORKER_ENV.metrics] === "1",
  };
}

/** The master's configuration, as a worker (or one of its threads) resolves it: `cwd` is the master's. */
export async function workerConfig(runtime: Runtime, argv: string[], setup: WorkerSetup, cwd: string): Promise<ResolvedConfig> {
  const resolved = await resolveConfig({ argv, env: process.env, cwd, importModule: runtime.importModule });
  resolved.listeners = setup.listeners;
  return resolved;
}

export interface Serving {
  /** the app, where this thread loaded it (not a --threads worker's main thread) */
  app?: LoadedApp;
  servers: RunningServer[];
  /** what each listener serves at, in the configuration's order (its port made concrete) */
  urls: string[];
  /** what a heartbeat counts, now */
  figures(): BeatFigures;
}

/**
 * Load the app and serve it here (a worker process, or one serving thread):
 * `retire` asks for a replacement (max-requests, a listener that died).
 * `appCwd` is the app's folder, made the working folder by prepareProcess.
 */
export async function serveHere(
  runtime: Runtime,
  resolved: ResolvedConfig,
  setup: WorkerSetup,
  appCwd: string,
  log: Logger,
  retire: (reason: string, cause: RetireCause) => void,
  thread?: number,
): Promise<Serving> {
  const { config } = resolved;
  const { id } = setup;
  const app = await loadConfiguredApp(runtime, resolved, appCwd, log, setup.announce);
  await runHook(config, "postWorkerInit", log, { id, pid: process.pid, generation: setup.generation, ...(thread ? { thread } : {}) });
  // (Math.random: the jitter spreads restarts, it needs no crypto; node:crypto costs Bun 5 MB a worker)
  const limit = config.maxRequests > 0 ? config.maxRequests + Math.floor(Math.random() * (config.maxRequestsJitter + 1)) : 0;
  const onStart = limit ? (n: number) => void (n === limit && retire(`served ${limit} requests (max-requests)`, "max-requests")) : () => {};
  // loaded only where the master asks for metrics
  const metrics = setup.metrics ? new (await import("./metrics.ts")).MetricsCollector() : undefined;
  const counter = requestCounter(resolved, onStart, setup.stats, metrics);
  connections.wanted = metrics !== undefined;
  const died = (m: string) => {
    log.error(m);
    retire("a listener stopped serving", "listener");
  };
  const servers = await listenAll(runtime, resolved, app, log, { workerId: id, shared: true, threaded: thread !== undefined, counter, onListenerDied: died });
  return {
    app,
    servers,
    urls: servers.map((s) => s.url),
    figures: () => ({
      requests: counter.started,
      inFlight: counter.inFlight,
      webSockets,
      ...(metrics ? { metrics: metrics.snapshot() } : {}),
      ...(connections.counted ? { connections: connections.open } : {}),
    }),
  };
}

/** A worker's (or thread's) request to be replaced, sent once whatever asks for it next. */
export function retireOnce(send: (m: WorkerMessage) => void, id: number): (reason: string, cause: RetireCause) => void {
  let retiring = false;
  return (reason, cause) => {
    if (retiring) return;
    retiring = true;
    send({ tsgw: "retire", id, reason, cause });
  };
}

/** How often a worker (or thread) beats: often enough that a healthy one is never near its timeout. */
export const beatInterval = (timeout: number) => Math.min(1000, (timeout * 1000) / 4);

export async function runWorker(runtime: Runtime, argv: string[], env: Record<string, string | undefined>): Promise<void> {
  const setup = setupFrom(env);
  const { id } = setup;
  const cwd = process.cwd();
  let log = createLogger("info");
  const send = (m: WorkerMessage) => runtime.toMaster(m);
  // node:cluster's own "disconnect" handler (exit at once), taken before the app adds any of its own
  const clusterOnDisconnect = process.listeners("disconnect");
  try {
    const resolved = await workerConfig(runtime, argv, setup, cwd);
    const { config } = resolved;
    log = createLogger(config.logLevel, config.errorLog);
    setProcessTitle("worker", config);
    const masterPid = process.ppid;
    const retire = retireOnce(send, id);
    const appCwd = prepareProcess(resolved, cwd);
    const threaded = config.threads > 1
      ? await (await import("./thread-pool.ts")).servePool(runtime, { argv, setup, cwd, appCwd, resolved, log, retire })
      : undefined;
    const serving = threaded ?? await serveHere(runtime, resolved, setup, appCwd, log, retire);
    switchUser(runtime, config.user, config.group);
    send({ tsgw: "ready", id, urls: serving.urls });
    const rssLimit = config.reloadOnRss * 1024 * 1024;
    // a last heartbeat as a graceful stop ends: the master's metrics then miss none of this worker's requests
    const last = setup.metrics ? () => send(heartbeat()) : undefined;
    const stop = stopOnSignals(serving.servers, log, { gracefulTimeout: config.gracefulTimeout, app: serving.app, last, reopen: threaded?.reopen });
    let orphaned = false;
    const orphan = () => {
      if (orphaned) return;
      orphaned = true;
      log.warn(`the master (pid ${masterPid}) is gone; finishing the requests in flight, then exiting`);
      void stop(true, "master gone");
    };
    const beatMs = beatInterval(config.timeout);
    const lifeline = await holdLifeline(runtime, {
      master: masterPid,
      stuckMs: beatMs * 2 + 1000,
      graceMs: config.gracefulTimeout * 1000 + 1000,
      onOrphaned: orphan,
    });
    let rss = 0;
    const heartbeat = (): WorkerMessage => ({ tsgw: "beat", id, rss, ...serving.figures() });
    const checkFds = fdWatch(log);
    const beat = () => {
      lifeline.beat();
      try {
        rss = process.memoryUsage.rss();
      } catch {
        // out of file descriptors (Node and Bun read /proc for it): report the last figure
      }
      checkFds();
      send(heartbeat());
      if (rssLimit && rss > rssLimit) retire(`resident memory ${Math.round(rss / 1048576)} MB is over reload-on-rss ${config.reloadOnRss} MB`, "rss");
    };
    setInterval(beat, beatMs).unref();
    // The master's IPC channel closed (it was killed hard): finish what is in flight, serve nothing new.
    // node:cluster's own handler would exit at once, cutting those requests: it goes.
    for (const l of clusterOnDisconnect) process.off("disconnect", l as () => void);
    process.on("disconnect", orphan);
    if (process.connected === false) orphan(); // gone before any of this was in place
  } catch (err) {
    const { code, message } = bootFailure(err);
    send({ tsgw: "boot-error", id, code, message });
    // give the message time to reach the master before the exit does
    setTimeout(() => process.exit(code), 100);
  }
}

/** What a worker (or thread) that failed to boot tells: an operator's error as it is, anything else as a boot failure. */
export function bootFailure(err: unknown): { code: number; message: string } {
  return err instanceof TsgwError
    ? { code: err.exitCode, message: err.message }
    : { code: EXIT.workerBoot, message: `worker failed to boot: ${describeError(err)}` };
}

/**
 * Node's and Bun's servers shed the connections they cannot accept for want
 * of file descriptors without a word (libuv closes them at once), so the
 * heartbeat opens one itself (two syscalls a second) to tell the operator.
 */
function fdWatch(log: Logger): () => void {
  const tell = rateLimited((m: string) => log.error(m), 10_000);
  return () => {
    try {
      closeSync(openSync("/dev/null", "r"));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "EMFILE" || code === "ENFILE") {
        tell(`out of file descriptors (${code}): new connections are shed until some close; raise the limit (ulimit -n, systemd's LimitNOFILE=)`);
      }
    }
  };
}
