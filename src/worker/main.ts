/**
 * A worker under the master: resolve the same configuration, load the app,
 * serve on the master's addresses, report to the master (ready, heartbeats,
 * retirement) and stop on its signals. A boot failure is reported with its
 * exit code and message, so the master can tell the operator in one line.
 */
import { connections } from "../runtime/connection-count.ts";
import { closeSync, openSync } from "node:fs";
import type { Listener } from "../config/address.ts";
import { resolveConfig } from "../config/load.ts";
import { describeError, EXIT, TsgwError } from "../errors.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import type { Runtime } from "../runtime/types.ts";
import { runHook } from "../hooks.ts";
import { rateLimited } from "../log/rate.ts";
import { holdLifeline } from "./lifeline.ts";
import { webSockets } from "../app/upgrade.ts";
import { type RetireCause, WORKER_ENV, type WorkerMessage } from "../protocol/worker.ts";
import { listenAll, loadConfiguredApp, prepareProcess, requestCounter, stopOnSignals } from "./serve.ts";
import { switchUser } from "./user.ts";

export async function runWorker(runtime: Runtime, argv: string[], env: Record<string, string | undefined>): Promise<void> {
  const id = Number(env[WORKER_ENV.id]);
  const cwd = process.cwd();
  let log = createLogger("info");
  const send = (m: WorkerMessage) => runtime.toMaster(m);
  // node:cluster's own "disconnect" handler (exit at once), taken before the app adds any of its own
  const clusterOnDisconnect = process.listeners("disconnect");
  try {
    const resolved = await resolveConfig({ argv, env, cwd, importModule: runtime.importModule });
    resolved.listeners = JSON.parse(env[WORKER_ENV.listeners] ?? "[]") as Listener[];
    const { config } = resolved;
    log = createLogger(config.logLevel, config.errorLog);
    const app = await loadConfiguredApp(runtime, resolved, prepareProcess(resolved, cwd), log, env[WORKER_ENV.announce] === "1");
    await runHook(config, "postWorkerInit", log, { id, pid: process.pid, generation: Number(env[WORKER_ENV.generation]) });
    const masterPid = process.ppid;
    let retiring = false;
    const retire = (reason: string, cause: RetireCause) => {
      if (retiring) return;
      retiring = true;
      send({ tsgw: "retire", id, reason, cause });
    };
    // (Math.random: the jitter spreads restarts, it needs no crypto; node:crypto costs Bun 5 MB a worker)
    const limit = config.maxRequests > 0 ? config.maxRequests + Math.floor(Math.random() * (config.maxRequestsJitter + 1)) : 0;
    const onStart = limit ? (n: number) => void (n === limit && retire(`served ${limit} requests (max-requests)`, "max-requests")) : () => {};
    // loaded only where the master asks for metrics
    const metrics = env[WORKER_ENV.metrics] === "1" ? new (await import("./metrics.ts")).MetricsCollector() : undefined;
    const counter = requestCounter(resolved, onStart, env[WORKER_ENV.stats] === "1", metrics);
    connections.wanted = metrics !== undefined;
    const died = (m: string) => {
      log.error(m);
      retire("a listener stopped serving", "listener");
    };
    const servers = await listenAll(runtime, resolved, app, log, { workerId: id, shared: true, counter, onListenerDied: died });
    switchUser(runtime, config.user, config.group);
    send({ tsgw: "ready", id, urls: servers.map((s) => s.url) });
    const rssLimit = config.reloadOnRss * 1024 * 1024;
    // a last heartbeat as a graceful stop ends: the master's metrics then miss none of this worker's requests
    const last = metrics ? () => send(heartbeat()) : undefined;
    const stop = stopOnSignals(servers, log, { gracefulTimeout: config.gracefulTimeout, app, last });
    let orphaned = false;
    const orphan = () => {
      if (orphaned) return;
      orphaned = true;
      log.warn(`the master (pid ${masterPid}) is gone; finishing the requests in flight, then exiting`);
      void stop(true, "master gone");
    };
    const beatMs = Math.min(1000, (config.timeout * 1000) / 4);
    const lifeline = await holdLifeline(runtime, {
      master: masterPid,
      stuckMs: beatMs * 2 + 1000,
      graceMs: config.gracefulTimeout * 1000 + 1000,
      onOrphaned: orphan,
    });
    let rss = 0;
    const heartbeat = (): WorkerMessage => ({
      tsgw: "beat",
      id,
      requests: counter.started,
      inFlight: counter.inFlight,
      rss,
      webSockets,
      ...(metrics ? { metrics: metrics.snapshot() } : {}),
      ...(connections.counted ? { connections: connections.open } : {}),
    });
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
    // beat often enough that a healthy worker is never near its timeout
    setInterval(beat, beatMs).unref();
    // The master's IPC channel closed (it was killed hard): finish what is in flight, serve nothing new.
    // node:cluster's own handler would exit at once, cutting those requests: it goes.
    for (const l of clusterOnDisconnect) process.off("disconnect", l as () => void);
    process.on("disconnect", orphan);
    if (process.connected === false) orphan(); // gone before any of this was in place
  } catch (err) {
    const code = err instanceof TsgwError ? err.exitCode : EXIT.workerBoot;
    const message = err instanceof TsgwError ? err.message : `worker failed to boot: ${describeError(err)}`;
    send({ tsgw: "boot-error", id, code, message });
    // give the message time to reach the master before the exit does
    setTimeout(() => process.exit(code), 100);
  }
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
