/**
 * Who the workers run as (--user, --group): switching in the worker, and the
 * owner the master gives the log files the workers write, so they can reopen
 * them on USR1 after logrotate (as Gunicorn chowns its log files).
 */
import { execFileSync } from "node:child_process";
import { chownSync, closeSync, openSync } from "node:fs";
import { describeError, TsgwError } from "../errors.ts";
import type { RuntimeCore } from "../runtime/types.ts";

const id = (v: string) => (/^\d+$/.test(v) ? Number(v) : v);

/**
 * Drop root once listening (ports below 1024 and sockets are bound by then):
 * groups first, while still allowed to change them, then the user. Without
 * a group the user's own primary group is taken (as su and systemd's User=
 * do; keeping root's gid would keep root's group files readable), and the
 * supplementary groups become the user's, never root's.
 */
export function switchUser(runtime: RuntimeCore, user: string | null, group: string | null): void {
  if (!user && !group) return;
  const what = `${user ? `user ${user}` : ""}${user && group ? ", " : ""}${group ? `group ${group}` : ""}`;
  try {
    const gid = group ? id(group) : lookupId("-g", user!);
    process.setgid!(gid);
    runtime.setGroups(user ? id(user) : null, process.getgid!());
    if (user) process.setuid!(id(user));
  } catch (err) {
    throw new TsgwError(`cannot switch to ${what}: ${describeError(err)}`);
  }
}

/** A user's uid (-u) or primary gid (-g), as the system's user database (NSS included) has it. */
function lookupId(flag: "-u" | "-g", user: string): number {
  let out = "";
  try {
    out = execFileSync("id", [flag, user], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch {
    // not a user: said below
  }
  if (!/^\d+$/.test(out)) throw new Error(`no such user ${user}`);
  return Number(out);
}

/** The uid and gid the workers switch to, or undefined when they keep the master's. */
export function workerOwner(user: string | null, group: string | null): { uid: number; gid: number } | undefined {
  if (!user && !group) return undefined;
  try {
    const uid = user ? lookupId("-u", user) : process.getuid!();
    const gid = group ? (/^\d+$/.test(group) ? Number(group) : groupId(group)) : user ? lookupId("-g", user) : process.getgid!();
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined; // the worker's switch will say what is wrong
  }
}

/** A group's gid by name, from the group database. */
function groupId(name: string): number {
  const line = execFileSync("getent", ["group", name], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  return Number(line.split(":")[2]);
}

/** Create each log file if missing and give it to the workers' user, so they can open it after a rotation. */
export function handLogFiles(paths: (string | null | undefined)[], owner: { uid: number; gid: number } | undefined): string[] {
  const problems: string[] = [];
  if (!owner) return problems;
  for (const path of paths) {
    if (!path || path === "-") continue;
    try {
      closeSync(openSync(path, "a"));
      chownSync(path, owner.uid, owner.gid);
    } catch (err) {
      problems.push(`${path}: ${describeError(err)}`);
    }
  }
  return problems;
}
