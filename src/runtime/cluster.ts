/**
 * Workers are started with node:cluster on every runtime: Node, Bun and Deno
 * all implement it, it re-executes this same program (a source entry or a
 * compiled binary) with the runtime's own flags, gives an IPC channel, and
 * on Node and Deno shares node:net listeners, unix sockets included, between
 * workers. Bun.serve and Deno.serve share TCP ports with reusePort instead
 * (see the shims).
 *
 * Why not each runtime's own spawner (decided by measurement):
 * - Bun: `Bun.spawn({ ipc })` children are lighter (a worker 1.6 MB, the
 *   master 5 MB), but Bun's node:http, which serves Node listeners on Bun,
 *   shares a TCP port between processes only as node:cluster workers: its
 *   listen() binds with reusePort only when not the primary (Bun 1.4.5's
 *   node:http source), so `listen({ reusePort: true })` in a second plain
 *   process fails with EADDRINUSE (tested), and the master cannot choose per
 *   app, since it never loads the app.
 * - Deno: node:cluster shares unix sockets between workers through
 *   node:http, which `Deno.Command` children could not.
 */
import type { ChildProcess } from "node:child_process";
import type { Cluster } from "node:cluster";
import { createRequire } from "node:module";
import type { MasterSpawn, WorkerEvents, WorkerProcess } from "./types.ts";

/**
 * Workers accept from the shared listening socket themselves (SCHED_NONE)
 * rather than through the master (round-robin): when an old generation
 * closes its copy of the socket during a reload nothing queued is lost, and
 * no connection takes a detour through the master.
 */
let cluster: Cluster | undefined;

/**
 * `execArgv`: the runtime's flags for the workers, where the runtime's own
 * default drops some (Deno's). An inherited socket (systemd's, fd://) is
 * shared the same way: the master's node:cluster hands each worker its copy.
 */
export function spawnClusterWorker(env: Record<string, string>, events: WorkerEvents, execArgv?: string[]): WorkerProcess {
  if (!cluster) {
    // loaded by the master only, when it starts its first worker: workers and one-off commands skip it
    cluster = createRequire(import.meta.url)("node:cluster") as Cluster;
    cluster.schedulingPolicy = cluster.SCHED_NONE;
    if (execArgv) cluster.setupPrimary({ execArgv });
  }
  const worker = cluster.fork(env);
  worker.on("message", (m: unknown) => events.onMessage(m));
  worker.on("exit", (code: number | null, signal: string | null) => events.onExit(code, signal));
  // an IPC error (worker gone mid-send) is reported through "exit"
  worker.on("error", () => {});
  return {
    get pid() {
      return worker.process.pid ?? 0;
    },
    kill(signal) {
      // process.kill, not worker.process.kill: on Deno the latter also drops the
      // IPC channel, and a cluster worker exits at once when its channel goes
      try {
        if (worker.process.pid) process.kill(worker.process.pid, signal);
      } catch {
        // already gone
      }
    },
  };
}

export function sendToMaster(message: object): void {
  if (process.connected === false) return; // the master is gone (the lifeline and "disconnect" tell the worker)
  try {
    // with a callback, a send that fails as the channel closes is reported there, not as an "error" event nobody handles
    process.send?.(message, undefined, undefined, () => {});
  } catch {
    // the master is gone; the worker will be told by its signals or orphaned exit
  }
}

/**
 * Another master: this same program again, with an IPC channel to report
 * how its start went (the daemon to the command that launched it, a
 * successor to the master it replaces).
 */
export function forkMaster(env: Record<string, string>, how: MasterSpawn, execArgv?: string[]): ChildProcess {
  const { fork } = createRequire(import.meta.url)("node:child_process") as typeof import("node:child_process");
  return fork(process.argv[1]!, process.argv.slice(2), {
    detached: how.detached,
    stdio: ["ignore", how.out, how.out, "ipc", ...how.fds],
    env: { ...process.env, ...env },
    execArgv,
  });
}
