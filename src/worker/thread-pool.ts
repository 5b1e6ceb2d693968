/**
 * A worker's serving threads (--threads N): its main thread loads no app; it
 * starts N threads that each load the app and serve the worker's ports
 * (SO_REUSEPORT shares them, as between worker processes), and supervises
 * them as the master supervises processes:
 *
 * - the worker is ready once every thread serves; a thread that fails to
 *   boot fails the worker's boot with its message;
 * - the worker's heartbeat adds up its threads' figures (a gone thread's
 *   requests stay counted);
 * - a thread that asks to retire (max-requests, a listener that died) is
 *   replaced: the new one serves before the old one stops gracefully;
 * - a thread that sent no heartbeat for --timeout (a handler stuck in a
 *   loop) is terminated, which ends its requests and nothing else, and
 *   replaced; a thread that ended is replaced;
 * - a replacement that fails to boot retires the whole worker, for the
 *   master to replace it with its backoff;
 * - a stop stops every thread, gracefully or at once.
 */
import type { ResolvedConfig } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import { addFigures, type BeatFigures, noFigures, type RetireCause, type ThreadCommand, type ThreadMessage } from "../protocol/worker.ts";
import type { RunningServer, Runtime, ServingThread } from "../runtime/types.ts";
import { beatInterval, type Serving, type WorkerSetup } from "./main.ts";
import { TsgwError } from "../errors.ts";

/** What a serving thread is started with. */
export interface ThreadData {
  argv: string[];
  setup: WorkerSetup;
  /** the master's working folder (the configuration's paths are relative to it) */
  cwd: string;
  /** the app's, made the working folder by the main thread */
  appCwd: string;
  /** its number in the worker, from 1; replacements take the next */
  thread: number;
}

interface Slot {
  n: number;
  thread: ServingThread;
  state: "booting" | "serving" | "leaving" | "gone";
  /** its figures at its last heartbeat */
  figures?: BeatFigures;
  /** when it last beat (or started) */
  beatAt: number;
  urls: string[];
  /** the slot this one replaces, stopped once this one serves */
  replacing?: Slot;
  booted: Promise<void>;
  settle(error?: TsgwError): void;
  /** stuck in a loop, where the runtime cannot stop it (see stuck) */
  stuck?: boolean;
  stopped?: () => void;
}

export interface PoolOptions {
  argv: string[];
  setup: WorkerSetup;
  cwd: string;
  appCwd: string;
  resolved: ResolvedConfig;
  log: Logger;
  retire(reason: string, cause: RetireCause): void;
}

export async function servePool(runtime: Runtime, options: PoolOptions): Promise<Serving & { reopen(): void }> {
  const pool = new ThreadPool(runtime, options);
  const urls = await pool.start(options.resolved.config.threads);
  return { servers: [pool], urls, figures: () => pool.figures(), reopen: () => pool.tell({ tsgw: "reopen" }) };
}

class ThreadPool implements RunningServer {
  private readonly slots = new Set<Slot>();
  /** what the threads that are gone did */
  private readonly gone = noFigures();
  private next = 1;
  /** threads replaced so far, by cause (the metrics' tsgw_thread_restarts_total) */
  private readonly restarts: Record<string, number> = {};
  private stopping = false;
  private readonly timeoutMs: number;
  url = "";

  constructor(
    private readonly runtime: Runtime,
    private readonly options: PoolOptions,
  ) {
    this.timeoutMs = options.resolved.config.timeout * 1000;
  }

  /** the threads serve; resolves to where (the first one's urls) */
  async start(count: number): Promise<string[]> {
    const first = Array.from({ length: count }, () => this.spawn());
    try {
      await Promise.all(first.map((s) => s.booted));
    } catch (err) {
      for (const s of first) this.end(s);
      throw err;
    }
    this.url = first[0]!.urls.join(", ");
    // a stuck thread is found at the main thread's own pace, which no handler can block
    setInterval(() => this.check(), beatInterval(this.options.resolved.config.timeout)).unref();
    return first[0]!.urls;
  }

  private spawn(replacing?: Slot): Slot {
    const { argv, setup, cwd, appCwd } = this.options;
    const n = this.next++;
    let settle!: (error?: TsgwError) => void;
    const booted = new Promise<void>((resolve, reject) => (settle = (e) => (e ? reject(e) : resolve())));
    booted.catch(() => {}); // a replacement's failure is handled where it settles
    const data: ThreadData = { argv, setup: { ...setup, announce: setup.announce && n === 1 }, cwd, appCwd, thread: n };
    const slot: Slot = {
      n,
      state: "booting",
      beatAt: Date.now(),
      urls: [],
      replacing,
      booted,
      settle,
      thread: this.runtime.startServingThread!(data, {
        onMessage: (m) => this.onMessage(slot, m as ThreadMessage),
        onEnd: (why) => this.ended(slot, why),
      }),
    };
    this.slots.add(slot);
    return slot;
  }

  private onMessage(slot: Slot, m: ThreadMessage): void {
    if (slot.state === "gone") return;
    switch (m.tsgw) {
      case "ready":
        slot.state = "serving";
        slot.urls = m.urls;
        slot.beatAt = Date.now();
        slot.settle();
        if (slot.replacing) this.leave(slot.replacing);
        break;
      case "boot-error":
        this.bootFailed(slot, m.message, m.code);
        break;
      case "beat":
        slot.figures = m;
        slot.beatAt = Date.now();
        break;
      case "retire":
        if (slot.state !== "serving" || this.stopping) break;
        slot.state = "leaving";
        this.options.log.info(`thread ${slot.n} of worker ${this.options.setup.id}: ${m.reason}; replacing it`);
        this.restarted(m.cause);
        this.spawn(slot);
        break;
      case "stopped": {
        slot.figures = m;
        const serving = slot.state === "serving";
        this.end(slot);
        if (serving && !this.stopping) this.replace(slot, "it stopped serving (the app closed its server)", "crash");
        break;
      }
    }
  }

  /** a thread that could not boot: the worker's boot fails with its message, or, for a replacement, the worker retires */
  private bootFailed(slot: Slot, message: string, code?: number): void {
    this.end(slot);
    slot.settle(new TsgwError(message, code));
    const old = slot.replacing;
    if (!old || old.state === "gone") return;
    old.state = "serving"; // it serves on until the master replaces the worker
    this.options.log.error(`thread ${slot.n} could not replace thread ${old.n}: ${message}`);
    this.options.retire(`a serving thread could not be replaced: ${message}`, "thread");
  }

  private leave(slot: Slot): void {
    if (slot.state === "gone") return;
    slot.state = "leaving";
    slot.thread.post({ tsgw: "stop", graceful: true } satisfies ThreadCommand);
  }

  /** the slot is gone: its figures join the gone ones', its thread is ended */
  private end(slot: Slot): void {
    if (slot.state === "gone") return;
    slot.state = "gone";
    this.slots.delete(slot);
    if (slot.figures) addFigures(this.gone, slot.figures, false);
    slot.thread.terminate();
    slot.stopped?.();
  }

  private replace(slot: Slot, why: string, cause: "crash" | "timeout"): void {
    this.restarted(cause);
    this.options.log.error(`thread ${slot.n} of worker ${this.options.setup.id}: ${why}; replacing it`);
    this.spawn();
  }

  /** the runtime says a thread ended (Bun) or failed outside the app's reach */
  private ended(slot: Slot, why: string): void {
    if (slot.state === "booting") return this.bootFailed(slot, `a serving thread ended as it booted: ${why}`);
    const serving = slot.state === "serving";
    this.end(slot);
    if (serving && !this.stopping) this.replace(slot, why, "crash");
  }

  /** threads that stopped beating: terminated (their requests end with them) and replaced */
  private check(): void {
    if (this.stopping) return;
    const now = Date.now();
    const seconds = this.options.resolved.config.timeout;
    for (const slot of this.slots) {
      if (now - slot.beatAt <= this.timeoutMs) continue;
      if (slot.state === "booting") this.bootFailed(slot, `a serving thread did not boot within ${seconds}s (timeout)`);
      else if (!this.runtime.stopsStuckThreads) this.stuck(slot, seconds);
      else if (slot.state === "leaving") this.end(slot); // its replacement serves already
      else {
        this.end(slot);
        this.replace(slot, `THREAD TIMEOUT: no heartbeat for ${seconds}s; terminated`, "timeout");
      }
    }
  }

  /**
   * A stuck thread this runtime cannot stop: the worker retires, for the
   * master to replace it, and exits once its other threads have finished
   * (a stop does not wait for this one).
   */
  private stuck(slot: Slot, seconds: number): void {
    if (slot.stuck) return;
    slot.stuck = true;
    this.options.log.error(
      `THREAD TIMEOUT: thread ${slot.n} of worker ${this.options.setup.id} sent no heartbeat for ${seconds}s; this runtime cannot stop a thread stuck in a loop, so the worker is replaced`,
    );
    this.options.retire(`serving thread ${slot.n} is stuck`, "thread");
  }

  private restarted(cause: string): void {
    this.restarts[cause] = (this.restarts[cause] ?? 0) + 1;
  }

  figures(): BeatFigures {
    const all = noFigures();
    addFigures(all, this.gone, false);
    for (const s of this.slots) if (s.figures) addFigures(all, s.figures);
    all.threads = [...this.slots].filter((s) => s.state === "serving").length;
    all.threadRestarts = { ...this.restarts };
    return all;
  }

  tell(command: ThreadCommand): void {
    for (const s of this.slots) s.thread.post(command);
  }

  async stop(graceful: boolean): Promise<void> {
    this.stopping = true;
    const slots = [...this.slots];
    if (!graceful) return void slots.forEach((s) => this.end(s));
    await Promise.all(slots.map((s) => {
      if (s.state === "booting" || s.stuck) return this.end(s);
      return new Promise<void>((resolve) => {
        s.stopped = resolve;
        this.leave(s);
      });
    }));
  }
}
