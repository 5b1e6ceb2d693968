/**
 * Pidfiles: written atomically by the master once it serves, removed on exit.
 * Reading one for --reload/--stop or a second start checks that it names a
 * live tsgw master (its control socket answers with the same pid), so a stale
 * file never leads to signalling a foreign process.
 */
import { readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { TsgwError } from "../errors.ts";
import { askMaster, type MasterStatus } from "./control.ts";

export function writePidfile(path: string, pid: number): void {
  const tmp = `${path}.${pid}.tmp`;
  try {
    writeFileSync(tmp, `${pid}\n`);
    renameSync(tmp, path);
  } catch (err) {
    throw new TsgwError(`cannot write pidfile ${path}: ${(err as Error).message}`);
  }
}

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
  if (!/^\d+$/.test(t) || Number(t) < 2) throw new TsgwError(`pidfile ${path} does not hold a pid (it reads "${t.slice(0, 40)}")`);
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

/** Before a start: refuse when the pidfile names a live tsgw master; a stale file is replaced later. */
export async function refuseIfRunning(path: string): Promise<void> {
  let pid: number;
  try {
    pid = readPidfile(path);
  } catch {
    return; // missing or unreadable: nothing runs
  }
  if (isAlive(pid) && (await askMaster(pid))) {
    throw new TsgwError(`tsgw is already running with pid ${pid} (pidfile ${path}); stop it first: tsgw --stop ${path}`);
  }
}
