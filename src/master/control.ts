/**
 * The master's control socket: a unix socket in the temp folder, named by the
 * master's pid, answering one JSON line per request. `tsgw --reload/--stop`
 * use it to tell a live tsgw master from a foreign process and to learn when
 * a reload has finished.
 */
import type { WebSocketCounts } from "../protocol/worker.ts";
import { readdirSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dynamicImport } from "../dynamic-import.ts";

/** The master's state: what --status prints, what the stats server serves, what --reload/--stop read. */
export interface MasterStatus {
  version: string;
  runtime: string;
  pid: number;
  /** seconds */
  uptime: number;
  generation: number;
  reloads: number;
  lastReload: { ok: boolean; error?: string } | null;
  /** USR2 upgrades tried, and how the last one went (the new master's pid, or why it failed) */
  upgrades: number;
  lastUpgrade: { ok: boolean; pid?: number; error?: string } | null;
  gracefulTimeout: number;
  listeners: string[];
  workers: WorkerStatus[];
}

export interface WorkerStatus {
  id: number;
  /** place in the pool, kept by replacements */
  slot: number;
  pid: number;
  generation: number;
  state: string;
  status: "idle" | "busy";
  requests: number;
  inFlight: number;
  /** at the last heartbeat */
  webSockets: WebSocketCounts;
  /** bytes, at the last heartbeat */
  rss: number;
  /** its serving threads serving now, with --threads */
  threads?: number;
  /** seconds since the last heartbeat */
  lastBeat: number;
  /** how many times this slot's worker was replaced (crash, recycle, reload) */
  respawns: number;
  uptime: number;
}

export function controlPath(pid: number): string {
  return join(tmpdir(), `tsgw-${pid}.ctl`);
}

/** Control sockets of masters that died without removing theirs (kill -9): their pid is gone. */
export function removeStaleControls(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir());
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^tsgw-(\d+)\.ctl$/.exec(name);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (err) {
      if ((err as { code?: string }).code !== "ESRCH") continue; // alive (EPERM: another user's)
      try {
        unlinkSync(join(tmpdir(), name));
      } catch {
        // not ours to remove, or gone already
      }
    }
  }
}

/** `serve` is the runtime's serveAnswers (its sockets are kept from the master's child processes); the control socket's close */
export function serveControl(
  pid: number,
  status: () => MasterStatus,
  serve: (path: string, answer: () => string) => Promise<() => void>,
): Promise<() => void> {
  const path = controlPath(pid);
  try {
    unlinkSync(path);
  } catch {
    // none left over
  }
  return serve(path, () => JSON.stringify(status()) + "\n");
}

export function closeControl(close: (() => void) | undefined, pid: number): void {
  close?.();
  try {
    unlinkSync(controlPath(pid));
  } catch {
    // gone already
  }
}

/** The status of the tsgw master with this pid, or null when none answers. */
export async function askMaster(pid: number, timeoutMs = 2000): Promise<MasterStatus | null> {
  // (asked for here: a master that only serves its control socket through the runtime loads no node:net)
  const { connect } = await dynamicImport<typeof import("node:net")>("node:net");
  return new Promise((resolve) => {
    const sock = connect(controlPath(pid));
    let text = "";
    const done = (v: MasterStatus | null) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(null));
    sock.on("connect", () => sock.write("status\n"));
    sock.on("data", (d) => (text += d));
    sock.on("end", () => {
      try {
        const s = JSON.parse(text) as MasterStatus;
        done(s.pid === pid ? s : null);
      } catch {
        done(null);
      }
    });
    sock.on("error", () => done(null));
  });
}
