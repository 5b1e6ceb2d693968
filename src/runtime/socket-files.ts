/**
 * Where servers listen, as the master and every shim need it: stale unix
 * socket files, socket permissions, one-line bind errors, and listening a
 * node:net server on an Address.
 */
import { chmodSync, lstatSync, readdirSync, readFileSync, readlinkSync, unlinkSync } from "node:fs";
import type { Server as NetServer } from "node:net";
import { resolve } from "node:path";
import { type Address, type BindAddress, formatAddress } from "../config/address.ts";
import { TsgwError } from "../errors.ts";
import { dynamicImport } from "../dynamic-import.ts";

/** Make a unix socket path usable: remove a stale socket file, refuse one a live process serves. */
export async function prepareUnixPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new TsgwError(`cannot listen on unix:${path}: the path exists and is not a socket`);
  const { connect } = await dynamicImport<typeof import("node:net")>("node:net");
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
  if (address.kind !== "unix") return;
  try {
    chmodSync(address.path, mode);
  } catch (err) {
    // a socket shared through node:cluster that the master has renamed into place: the first worker set its mode
    if ((err as { code?: string }).code !== "ENOENT") throw err;
  }
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

/** Marks a descriptor close-on-exec: set by a runtime whose node:net sockets are not (see keepListenersFromChildren). */
let closeOnExec: ((fd: number) => void) | undefined;

/**
 * A runtime whose node:net listening sockets are inherited by every child
 * process (Deno's unix sockets: a master's control socket stayed open in its
 * workers, and a worker's listeners in the app's own child processes) gives
 * the way to mark them close-on-exec; listenOn marks each socket it listens on.
 */
export function keepListenersFromChildren(mark: (fd: number) => void): void {
  closeOnExec = mark;
}

/** Listen a node:net (or node:http) server on `address`; a failed bind is one line naming it. */
export function listenOn(server: NetServer, address: Address, scheme?: string, reusePort = false): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const fail = (err: unknown) => reject(bindError(address, err, scheme));
    server.once("error", fail);
    const ready = () => {
      server.off("error", fail);
      const fd = (server as { _handle?: { fd?: unknown } })._handle?.fd;
      if (closeOnExec && typeof fd === "number" && fd > 2) closeOnExec(fd);
      resolve();
    };
    if (address.kind === "unix") server.listen(address.path, ready);
    else if (address.kind === "fd") server.listen({ fd: address.fd }, ready);
    else if (reusePort) server.listen({ port: address.port, host: address.host, reusePort }, ready);
    else server.listen(address.port, address.host, ready);
  });
}

/**
 * The file descriptor of this process's listening socket on `address`, read
 * from Linux's /proc: node:cluster keeps the sockets its workers share in
 * handles of its own, which name no fd. Undefined when this process holds
 * none there (workers that bind with SO_REUSEPORT hold their own), or where
 * there is no /proc.
 */
export function listeningFd(address: BindAddress): number | undefined {
  const byInode = new Map<string, number>();
  try {
    for (const name of readdirSync("/proc/self/fd")) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${name}`));
        if (m) byInode.set(m[1]!, Number(name));
      } catch {
        // closed while listed
      }
    }
  } catch {
    return undefined;
  }
  return address.kind === "unix" ? unixListener(address.path, byInode) : tcpListener(address, byInode);
}

/** /proc/net/unix: Num RefCount Protocol Flags Type St Inode Path; a listening socket has __SO_ACCEPTCON (0x10000) in its flags */
function unixListener(path: string, byInode: Map<string, number>): number | undefined {
  for (const line of procLines("unix")) {
    const f = line.trim().split(/\s+/);
    // the name as bound: Node binds a path relative to the working folder where that is shorter
    const bound = f[7] && !f[7].startsWith("/") && !f[7].startsWith("@") ? resolve(f[7]) : f[7];
    if (bound === path && (parseInt(f[3]!, 16) & 0x10000) !== 0 && byInode.has(f[6]!)) return byInode.get(f[6]!);
  }
  return undefined;
}

/** /proc/net/tcp and tcp6: sl local_address rem_address st ... inode (st 0A: LISTEN); the address in hex, in host byte order per 32-bit word */
function tcpListener(address: { host: string; port: number }, byInode: Map<string, number>): number | undefined {
  const found: { ip: string; fd: number }[] = [];
  for (const table of ["tcp", "tcp6"]) {
    for (const line of procLines(table)) {
      const f = line.trim().split(/\s+/);
      const [ip, port] = (f[1] ?? "").split(":");
      if (f[3] !== "0A" || parseInt(port ?? "", 16) !== address.port || !byInode.has(f[9]!)) continue;
      found.push({ ip: procIp(ip!), fd: byInode.get(f[9]!)! });
    }
  }
  // several only where one port is bound on several addresses: the one named
  return (found.length === 1 ? found[0] : found.find((s) => s.ip === address.host))?.fd;
}

function procLines(table: string): string[] {
  try {
    return readFileSync(`/proc/net/${table}`, "latin1").split("\n").slice(1);
  } catch {
    return [];
  }
}

/** 0100007F -> 127.0.0.1; 32 hex digits -> the IPv6 address, compressed as Node writes it */
function procIp(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)].map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join(".");
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i]! << 8) | bytes[2 * i + 1]!).toString(16));
  return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
}

/**
 * Held by a master from before it checks its addresses until its first
 * workers have bound them, so that two masters started together cannot both
 * find an address free: workers that share a port with SO_REUSEPORT (Bun,
 * Deno), or that rename a unix socket into place, would otherwise join or
 * replace the other's silently. It is an abstract unix socket name per port
 * or socket path (Linux; the kernel lets it go when the master dies, and it
 * is per network namespace, as ports are). The second master waits for the
 * first to bind, then finds the address in use. Elsewhere nothing is held.
 */
export async function holdWhileStarting(
  addresses: readonly Address[],
  hold: (name: string) => Promise<(() => void) | "taken" | undefined>,
  waitMs: number,
  onWait: (what: string) => void,
): Promise<() => void> {
  if (process.platform !== "linux") return () => {};
  const names = new Map<string, string>();
  for (const a of addresses) {
    if (a.kind === "tcp" && a.port !== 0) names.set(`tsgw-starting:tcp:${a.port}`, `port ${a.port}`);
    if (a.kind === "unix") names.set(`tsgw-starting:unix:${nameOfPath(resolve(a.path))}`, formatAddress(a));
  }
  const held: (() => void)[] = [];
  const release = () => held.splice(0).forEach((let_go) => let_go());
  // one order for every master, so two that share two addresses cannot each hold one and wait for the other
  for (const name of [...names.keys()].sort()) {
    const deadline = Date.now() + waitMs;
    let told = false;
    for (;;) {
      const got = await hold(`\0${name}`);
      if (got !== "taken") {
        if (got) held.push(got);
        break;
      }
      if (Date.now() >= deadline) {
        release();
        throw new TsgwError(`another tsgw master has been starting on ${names.get(name)} for ${Math.ceil(waitMs / 1000)}s; try again once it serves`);
      }
      if (!told) onWait(`another tsgw master is starting on ${names.get(name)}: waiting for it to bind first`);
      told = true;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return release;
}

/** A unix socket path as part of a socket name (at most 107 bytes): itself where it fits, else a hash of it (node:crypto would cost every master its memory). */
function nameOfPath(path: string): string {
  if (Buffer.byteLength(path) <= 80) return path;
  // FNV-1a, twice with different offsets: 64 bits
  let [a, b] = [0x811c9dc5, 0x050c5d1f];
  for (let i = 0; i < path.length; i++) {
    a = Math.imul(a ^ path.charCodeAt(i), 0x01000193) >>> 0;
    b = Math.imul(b ^ path.charCodeAt(i), 0x01000193) >>> 0;
  }
  return `${a.toString(16)}${b.toString(16)}:${path.slice(-40)}`;
}

/** serveAnswers through node:net, whose sockets children do not inherit on Node and Bun */
export async function serveAnswersNet(path: string, answer: () => string): Promise<() => void> {
  const { createServer } = await dynamicImport<typeof import("node:net")>("node:net");
  const server = createServer((sock) => {
    sock.on("error", () => {});
    sock.once("data", () => sock.end(answer()));
  });
  await listenOn(server, { kind: "unix", path });
  return () => server.close();
}

/** probePort through node:net */
export async function probePortNet(address: Address & { kind: "tcp" }, scheme: string): Promise<number> {
  const { createServer } = await dynamicImport<typeof import("node:net")>("node:net");
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (err) => reject(bindError(address, err, scheme)));
    probe.listen({ port: address.port, host: address.host, exclusive: true }, () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** holdName through node:net, whose sockets children do not inherit on Node and Bun */
export async function holdNameNet(name: string): Promise<(() => void) | "taken" | undefined> {
  const { createServer } = await dynamicImport<typeof import("node:net")>("node:net");
  const server = createServer();
  const code = await new Promise<string | undefined>((done) => {
    server.once("error", (err: { code?: string }) => done(err.code ?? "error"));
    server.listen(name, () => done(undefined));
  });
  if (code === undefined) {
    server.unref();
    return () => server.close();
  }
  return code === "EADDRINUSE" ? "taken" : undefined;
}
