/**
 * Binary upgrade without downtime (Gunicorn's USR2, unicorn's re-exec): the
 * master starts a new master from the tsgw on disk and hands it its
 * listening sockets. What passes between the two:
 *
 * - node:cluster's shared sockets (TCP on Node; unix sockets on Node and
 *   Deno) live in the old master, in handles that name no fd: they are
 *   found in /proc/self/fd and become the new master's fds 4, 5, ...,
 *   which its workers serve as fd:// listeners, still named by their address.
 * - Ports that workers bind with SO_REUSEPORT (Bun, Deno) are held by the
 *   workers, not the master: the new master's workers bind them beside the
 *   old ones, as a reload's new generation does, and skip the check that
 *   refuses a port something else serves.
 *
 * Each listener is named by its configured form, so a new configuration is
 * matched with what was handed over; a listener it no longer has is closed.
 */
import { closeSync } from "node:fs";
import { type BindAddress, formatListener, type Listener } from "../config/address.ts";
import { listeningFd } from "../runtime/socket-files.ts";
import type { RuntimeCore } from "../runtime/types.ts";

const UPGRADE_ENV = "TSGW_UPGRADE";
/** the successor's first inherited socket (0-2 are stdio, 3 the IPC channel) */
const FIRST_FD = 4;

/** One listener as the old master hands it over. */
interface Handover {
  /** the listener as configured (formatListener of it): what the new configuration is matched by */
  key: string;
  /** where it is bound (a port 0 made concrete) */
  address: BindAddress;
  /** the socket itself, as the new master's fd; absent: the new workers bind `address` with SO_REUSEPORT */
  fd?: number;
}

/** The new master's environment and the sockets it inherits, or why this master cannot be upgraded. */
export function planUpgrade(
  runtime: RuntimeCore,
  configured: Listener[],
  named: Listener[],
  served: Listener[],
): { env: Record<string, string>; fds: number[] } | string {
  const handovers: Handover[] = [];
  const fds: number[] = [];
  for (const [i, l] of configured.entries()) {
    const bound = named[i]!;
    const { address } = bound;
    if (address.kind === "fd") {
      return `${formatListener(l)} is a socket systemd passed: systemd keeps it open across a restart, so restart the service instead (systemctl restart)`;
    }
    // (found by the name it was bound under, which /proc keeps; an inherited one is known)
    const as = served[i]!.address;
    const fd = runtime.inheritedSockets ? undefined : as.kind === "fd" ? as.fd : listeningFd(as);
    if (fd === undefined && !(address.kind === "tcp" && runtime.tcpSharing === "reusePort")) {
      return runtime.inheritedSockets
        ? `${formatListener(bound)} cannot pass to a new master: ${runtime.inheritedSockets}`
        : `cannot find the socket of ${formatListener(bound)} among this process's file descriptors (/proc/self/fd)`;
    }
    if (fd !== undefined) fds.push(fd);
    handovers.push({ key: formatListener(l), address, fd: fd === undefined ? undefined : FIRST_FD + fds.length - 1 });
  }
  const env: Record<string, string> = { [UPGRADE_ENV]: JSON.stringify({ pid: process.pid, listeners: handovers }) };
  // systemd's watchdog is the new master's to feed once it is the main process
  if (process.env.WATCHDOG_PID) env.WATCHDOG_PID = "";
  return { env, fds };
}

/** In a new master: what the one it replaces handed over (taken out of the environment, so workers do not see it). */
export class Inheritance {
  private constructor(readonly from: number, private readonly handovers: Handover[]) {}

  static take(env: Record<string, string | undefined>): Inheritance | undefined {
    const json = env[UPGRADE_ENV];
    if (json === undefined) return undefined;
    delete env[UPGRADE_ENV];
    const { pid, listeners } = JSON.parse(json) as { pid: number; listeners: Handover[] };
    return new Inheritance(pid, listeners);
  }

  /**
   * A configured listener as this master serves it: `named` where it is
   * bound (the old master's port), `served` what workers are given (its
   * inherited socket); undefined for a listener that was not handed over.
   */
  claim(l: Listener): { named: Listener; served: Listener } | undefined {
    const key = formatListener(l);
    const i = this.handovers.findIndex((h) => h.key === key);
    if (i < 0) return undefined;
    const [h] = this.handovers.splice(i, 1) as [Handover];
    const named = { ...l, address: h.address };
    return { named, served: h.fd === undefined ? named : { ...l, address: { kind: "fd", fd: h.fd }, name: formatListener(named) } };
  }

  /** Close the sockets no listener claimed (the new configuration dropped them): kept open, they would take connections nobody accepts. */
  closeUnclaimed(): string[] {
    const dropped = this.handovers.map((h) => h.key);
    for (const h of this.handovers) {
      if (h.fd === undefined) continue;
      try {
        closeSync(h.fd);
      } catch {
        // not open
      }
    }
    this.handovers.length = 0;
    return dropped;
  }
}
