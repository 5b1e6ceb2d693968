/** `tsgw --reload PIDFILE` and `tsgw --stop PIDFILE`: drive a running master from shell scripts. */
import { TsgwError } from "../errors.ts";
import { askMaster } from "./control.ts";
import { isAlive, masterFromPidfile } from "./pidfile.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** HUP the master; resolves once the new generation serves, throws with the reason when the reload failed. */
export async function reloadMaster(pidfile: string, timeoutMs = 120_000): Promise<string> {
  const before = await masterFromPidfile(pidfile);
  process.kill(before.pid, "SIGHUP");
  for (const start = Date.now(); Date.now() - start < timeoutMs; await sleep(100)) {
    const now = await askMaster(before.pid);
    if (!now) {
      if (!isAlive(before.pid)) throw new TsgwError(`tsgw master ${before.pid} exited during the reload`);
      continue;
    }
    if (now.reloads > before.reloads) {
      if (now.lastReload?.ok) return `tsgw ${before.pid} reloaded: generation ${now.generation} serves`;
      throw new TsgwError(`reload of tsgw ${before.pid} failed, the old workers keep serving: ${now.lastReload?.error ?? "unknown error"}`);
    }
  }
  throw new TsgwError(`reload of tsgw ${before.pid} did not finish within ${timeoutMs / 1000}s`);
}

/** TERM the master; resolves once it is gone, throws when it outlives its graceful timeout. */
export async function stopMaster(pidfile: string): Promise<string> {
  const status = await masterFromPidfile(pidfile);
  process.kill(status.pid, "SIGTERM");
  const limit = (status.gracefulTimeout + 5) * 1000;
  for (const start = Date.now(); Date.now() - start < limit; await sleep(50)) {
    if (!isAlive(status.pid)) return `tsgw ${status.pid} stopped`;
  }
  throw new TsgwError(`tsgw ${status.pid} did not exit within its graceful timeout (${status.gracefulTimeout}s) plus 5s`);
}
