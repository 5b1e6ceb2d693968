/** `tsgw --reload|--stop|--upgrade|--status PIDFILE`: drive a running master from shell scripts. */
import { TsgwError } from "../errors.ts";
import { askMaster, type MasterStatus } from "./control.ts";
import { isAlive, masterFromPidfile, readPidfile } from "./pidfile.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Signal the master a pidfile names and poll its status until `settled`
 * gives the outcome (or throws it); `what` names the operation in errors.
 */
async function signalAndWait<T>(
  pidfile: string,
  signal: NodeJS.Signals,
  what: string,
  settled: (before: MasterStatus, now: MasterStatus) => T | undefined,
  timeoutMs = 120_000,
): Promise<{ before: MasterStatus; outcome: T }> {
  const before = await masterFromPidfile(pidfile);
  process.kill(before.pid, signal);
  for (const start = Date.now(); Date.now() - start < timeoutMs; await sleep(100)) {
    const now = await askMaster(before.pid);
    if (!now) {
      if (!isAlive(before.pid)) throw new TsgwError(`tsgw master ${before.pid} exited during the ${what}`);
      continue;
    }
    const outcome = settled(before, now);
    if (outcome !== undefined) return { before, outcome };
  }
  throw new TsgwError(`${what} of tsgw ${before.pid} did not finish within ${timeoutMs / 1000}s`);
}

/** HUP the master; resolves once the new generation serves, throws with the reason when the reload failed. */
export async function reloadMaster(pidfile: string): Promise<string> {
  const { outcome } = await signalAndWait(pidfile, "SIGHUP", "reload", (before, now) => {
    if (now.reloads <= before.reloads) return undefined;
    if (now.lastReload?.ok) return `tsgw ${before.pid} reloaded: generation ${now.generation} serves`;
    throw new TsgwError(`reload of tsgw ${before.pid} failed, the old workers keep serving: ${now.lastReload?.error ?? "unknown error"}`);
  });
  return outcome;
}

/** TERM the master; resolves once it is gone, throws when it outlives its graceful timeout. */
export async function stopMaster(pidfile: string): Promise<string> {
  const status = await masterFromPidfile(pidfile);
  await stopped(status.pid, status.gracefulTimeout);
  return `tsgw ${status.pid} stopped`;
}

async function stopped(pid: number, gracefulTimeout: number): Promise<void> {
  process.kill(pid, "SIGTERM");
  const limit = (gracefulTimeout + 5) * 1000;
  for (const start = Date.now(); Date.now() - start < limit; await sleep(50)) if (!isAlive(pid)) return;
  throw new TsgwError(`tsgw ${pid} did not exit within its graceful timeout (${gracefulTimeout}s) plus 5s`);
}

/**
 * USR2 the master, wait until the new one serves (it then holds the
 * pidfile), and TERM the old one: resolves once only the new one is left;
 * throws with the reason when the new master failed (the old one serves on).
 */
export async function upgradeMaster(pidfile: string): Promise<string> {
  const { before, outcome: pid } = await signalAndWait(pidfile, "SIGUSR2", "upgrade", (before, now) => {
    if (now.upgrades <= before.upgrades) return undefined;
    if (now.lastUpgrade?.ok) return now.lastUpgrade.pid!;
    throw new TsgwError(`upgrade of tsgw ${before.pid} failed, it keeps serving: ${now.lastUpgrade?.error ?? "unknown error"}`);
  });
  await stopped(before.pid, before.gracefulTimeout);
  if (!isAlive(pid)) throw new TsgwError(`the new tsgw master ${pid} exited after the upgrade`);
  return `tsgw ${before.pid} upgraded: master ${pid} serves${readPidfile(pidfile) === pid ? "" : ` (pidfile ${pidfile} does not name it)`}`;
}

/** `tsgw --status PIDFILE [--json]`: the master's stats, as a table or as the JSON document. */
export async function statusOf(pidfile: string, json: boolean): Promise<string> {
  const s = await masterFromPidfile(pidfile);
  if (json) return JSON.stringify(s, null, 2);
  const ago = (
    sec: number,
  ) => (sec < 60
    ? `${Math.round(sec)}s`
    : sec < 3600
    ? `${Math.floor(sec / 60)}m${Math.round(sec % 60)}s`
    : `${Math.floor(sec / 3600)}h${Math.floor((sec % 3600) / 60)}m`);
  const last = s.lastReload ? (s.lastReload.ok ? ", last ok" : `, last failed: ${s.lastReload.error}`) : "";
  // a threads column where workers run serving threads (--threads)
  const threaded = s.workers.some((w) => w.threads !== undefined);
  const rows = [
    ["slot", "pid", "gen", "state", "status", ...(threaded ? ["threads"] : []), "requests", "in-flight", "websockets", "rss", "last beat", "respawns", "up"],
    ...s.workers.map((w) => [
      String(w.slot),
      String(w.pid),
      String(w.generation),
      w.state,
      w.status,
      ...(threaded ? [w.threads === undefined ? "-" : String(w.threads)] : []),
      String(w.requests),
      String(w.inFlight),
      String(w.webSockets.open),
      w.rss ? `${(w.rss / 1048576).toFixed(1)} MB` : "-",
      `${w.lastBeat.toFixed(1)}s`,
      String(w.respawns),
      ago(w.uptime),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return [
    `tsgw ${s.version} on ${s.runtime}: master pid ${s.pid}, up ${ago(s.uptime)}, generation ${s.generation} (${s.reloads} reload${
      s.reloads === 1 ? "" : "s"
    }${last})`,
    `listening: ${s.listeners.join(", ")}`,
    "",
    ...rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()),
  ].join("\n");
}
