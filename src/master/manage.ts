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
  const rows = [
    ["slot", "pid", "gen", "state", "status", "requests", "in-flight", "websockets", "rss", "last beat", "respawns", "up"],
    ...s.workers.map((w) => [
      String(w.slot),
      String(w.pid),
      String(w.generation),
      w.state,
      w.status,
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
