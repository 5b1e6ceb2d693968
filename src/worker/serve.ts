/**
 * Serving the app in this process: load it, listen on every address, stop on
 * signals. (The master/worker pool builds on this; today one process serves.)
 */
import type { ResolvedConfig } from "../config/load.ts";
import { loadApp, type LoadedApp } from "../app/load.ts";
import { guardFetch, guardNode } from "../app/guard.ts";
import { describeError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { RunningServer, Runtime } from "../runtime/types.ts";

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

export async function loadConfiguredApp(runtime: Runtime, resolved: ResolvedConfig, cwd: string, log: Logger): Promise<LoadedApp> {
  const { config } = resolved;
  runtime.prepareWorker();
  const app = await loadApp(runtime, config.app!, { cwd, callable: config.callable, interface: config.interface });
  if (app.note) log.info(app.note);
  const kind = app.kind === "fetch" ? "fetch handler" : "Node listener";
  log.info(`app ${app.spec.path}:${app.exportName}${app.spec.factory ? "()" : ""} loaded as ${kind} (${app.reason})`);
  return app;
}

export async function serve(runtime: Runtime, resolved: ResolvedConfig, app: LoadedApp, log: Logger, workerId = 1): Promise<void> {
  const onError = (m: string) => log.error(m);
  const options = { workerId, socketMode: resolved.config.chmodSocket, onError };
  const servers: RunningServer[] = [];
  try {
    for (const address of resolved.binds) {
      const server =
        app.kind === "fetch"
          ? await runtime.serveFetch(address, guardFetch(app.handler, onError), options)
          : await runtime.serveNode(address, guardNode(app.listener, onError), options);
      servers.push(server);
      log.info(`Listening at: ${server.url} (${process.pid})`);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.stop(false)));
    throw err;
  }
  process.on("unhandledRejection", (reason) => log.error(`unhandled rejection in the app: ${describeError(reason)}`));
  let stopping = false;
  const stop = async (graceful: boolean, signal: string) => {
    if (stopping) {
      if (!graceful) process.exit(0); // a second INT while draining: leave now
      return;
    }
    stopping = true;
    log.info(`Handling signal: ${signal}; ${graceful ? "graceful" : "fast"} stop`);
    const deadline = resolved.config.gracefulTimeout * 1000;
    const timer = setTimeout(() => {
      log.warn(`graceful timeout (${resolved.config.gracefulTimeout}s) reached; closing open requests`);
      process.exit(0);
    }, deadline);
    await Promise.all(servers.map((s) => s.stop(graceful)));
    clearTimeout(timer);
    log.info("Shutting down");
    process.exit(0);
  };
  process.on("SIGTERM", () => stop(true, "term"));
  process.on("SIGINT", () => stop(false, "int"));
  process.on("SIGQUIT", () => stop(false, "quit"));
}
