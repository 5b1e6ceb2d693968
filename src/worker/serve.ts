/**
 * Serving a loaded app in this process: listen on every address, count
 * requests, and stop on signals. Used by workers under the master and by
 * --no-master, where this one process is all there is.
 */
import type { ResolvedConfig } from "../config/load.ts";
import { loadApp, type LoadedApp } from "../app/load.ts";
import { guardFetch, guardNode } from "../app/guard.ts";
import { refuseUntakenUpgrades } from "../app/upgrade.ts";
import { forwardedScheme } from "../app/forwarded.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { AccessLog } from "../log/access.ts";
import { openLogTarget, reopenLogFiles } from "../log/files.ts";
import type { MetricsCollector } from "./metrics.ts";
import { RequestCounter } from "./observe.ts";
import { rateLimited } from "../log/rate.ts";
import { allTraps, nodeServerTrap } from "../app/adopt.ts";
import type { ServingAt } from "../app/contract.ts";
import { formatListener } from "../config/address.ts";
import { switchUser } from "./user.ts";
import type { RunningServer, Runtime, ServeOptions } from "../runtime/types.ts";

/** Put the app's environment and working folder in place (before loading it). */
export function prepareProcess(resolved: ResolvedConfig, cwd: string): string {
  for (const kv of resolved.config.env) {
    const i = kv.indexOf("=");
    process.env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const dir = resolved.config.chdir;
  if (dir) {
    try {
      process.chdir(dir);
    } catch (err) {
      throw new Error(`cannot change to folder ${dir}: ${describeError(err)}`);
    }
  }
  return process.cwd() || cwd;
}

/** Where tsgw serves, as an app's adopted server reports it: the first HTTP listener, else the first of any kind. */
function servingAt(resolved: ResolvedConfig): ServingAt {
  const first = resolved.listeners.find((l) => l.protocol === "http") ?? resolved.listeners[0];
  if (!first) return { url: "" };
  const url = resolved.listeners.map(formatListener).join(", ");
  const a = first.address;
  return a.kind === "unix" ? { url, unix: a.path } : a.kind === "tcp" ? { url, tcp: { host: a.host, port: a.port } } : { url };
}

/** how much before --timeout (counted from the process start) a worker stops waiting for the app to listen */
const LISTEN_WAIT_MARGIN_MS = 500;

/** Load the app; `announce` logs how it was loaded (once per generation, not once per worker). */
export async function loadConfiguredApp(runtime: Runtime, resolved: ResolvedConfig, cwd: string, log: Logger, announce = true): Promise<LoadedApp> {
  const { config } = resolved;
  runtime.installGlobals();
  const trap = allTraps([await nodeServerTrap(runtime.httpsOwnsListen), runtime.trapServers]);
  const at = servingAt(resolved);
  const app = await loadApp(runtime.importModule, config.app!, {
    cwd,
    callable: config.callable,
    interface: config.interface,
    trap,
    at,
    // the master kills a worker that has not booted within --timeout of its start: give up a little before, with
    // an error that says why (the message needs a moment to reach the master)
    listenWait: { deadline: config.timeout * 1000 - LISTEN_WAIT_MARGIN_MS, seconds: config.timeout },
  });
  const say = announce ? log.info : log.debug;
  if (app.note) say(app.note);
  const kind = app.kind === "fetch" ? "fetch handler" : "Node listener";
  const served = app.exportName ? `${app.spec.path}:${app.exportName}${app.spec.factory ? "()" : ""}` : app.spec.path;
  say(`app ${served} loaded as ${kind} (${app.reason})`);
  if (app.adopted) say(`app asked for ${app.adopted.asked}; serving on ${at.url || "tsgw's listeners"} instead`);
  for (const other of app.unbound) {
    if (app.adopted && other.sameAs(app.adopted)) log.debug(`the app listened again with the same handler (${other.asked}); served once`);
    else {
      (announce ? log.warn : log.debug)(
        `the app started another server (${other.via}, asking for ${other.asked}); tsgw serves ${
          app.adopted ? "only the first" : "the export"
        }, so this one is not bound`,
      );
    }
  }
  return app;
}

export interface ServeSetup {
  workerId: number;
  shared: boolean;
  /** one of a worker's serving threads (--threads) */
  threaded?: boolean;
  /** counts requests (and, with an access log or stats, watches each one) */
  counter: RequestCounter;
  /** a listener stopped serving for good */
  onListenerDied: (message: string) => void;
}

/** The request counter a configuration asks for: finish hooks only with an access log, a stats server or metrics. */
export function requestCounter(
  resolved: ResolvedConfig,
  onStart: (started: number) => void,
  stats: boolean,
  metrics?: MetricsCollector,
): RequestCounter {
  const { accessLog, accessLogFormat } = resolved.config;
  const access = accessLog ? new AccessLog(openLogTarget(accessLog, 1, true), accessLogFormat) : undefined;
  return new RequestCounter(onStart, stats || access !== undefined || metrics !== undefined, access, metrics);
}

type Tunnels = Awaited<ReturnType<typeof import("../runtime/node-server.ts").upgradeOnlyServer>>;

/**
 * What takes the WebSocket handshakes that come over uwsgi (nginx tunnels
 * the connection after a 101): a Node listener's adopted upgrade listeners
 * or onServer hook, or a fetch app's crossws hooks; null when nothing can.
 */
async function uwsgiTunnels(runtime: Runtime, app: LoadedApp, options: ServeOptions): Promise<Tunnels | null> {
  const upgrade = app.kind === "node" ? app.upgrade : await runtime.streamUpgrades(app.websocket, options);
  if (!upgrade && !app.onServer) return null;
  // loaded only where WebSockets may come over uwsgi
  const { upgradeOnlyServer } = await import("../runtime/node-server.ts");
  return upgradeOnlyServer({ ...options, upgrade });
}

/** Listen on every configured address; on failure, close what was opened and throw. */
export async function listenAll(runtime: Runtime, resolved: ResolvedConfig, app: LoadedApp, log: Logger, setup: ServeSetup): Promise<RunningServer[]> {
  const onError = (m: string) => log.error(m);
  const { config } = resolved;
  const options = {
    workerId: setup.workerId,
    socketMode: config.chmodSocket,
    onError,
    onWarning: (m: string) => log.warn(m),
    onListenerDied: setup.onListenerDied,
    shared: setup.shared,
    threaded: setup.threaded,
    headerTimeout: config.headerTimeout,
    gracefulTimeout: config.gracefulTimeout,
    websocketPing: config.websocketPing,
    websocketMaxSize: config.websocketMaxSize * 1024,
    keepAlive: config.keepAlive,
    bodyTimeout: config.bodyTimeout,
    observe: setup.counter,
    upgrade: app.kind === "node" ? app.upgrade : undefined,
    onServer: app.onServer,
    websocket: app.kind === "fetch" ? app.websocket : undefined,
  };
  // the shims apply the observer (see ServeOptions.observe); the uwsgi server applies it here
  let handler = app.kind === "fetch"
    ? forwardedScheme(refuseUntakenUpgrades(guardFetch(app.handler, onError, app.guessed), (m) => log.warn(m)), config.forwardedAllowIps)
    : undefined;
  let listener = app.kind === "node" ? guardNode(app.listener, onError) : undefined;
  if (config.staticMap.length > 0) {
    // loaded only where static files are configured
    const { StaticFiles, staticFetch, staticNode } = await import("./static.ts");
    const files = new StaticFiles(config.staticMap, process.cwd());
    for (const root of files.prepare()) log.warn(`static-map: ${root} is not a folder; its prefix goes to the app`);
    if (handler) handler = staticFetch(files, handler, runtime.fileBody, onError);
    if (listener) listener = staticNode(files, listener, onError);
  }
  const servers: RunningServer[] = [];
  let tunnels: Tunnels | undefined | null;
  try {
    for (const { protocol, address, tls: tlsFiles } of resolved.listeners) {
      if (protocol === "uwsgi") {
        tunnels ??= await uwsgiTunnels(runtime, app, options);
        const uwsgi = {
          workerId: setup.workerId,
          bufferSize: config.bufferSize,
          socketTimeout: config.socketTimeout,
          bodyTimeout: config.bodyTimeout,
          allowFrom: config.socketAllowFrom,
          tunnel: tunnels?.take,
          onError,
          onWarning: rateLimited((m: string) => log.warn(m), 10_000),
        };
        const observed = handler ? { fetch: setup.counter.fetch(handler) } : { node: setup.counter.node(listener!) };
        // loaded only where a uwsgi listener is configured (each module loaded is memory per worker)
        const { uwsgiConnections } = await import("./uwsgi/connections.ts");
        const running = await runtime.serveConnections(address, "uwsgi", await uwsgiConnections(observed, uwsgi), options);
        const goodbye = tunnels;
        servers.push(
          goodbye ? { url: running.url, stop: (graceful) => (goodbye.goingAway(graceful ? config.gracefulTimeout : 0), running.stop(graceful)) } : running,
        );
      } else {
        // read by each worker as it listens: a renewed certificate is served after a reload
        const tls = tlsFiles ? (await import("../config/tls.ts")).readTls(tlsFiles, config, resolved.sources[tlsFiles.setting]) : undefined;
        servers.push(
          handler
            ? await runtime.serveFetch(address, handler, { ...options, tls, native: app.kind === "fetch" ? app.native : undefined })
            : await runtime.serveNode(address, listener!, { ...options, tls }),
        );
      }
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop(false)));
    throw err;
  }
  return servers;
}

/**
 * Errors of the app that no request owns (a throw in an event handler or a
 * timer, a rejection nobody awaits, an app stream written after the client
 * left) are logged with their stack, and the worker serves on: they end
 * nothing but what they already broke, where dying would cut every request
 * in flight.
 */
function containAppErrors(log: Logger): void {
  const stack = (err: unknown) => (err instanceof Error && err.stack ? err.stack : describeError(err));
  process.on("unhandledRejection", (reason) => log.error(`unhandled rejection in the app: ${stack(reason)}`));
  process.on("uncaughtException", (err) => log.error(`uncaught exception in the app (the worker serves on): ${stack(err)}`));
}

export type Stop = (graceful: boolean, reason: string) => Promise<void>;

/** How long the app's own close callbacks (an adopted server's `close(cb)`) may run before the worker exits, if they do not exit it themselves. */
const CLOSE_CALLBACKS_MS = 1000;
/** time for a message to the master to leave before the process exits */
const LAST_MESSAGE_MS = 50;

/**
 * A stop: graceful (stop accepting, let in-flight requests finish within the
 * graceful timeout, then `exit`) or fast (`exit` once the servers closed).
 * An app that closes the server tsgw adopted (`server.close(cb)` in its own
 * SIGTERM handler) stops the same graceful way, and its callback runs once
 * the requests in flight are done. `exit` is the process's, or a serving
 * thread's end.
 */
export function gracefulStop(
  servers: RunningServer[],
  log: Logger,
  { gracefulTimeout, before, app, last, exit = () => process.exit(0) }: {
    gracefulTimeout: number;
    /** as the stop begins */
    before?: () => void;
    app?: LoadedApp;
    /** once a graceful stop has served everything, just before the exit */
    last?: () => void;
    exit?: () => void;
  },
): Stop {
  containAppErrors(log);
  let stopping = false;
  const closers: (() => void)[] = [];
  const finish = async () => {
    for (const closed of closers) closed();
    last?.();
    // the close callbacks run, and the last message to the master leaves, before the exit
    const wait = closers.length > 0 ? Math.min(CLOSE_CALLBACKS_MS, gracefulTimeout * 1000) : last ? LAST_MESSAGE_MS : 0;
    if (wait) await new Promise((r) => setTimeout(r, wait));
    exit();
  };
  const stop: Stop = async (graceful, reason) => {
    if (stopping) {
      if (!graceful) exit(); // a second INT while draining: leave now
      return;
    }
    stopping = true;
    before?.();
    log.debug(`${reason}; ${graceful ? "graceful" : "fast"} stop`);
    if (!graceful) {
      await Promise.all(servers.map((s) => s.stop(false)));
      return exit();
    }
    const timer = setTimeout(() => {
      log.warn(`graceful timeout (${gracefulTimeout}s) reached; closing open requests`);
      exit();
    }, gracefulTimeout * 1000);
    await Promise.all(servers.map((s) => s.stop(true)));
    clearTimeout(timer);
    await finish();
  };
  if (app?.adopted) {
    app.adopted.onClose = () =>
      new Promise<void>((resolve) => {
        closers.push(resolve);
        void stop(true, "the app closed its server");
      });
  }
  return stop;
}

/**
 * TERM: a graceful stop, then exit 0. INT, QUIT: exit now. USR1: reopen the
 * log files (and `reopen`, the serving threads'). Returns the same stop for
 * other reasons (the master gone).
 */
export function stopOnSignals(
  servers: RunningServer[],
  log: Logger,
  options: Parameters<typeof gracefulStop>[2] & { reopen?: () => void },
): Stop {
  const stop = gracefulStop(servers, log, options);
  process.on("SIGTERM", () => stop(true, "Handling signal: term"));
  process.on("SIGINT", () => stop(false, "Handling signal: int"));
  process.on("SIGQUIT", () => stop(false, "Handling signal: quit"));
  process.on("SIGUSR1", () => {
    reopenLogFiles((m) => log.error(m));
    options.reopen?.();
  });
  return stop;
}

/** --no-master: this process loads the app and serves it, unsupervised. */
export async function serveAlone(runtime: Runtime, resolved: ResolvedConfig, app: LoadedApp, log: Logger): Promise<void> {
  const counter = requestCounter(resolved, () => {}, false);
  const died = (m: string) => {
    // unsupervised, nothing would replace the dead listener: exit, for the init system to restart tsgw
    log.fatal(`${m}; exiting`);
    process.exit(1);
  };
  const servers = await listenAll(runtime, resolved, app, log, { workerId: 1, shared: false, counter, onListenerDied: died });
  switchUser(runtime, resolved.config.user, resolved.config.group);
  for (const s of servers) log.info(`Listening at: ${s.url} (${process.pid})`);
  stopOnSignals(servers, log, { gracefulTimeout: resolved.config.gracefulTimeout, before: () => log.info("Shutting down"), app });
}
