/**
 * Daemon mode (-D, or uWSGI's daemonize = LOGFILE): the command the operator
 * typed starts a detached copy of itself (a new session, output to the log
 * file, the same working folder) and exits 0 only once that copy serves, or
 * non-zero with its error, so a shell script can trust it. A successor at
 * an upgrade (USR2, upgrade.ts) reports to the master it replaces the same way.
 */
import type { ChildProcess } from "node:child_process";
import { openSync } from "node:fs";
import { TsgwError } from "../errors.ts";
import { WORKER_ENV } from "../protocol/worker.ts";
import type { MasterSpawn, RuntimeCore } from "../runtime/types.ts";

const CHILD = "TSGW_DAEMON_CHILD";

type DaemonMessage = { tsgw: "daemon-ready"; pid: number } | { tsgw: "daemon-error"; code: number; message: string };

export function isDaemonChild(): boolean {
  return process.env[CHILD] === "1";
}

/** In the launching command: start the daemon, wait for its word, and return what to print. */
export async function launchDaemon(runtime: RuntimeCore, argv: string[], logfile: string | null): Promise<string> {
  let out: number;
  try {
    out = openSync(logfile ?? "/dev/null", "a");
  } catch (err) {
    throw new TsgwError(`cannot open daemon log file ${logfile}: ${(err as Error).message}`);
  }
  const word = await wordFrom(startMaster(runtime, argv, {}, { detached: true, out, fds: [] }));
  if (word.ok) return `tsgw daemon started with pid ${word.pid}${logfile ? `; logging to ${logfile}` : ""}`;
  if (word.code !== undefined) throw new TsgwError(word.message, word.code);
  throw new TsgwError(`the daemon ${word.message}${logfile ? `; see ${logfile}` : ""}`);
}

/**
 * Another master that says how its start went (the daemon, or a successor
 * at an upgrade): this program again, its arguments and the wish for its
 * word in its environment.
 */
export function startMaster(runtime: RuntimeCore, argv: string[], env: Record<string, string>, how: MasterSpawn): ChildProcess {
  return runtime.spawnMaster({ [CHILD]: "1", [WORKER_ENV.argv]: JSON.stringify(argv), ...env }, how);
}

/** What a started master said: it serves, or why not (its error and exit code, or how it exited without a word). */
export type Word = { ok: true; pid: number } | { ok: false; message: string; code?: number };

/** Wait for a started master's word; once it serves, its channel is let go and this process no longer waits for it. */
export function wordFrom(child: ChildProcess): Promise<Word> {
  return new Promise((resolve) => {
    child.once("message", (m: DaemonMessage) => {
      child.removeAllListeners("exit");
      if (m.tsgw === "daemon-ready") {
        // the other master may have closed the channel already (it does so once it has reported)
        if (child.connected) {
          try {
            child.disconnect();
          } catch {
            // closed in between
          }
        }
        child.unref();
        resolve({ ok: true, pid: m.pid });
      } else resolve({ ok: false, code: m.code, message: m.message });
    });
    child.once("exit", (code, signal) => resolve({ ok: false, message: `exited with ${signal ? `signal ${signal}` : `code ${code}`} before serving` }));
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
