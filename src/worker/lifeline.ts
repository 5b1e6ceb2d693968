/**
 * A worker's lifeline to its master. A master killed hard (kill -9, the OOM
 * killer) cannot stop its workers, and a worker whose handler loops cannot
 * notice anything itself: every timer, signal and IPC event of its own waits
 * for the loop. So a small thread, which the handler's loop cannot block,
 * watches the parent pid and the main thread's heartbeats:
 *
 * - master gone, main thread alive: the worker is told (`onOrphaned`) and
 *   stops gracefully, finishing its in-flight requests;
 * - master gone, main thread stuck (no heartbeat for `stuckMs`) or still
 *   draining after `graceMs`: the thread kills the process, so no orphan
 *   keeps the port, the unix socket or a share of the traffic.
 *
 * What it costs is in the README (Failure modes): 2.5 to 11 MB a worker.
 */
import type { RuntimeCore, ThreadBody } from "../runtime/types.ts";

/** Runs in the thread: sees nothing of this module. */
const watch: ThreadBody = (data: { beats: SharedArrayBuffer; master: number; stuckMs: number; graceMs: number }, post, ppid, die) => {
  const beats = new Int32Array(data.beats);
  let seen = Atomics.load(beats, 0);
  let seenAt = Date.now();
  let orphanedAt = 0;
  setInterval(() => {
    const now = Date.now();
    const beat = Atomics.load(beats, 0);
    if (beat !== seen) {
      seen = beat;
      seenAt = now;
    }
    if (!orphanedAt && ppid() !== data.master) {
      orphanedAt = now;
      post("orphaned");
    }
    if (orphanedAt && (now - seenAt > data.stuckMs || now - orphanedAt > data.graceMs)) die();
  }, 200);
};

export interface Lifeline {
  /** the main thread is alive: call at every heartbeat */
  beat(): void;
}

export async function holdLifeline(
  runtime: RuntimeCore,
  options: { master: number; stuckMs: number; graceMs: number; onOrphaned: () => void },
): Promise<Lifeline> {
  const beats = new Int32Array(new SharedArrayBuffer(4));
  const { master, stuckMs, graceMs, onOrphaned } = options;
  try {
    await runtime.startThread(watch, { beats: beats.buffer, master, stuckMs, graceMs }, (m) => m === "orphaned" && onOrphaned());
  } catch {
    return { beat() {} }; // no threads here: the master's IPC channel closing is the only notice
  }
  return { beat: () => void Atomics.add(beats, 0, 1) };
}
