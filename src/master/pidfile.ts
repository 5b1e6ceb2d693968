/**
 * Pidfiles: taken by the master before any worker starts (created, never
 * overwritten, so of two masters started at once one wins), removed on exit.
 * Reading one for --reload/--stop or a second start checks that it names a
 * live tsgw master (its control socket answers with the same pid), so a stale
 * file never leads to signalling a foreign process.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { TsgwError } from "../errors.ts";
import { askMaster, type MasterStatus } from "./control.ts";

export function removePidfile(path: string, pid: number): void {
  try {
    if (readFileSync(path, "utf8").trim() === String(pid)) unlinkSync(path);
  } catch {
    // gone already
  }
}

/** The pid in a pidfile; a clear TsgwError for a missing, empty or garbage file. */
export function readPidfile(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new TsgwError(`pidfile ${path}: ${code === "ENOENT" ? "no such file (is tsgw running?)" : (err as Error).message}`);
  }
  const t = text.trim();
  if (!t) throw new TsgwError(`pidfile ${path} is empty`);
  if (!/^\d+$/.test(t) || Number(t) < 2) throw new TsgwError(`pidfile ${path} does not hold a pid (it reads ${JSON.stringify(t.slice(0, 40))})`);
  return Number(t);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

/** The status of the tsgw master a pidfile names, or a TsgwError saying why there is none. */
export async function masterFromPidfile(path: string): Promise<MasterStatus> {
  const pid = readPidfile(path);
  if (!isAlive(pid)) throw new TsgwError(`pidfile ${path} is stale: no process ${pid} (tsgw is not running)`);
  const status = await askMaster(pid);
  if (!status) throw new TsgwError(`pidfile ${path} is stale: process ${pid} is not a tsgw master`);
  return status;
}

/**
 * Take the pidfile for this master: it is created complete (a temporary file
 * hard-linked into place, which fails if the name exists), so of two masters
 * started at once exactly one gets it. A file naming a live tsgw master
 * refuses the start; a stale one (a dead pid, or a live pid that is no tsgw
 * master) is replaced.
 */
export async function takePidfile(path: string, pid: number): Promise<void> {
  const tmp = `${path}.${pid}.tmp`;
  try {
    writeFileSync(tmp, `${pid}\n`);
  } catch (err) {
    throw new TsgwError(`cannot write pidfile ${path}: ${(err as Error).message}`);
  }
  try {
    for (let attempt = 0;; attempt++) {
      try {
        linkSync(tmp, path);
        return;
      } catch (err) {
        if ((err as { code?: string }).code !== "EEXIST") throw new TsgwError(`cannot write pidfile ${path}: ${(err as Error).message}`);
      }
      let other: number | undefined;
      try {
        other = readPidfile(path);
      } catch {
        // empty or garbage: stale
      }
      if (other !== undefined && isAlive(other) && (await askMaster(other))) {
        throw new TsgwError(`tsgw is already running with pid ${other} (pidfile ${path}); stop it first: tsgw --stop ${path}`);
      }
      // (a master starting at this very moment has its control socket up before it takes the file)
      if (attempt > 2 || !setAsideStale(path, other, pid)) {
        throw new TsgwError(`pidfile ${path} was taken by another tsgw starting at the same time`);
      }
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // gone already
    }
  }
}

/**
 * Move a stale pidfile out of the way, unless another master took the name
 * since it was read (renaming is atomic; what was moved is checked, and put
 * back if it was not the stale file). False when another master holds it.
 */
function setAsideStale(path: string, stale: number | undefined, pid: number): boolean {
  const aside = `${path}.${pid}.stale`;
  try {
    renameSync(path, aside);
  } catch {
    return true; // gone already: try again
  }
  let moved = "";
  try {
    moved = readFileSync(aside, "utf8").trim();
  } catch {
    // unreadable: treat as stale
  }
  const wasStale = stale === undefined ? !/^\d+$/.test(moved) || !isAlive(Number(moved)) : moved === String(stale);
  if (!wasStale) {
    try {
      linkSync(aside, path);
    } catch {
      // taken again meanwhile: that master keeps it
    }
  }
  try {
    unlinkSync(aside);
  } catch {
    // gone already
  }
  return wasStale;
}
