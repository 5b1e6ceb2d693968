/**
 * Daemon mode (-D, or uWSGI's daemonize = LOGFILE): the command the operator
 * typed starts a detached copy of itself (a new session, output to the log
 * file, the same working folder) and exits 0 only once that copy serves, or
 * non-zero with its error, so a shell script can trust it.
 */
import { openSync } from "node:fs";
import { TsgwError } from "../errors.ts";
import { WORKER_ENV } from "../protocol/worker.ts";
import type { Runtime } from "../runtime/types.ts";

const CHILD = "TSGW_DAEMON_CHILD";

type DaemonMessage = { tsgw: "daemon-ready"; pid: number } | { tsgw: "daemon-error"; code: number; message: string };

export function isDaemonChild(): boolean {
  return process.env[CHILD] === "1";
}

/** In the launching command: start the daemon, wait for its word, and return what to print. */
export function launchDaemon(runtime: Runtime, argv: string[], logfile: string | null): Promise<string> {
  let out: number;
  try {
    out = openSync(logfile ?? "/dev/null", "a");
  } catch (err) {
    throw new TsgwError(`cannot open daemon log file ${logfile}: ${(err as Error).message}`);
  }
  const child = runtime.spawnDaemon({ [CHILD]: "1", [WORKER_ENV.argv]: JSON.stringify(argv) }, out);
  return new Promise((resolve, reject) => {
    child.once("message", (m: DaemonMessage) => {
      child.removeAllListeners("exit");
      if (m.tsgw === "daemon-ready") {
        // the daemon may have closed the channel already (it does so once it has reported)
        if (child.connected) {
          try {
            child.disconnect();
          } catch {
            // closed in between
          }
        }
        child.unref();
        resolve(`tsgw daemon started with pid ${m.pid}${logfile ? `; logging to ${logfile}` : ""}`);
      } else reject(new TsgwError(m.message, m.code));
    });
    child.once("exit", (code) => {
      reject(new TsgwError(`the daemon exited with code ${code} before serving${logfile ? `; see ${logfile}` : ""}`));
    });
  });
}

/** In the daemon: tell the launching command how the start went, then let it go. */
export function reportToLauncher(result: { ok: true } | { ok: false; code: number; message: string }): Promise<void> {
  if (!isDaemonChild() || !process.send) return Promise.resolve();
  const message: DaemonMessage = result.ok ? { tsgw: "daemon-ready", pid: process.pid } : { tsgw: "daemon-error", code: result.code, message: result.message };
  return new Promise((resolve) => {
    process.send!(message, undefined, {}, () => {
      if (result.ok) process.disconnect?.();
      resolve();
    });
  });
}
