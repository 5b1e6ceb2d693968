#!/usr/bin/env -S deno run -A --unstable-net
/**
 * The `tsgw` command. The arguments are parsed by src/config from the
 * settings table, because settings need repeatable flags, INI/TS/env
 * layering and file:line errors that a generic parser cannot give; so no
 * command-line library is loaded (citty was, for the command's shape only,
 * and cost a master 6 MB on Bun with the node:util it loads).
 */
import { dirname, resolve as resolvePath } from "node:path";
import { resolveConfig, type ResolvedConfig, socketActivation } from "./config/load.ts";
import { actionsOf } from "./config/settings.ts";
import { formatListener } from "./config/address.ts";
import { describeError, EXIT, TsgwError } from "./errors.ts";
import { createLogger, type Logger } from "./log/logger.ts";
import { setProcessTitle } from "./log/title.ts";
import { currentRuntime, servingRuntime } from "./runtime/index.ts";
import type { RuntimeCore } from "./runtime/types.ts";
import { VERSION } from "./version.ts";
import { WORKER_ENV } from "./protocol/worker.ts";
import { servingThreadData } from "./runtime/threads.ts";

/** The command; `options` says how this program was built (for --version). */
async function runCommand(rawArgs: string[], options: MainOptions): Promise<void> {
  const runtime = await currentRuntime();
  const cwd = process.cwd();
  const resolved = await resolveConfig({ argv: rawArgs, env: process.env, cwd, importModule: runtime.importModule });
  if (resolved.action === "help") return void process.stdout.write((await import("./config/render.ts")).renderHelp(VERSION));
  if (resolved.action === "version") {
    return void process.stdout.write(
      `tsgw ${VERSION} (${runtime.name} ${runtime.version}${options.build ? `, ${options.build}` : ""})\n`,
    );
  }
  if (resolved.listeners.some((l) => l.tls)) {
    // loaded only where TLS is configured: node:crypto costs a process memory
    resolved.warnings.push(...(await import("./config/tls.ts")).checkTls(resolved, runtime.tlsRefusal));
  }
  const inherited = resolved.listeners.filter((l) => l.address.kind === "fd");
  if (inherited.length > 0 && !resolved.action) {
    if (resolved.config.daemon || resolved.config.daemonize) {
      throw new TsgwError("inherited sockets (fd://, LISTEN_FDS) stay with this process: no --daemon (systemd does the daemonizing)");
    }
    // (checked here, by the process systemd started: workers are given their listeners by the master)
    const passed = socketActivation(process.env).map((a) => a.fd);
    for (const { address } of inherited) {
      if (address.kind === "fd" && !passed.includes(address.fd)) {
        throw new TsgwError(
          `fd://${address.fd} is not a socket systemd passed (it passed ${
            passed.length ? `fds 3 to ${2 + passed.length}` : "none: LISTEN_FDS is not set for this process"
          })`,
        );
      }
    }
    if (runtime.inheritedSockets) throw new TsgwError(runtime.inheritedSockets);
  }
  if (resolved.config.threads > 1 && (!resolved.action || resolved.action === "check-config")) refuseThreads(runtime, resolved);
  if (resolved.action === "print-config") return void process.stdout.write((await import("./config/render.ts")).renderPrintConfig(resolved));
  if (resolved.action && actionsOf("manage").includes(resolved.action)) {
    const { reloadMaster, statusOf, stopMaster, upgradeMaster } = await import("./master/manage.ts");
    const pidfile = resolved.actionValue!;
    const done = resolved.action === "reload"
      ? await reloadMaster(pidfile)
      : resolved.action === "stop"
      ? await stopMaster(pidfile)
      : resolved.action === "upgrade"
      ? await upgradeMaster(pidfile)
      : await statusOf(pidfile, resolved.json === true);
    return void process.stdout.write(`${done}\n`);
  }
  const log = createLogger(resolved.config.logLevel, resolved.config.errorLog);
  for (const w of resolved.warnings) log.warn(w);
  if (!resolved.config.app) {
    throw new TsgwError("no app given: tsgw APP (e.g. tsgw demo:app), or module = ... in the INI file; see tsgw --help");
  }
  await start(runtime, resolved, rawArgs, cwd, log);
}

/** --threads needs a runtime with serving threads, and listeners that threads of one process can share (SO_REUSEPORT). */
function refuseThreads(runtime: RuntimeCore, resolved: ResolvedConfig): void {
  if (runtime.threadRefusal || !runtime.startServingThread) throw new TsgwError(runtime.threadRefusal ?? `--threads is not available on ${runtime.name}`);
  const unshared = resolved.listeners.find((l) => l.address.kind !== "tcp");
  if (unshared) {
    throw new TsgwError(
      `--threads shares each port between a worker's threads with SO_REUSEPORT, which ${
        unshared.address.kind === "unix" ? "a unix socket" : "an inherited socket"
      } (${formatListener(unshared)}) cannot be: serve it with --workers, or listen on TCP`,
    );
  }
}

async function start(runtime: RuntimeCore, resolved: ResolvedConfig, argv: string[], cwd: string, log: Logger): Promise<void> {
  if (resolved.action === "check-config" || !resolved.config.master) {
    // a check, or --no-master: this process loads the app itself (a master never loads app-loading code)
    const { loadConfiguredApp, prepareProcess, serveAlone } = await import("./worker/serve.ts");
    if (resolved.action !== "check-config") {
      log.info(`Starting tsgw ${VERSION} on ${runtime.name} ${runtime.version}, no master`);
      setProcessTitle("worker", resolved.config);
    }
    const serving = await servingRuntime();
    const app = await loadConfiguredApp(serving, resolved, prepareProcess(resolved, cwd), log);
    if (resolved.action === "check-config") {
      log.info("configuration OK");
      process.exit(EXIT.ok);
    }
    return serveAlone(serving, resolved, app, log);
  }
  const { daemon, daemonize } = resolved.config;
  const { isDaemonChild, launchDaemon } = await import("./master/daemon.ts");
  if ((daemon || daemonize) && !isDaemonChild()) return void process.stdout.write(`${await launchDaemon(runtime, argv, daemonize)}\n`);
  if (runtime.configureWorkers) {
    const { parseAppSpec } = await import("./app/spec.ts");
    const spec = parseAppSpec(resolved.config.app!, resolved.config.callable);
    if (typeof spec !== "string") runtime.configureWorkers(dirname(resolvePath(resolved.config.chdir ?? cwd, spec.path)));
  }
  const { Arbiter } = await import("./master/arbiter.ts");
  const arbiter = new Arbiter({ runtime, resolved, argv, env: process.env, cwd, log });
  await arbiter.run();
  process.exit(await arbiter.finished);
}

export interface MainOptions {
  /** set by a build (a standalone executable, the npm bundle): what it is, shown by --version */
  build?: string;
}

let started = false;

export async function main(commandLine: string[], options: MainOptions = {}): Promise<void> {
  // a serving thread imports the entry it was started from, which may start itself as well as export this
  if (started) return;
  started = true;
  const thread = servingThreadData();
  if (thread) {
    const { runThread } = await import("./worker/thread.ts");
    return runThread(await servingRuntime(), thread as import("./worker/thread-pool.ts").ThreadData);
  }
  const argv = inheritedArgv() ?? commandLine;
  // workers skip the CLI and the master's modules: every module loaded is memory per worker
  if (process.env[WORKER_ENV.id]) {
    const { runWorker } = await import("./worker/main.ts");
    return runWorker(await servingRuntime(), argv, process.env);
  }
  try {
    await runCommand(argv, options);
  } catch (err) {
    if (err instanceof TsgwError) {
      await failedDaemon(err.exitCode, err.message);
      await exitWith(err.exitCode, `tsgw: error: ${err.message}\n`);
    }
    await failedDaemon(EXIT.usage, `internal error: ${describeError(err)}`);
    await exitWith(EXIT.usage, `tsgw: internal error: ${describeError(err)}\n${process.env.TSGW_DEBUG ? `${(err as Error)?.stack}\n` : ""}`);
  }
}

/**
 * Workers and daemons re-execute this program with the arguments in the
 * environment, not on the command line: how a runtime rebuilds argv for a
 * child varies (a compiled Bun binary repeats its entry path). Taken out of
 * the environment so the app's own child processes do not inherit it.
 */
function inheritedArgv(): string[] | undefined {
  const json = process.env[WORKER_ENV.argv];
  if (json === undefined) return undefined;
  delete process.env[WORKER_ENV.argv];
  return JSON.parse(json) as string[];
}

/** A daemon that fails to start tells the command that launched it. */
async function failedDaemon(code: number, message: string): Promise<void> {
  if (!process.send) return;
  const { reportToLauncher } = await import("./master/daemon.ts");
  await reportToLauncher({ ok: false, code, message });
}

// `deno run -A src/cli.ts` and `bun src/cli.ts` run this file directly; bin/tsgw.mjs imports it.
if ((import.meta as { main?: boolean }).main) void main(process.argv.slice(2));

/**
 * Say why on stderr, then exit once it is written: where a runtime writes
 * to a pipe asynchronously, an exit right after the write could lose the
 * one line the operator needs.
 */
function exitWith(code: number, text: string): Promise<never> {
  return new Promise(() => {
    process.stderr.write(text, () => process.exit(code));
    setTimeout(() => process.exit(code), 2000);
  });
}
