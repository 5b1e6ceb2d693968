/**
 * Workers are started with node:cluster on every runtime: Node, Bun and Deno
 * all implement it, it re-executes this same program (a source entry or,
 * later, a compiled binary) with the runtime's own flags, gives an IPC
 * channel, and on Node and Deno shares node:net listeners, unix sockets
 * included, between workers. Bun.serve and Deno.serve share TCP ports with
 * reusePort instead (see the shims).
 */
import cluster from "node:cluster";
import type { WorkerEvents, WorkerProcess } from "./types.ts";

export function spawnClusterWorker(env: Record<string, string>, events: WorkerEvents): WorkerProcess {
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
      try {
        worker.process.kill(signal);
      } catch {
        // already gone
      }
    },
  };
}

export function sendToMaster(message: object): void {
  try {
    process.send?.(message);
  } catch {
    // the master is gone; the worker will be told by its signals or orphaned exit
  }
}
