/**
 * Where servers listen, as the master and every shim need it: stale unix
 * socket files, socket permissions, one-line bind errors, and listening a
 * node:net server on an Address.
 */
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import type { Server as NetServer } from "node:net";
import { type Address, formatAddress } from "../config/address.ts";
import { TsgwError } from "../errors.ts";

/** Make a unix socket path usable: remove a stale socket file, refuse one a live process serves. */
export async function prepareUnixPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new TsgwError(`cannot listen on unix:${path}: the path exists and is not a socket`);
  const { connect } = await import("node:net");
  const alive = await new Promise<boolean>((done) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      done(true);
    });
    probe.once("error", () => done(false));
  });
  if (alive) throw new TsgwError(`cannot listen on unix:${path}: another process is serving on it`);
  unlinkSync(path);
}

export function chmodSocket(address: Address, mode: number): void {
  if (address.kind === "unix") chmodSync(address.path, mode);
}

export function removeSocket(address: Address): void {
  if (address.kind !== "unix") return;
  try {
    unlinkSync(address.path);
  } catch {
    // already gone (some runtimes unlink on close)
  }
}

const BIND_REASONS: Record<string, string> = {
  EADDRINUSE: "address already in use",
  AddrInUse: "address already in use",
  EACCES: "permission denied (ports below 1024 need root)",
  PermissionDenied: "permission denied",
  EADDRNOTAVAIL: "address not available on this machine",
  AddrNotAvailable: "address not available on this machine",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "unknown host",
  ENOENT: "folder does not exist",
  NotFound: "folder does not exist",
};

/** One line for a failed bind, whatever the runtime's error looks like; `scheme` names the listener as its "Listening at" line would (https, uwsgi). */
export function bindError(address: Address, err: unknown, scheme = "http"): TsgwError {
  const e = err as { code?: string; name?: string; message?: string };
  let reason = (e.code && BIND_REASONS[e.code]) || (e.name && BIND_REASONS[e.name]);
  if (!reason && /in use/i.test(e.message ?? "")) reason = BIND_REASONS.EADDRINUSE;
  return new TsgwError(`cannot listen on ${formatAddress(address, scheme)}: ${reason ?? e.message ?? String(err)}`);
}

/** Listen a node:net (or node:http) server on `address`; a failed bind is one line naming it. */
export function listenOn(server: NetServer, address: Address, scheme?: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => reject(bindError(address, err, scheme));
    server.once("error", fail);
    const ready = () => {
      server.off("error", fail);
      resolve();
    };
    if (address.kind === "unix") server.listen(address.path, ready);
    else if (address.kind === "fd") server.listen({ fd: address.fd }, ready);
    else server.listen(address.port, address.host, ready);
  });
}
