/** Deno shim: processes, threads, the flags workers inherit (its servers: runtime/deno-servers.ts). */
import { resolve } from "node:path";
import { forkMaster, sendToMaster, spawnClusterWorker } from "./cluster.ts";
import { workerConfig } from "./deno-config.ts";
import { importFile } from "./modules.ts";
import { bindError, keepListenersFromChildren, probePortNet } from "./socket-files.ts";
import { startServingThread, webThread } from "./threads.ts";
import type { RuntimeCore } from "./types.ts";

declare const Deno: {
  version: { deno: string };
  /** the entry module's URL */
  mainModule: string;
  readTextFileSync(path: string): string;
  dlopen(
    path: string,
    symbols: Record<string, { parameters: string[]; result: string }>,
  ): { symbols: Record<string, (...args: unknown[]) => number>; close(): void };
  listenDatagram?: unknown;
  listen(options: { transport: "unix"; path: string }): DenoListener;
};

interface DenoConn {
  read(buf: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
}

interface DenoListener extends AsyncIterable<DenoConn> {
  close(): void;
}

/**
 * The flags this Deno was started with (`deno run -A --config deno.json
 * --v8-flags=... cli.ts`): Deno's node:cluster and child_process.fork give a
 * child only `-A` and its unstable flags (process.execArgv is empty), so an
 * app's import map, compiler options, env file and V8 flags were lost in
 * every worker. Read from /proc/self/cmdline at start (before any chdir);
 * undefined where there is none (macOS: Deno's default), or for a compiled
 * binary, which has no `run`.
 */
let DENO_FLAGS: string[] | undefined = (() => {
  try {
    const argv = Deno.readTextFileSync("/proc/self/cmdline").split("\0");
    const run = argv.indexOf("run");
    const script = process.argv[1] ? argv.findIndex((a, i) => i > run && resolve(a) === process.argv[1]) : -1;
    return run > 0 && script > run ? ["run", ...argv.slice(run + 1, script)] : undefined;
  } catch {
    return undefined;
  }
})();

export /** Deno exposes listenDatagram only under --unstable-net, the flag reusePort needs. */
const UNSTABLE_NET = typeof Deno.listenDatagram === "function";

/**
 * Deno's node:process has no initgroups or setgroups: libc's, through FFI.
 * Its own errno is not reachable, so a failure says only that it failed.
 */
function setGroupsLibc(user: string | number | null, gid: number): void {
  const libc = Deno.dlopen("libc.so.6", {
    initgroups: { parameters: ["buffer", "u32"], result: "i32" },
    setgroups: { parameters: ["usize", "buffer"], result: "i32" },
  });
  try {
    const ok = typeof user === "string"
      ? libc.symbols.initgroups!(new TextEncoder().encode(`${user}\0`), gid) === 0
      : libc.symbols.setgroups!(1, new Uint32Array([gid])) === 0; // a numeric user: its name is not at hand, so the one group
    if (!ok) throw new Error(`${typeof user === "string" ? "initgroups" : "setgroups"} failed`);
  } finally {
    libc.close();
  }
}

/**
 * Deno's node:net unix sockets are not close-on-exec, nor is a worker's
 * channel to its master (node:cluster's NODE_CHANNEL_FD): a master's control
 * socket stayed open in every worker (after a kill -9 of the master, in one
 * still finishing a request), and a worker's listeners and channel in the
 * app's child processes. libc's fcntl through FFI marks them; where FFI is not
 * allowed they stay as Deno made them.
 */
let fcntl: ((fd: number, cmd: number, arg: number) => number) | null | undefined;
function closeOnExec(fd: number): void {
  if (fcntl === undefined) {
    try {
      const libc = Deno.dlopen("libc.so.6", { fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" } });
      fcntl = libc.symbols.fcntl as (fd: number, cmd: number, arg: number) => number;
    } catch {
      fcntl = null;
    }
  }
  const F_SETFD = 2, FD_CLOEXEC = 1;
  fcntl?.(fd, F_SETFD, FD_CLOEXEC);
}
keepListenersFromChildren(closeOnExec);
// a process tsgw started (a worker, a daemon, an upgrade's new master) has its channel on fd 3, after stdio (Deno
// drops NODE_CHANNEL_FD from the environment once read)
if (typeof process.send === "function") closeOnExec(3);

/**
 * serveAnswers through Deno's own listener, which is close-on-exec: a
 * node:net one would need libc's fcntl through FFI, which costs a master
 * 2–3 MB of resident memory (the pages of Deno's FFI code).
 */
function serveAnswersDeno(path: string, answer: () => string): Promise<() => void> {
  let listener: DenoListener;
  try {
    listener = Deno.listen({ transport: "unix", path });
  } catch (err) {
    return Promise.reject(bindError({ kind: "unix", path }, err));
  }
  void (async () => {
    try {
      for await (const conn of listener) void answerOnce(conn, answer);
    } catch {
      // the listener closed
    }
  })();
  return Promise.resolve(() => listener.close());
}

async function answerOnce(conn: DenoConn, answer: () => string): Promise<void> {
  try {
    if ((await conn.read(new Uint8Array(256))) === null) return;
    let bytes = new TextEncoder().encode(answer());
    while (bytes.length > 0) bytes = bytes.subarray(await conn.write(bytes));
  } catch {
    // the client went away
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

/** holdName through Deno's own listener: a node:net socket of Deno's is inherited by every child process (its workers held a master's name on) */
function holdNameDeno(name: string): Promise<(() => void) | "taken" | undefined> {
  try {
    const listener = Deno.listen({ transport: "unix", path: name });
    return Promise.resolve(() => listener.close());
  } catch (err) {
    return Promise.resolve((err as { code?: string }).code === "EADDRINUSE" ? "taken" : undefined);
  }
}

export const runtime: RuntimeCore = {
  name: "deno",
  version: Deno.version.deno,
  unixSharing: "cluster",
  tcpSharing: "reusePort",
  configureWorkers(appDir) {
    // a --config of the user's own wins; a compiled binary (no flags) has its config inside
    if (!DENO_FLAGS || DENO_FLAGS.some((f) => /^(-c|--config|--no-config)(=|$)/.test(f))) return;
    const config = workerConfig(appDir, process.argv[1]!);
    if (config) DENO_FLAGS = [...DENO_FLAGS, "--config", config];
  },
  spawnWorker: (env, events) => spawnClusterWorker(env, events, DENO_FLAGS),
  spawnMaster: (env, how) => forkMaster(env, how, DENO_FLAGS),
  toMaster: sendToMaster,
  setGroups: setGroupsLibc,
  startThread: (body, data, onMessage) => webThread(body, data, onMessage, "() => Deno.ppid", '() => Deno.kill(Deno.pid, "SIGKILL")'),
  startServingThread: (data, events) => startServingThread(Deno.mainModule, data, events),
  // threads share a port with reusePort, which Deno gives only under the flag (it exits, rather than throws, without it)
  threadRefusal: UNSTABLE_NET ? undefined : "--threads needs deno's --unstable-net (threads share a port with SO_REUSEPORT, which Deno offers only under it)",
  importModule: importFile,
  holdName: holdNameDeno,
  serveAnswers: serveAnswersDeno,
  // (node:net: Deno's node:cluster, which a master needs, loads it anyway)
  probePort: probePortNet,
  // Deno's TLS is rustls, for Deno.serve and node:https alike
  tlsRefusal: (tls) => (tls.ciphers ? "Deno's TLS (rustls) takes no OpenSSL cipher list: drop --ciphers (Node and Bun take one)" : undefined),
};
