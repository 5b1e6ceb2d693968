/**
 * What the master's metrics count beyond its live workers: the requests and
 * WebSocket messages of workers that are gone (so totals never fall back
 * when a worker is replaced), and the replacements by cause. Pure counting;
 * master/metrics.ts renders and sends it.
 */
import { addMetrics, addWebSocketTotals, emptyMetrics, type RequestMetrics, type WebSocketCounts } from "../protocol/worker.ts";
import type { MasterStatus } from "./control.ts";

/** the part of a worker the tally reads */
export interface TalliedWorker {
  slot: number;
  /** requests started, at the last heartbeat */
  requests: number;
  generation: number;
  inFlight: number;
  rss: number;
  webSockets: WebSocketCounts;
  abandoned: boolean;
  cause?: string;
  metrics?: RequestMetrics;
  connections?: number;
  /** its serving threads replaced, by cause (--threads) */
  threadRestarts?: Record<string, number>;
}

/** Everything a scrape or a statsd flush reports, at one moment. */
export interface MetricsView {
  status: MasterStatus;
  /** every request since the master started, the gone workers' too */
  requests: RequestMetrics;
  webSockets: { open: number; opened: number; messagesIn: number; messagesOut: number };
  restarts: Record<string, number>;
  /** serving threads replaced (--threads), by cause, the gone workers' too */
  threadRestarts: Record<string, number>;
  inFlight: number;
  /** connections open now, summed over the workers that can count theirs; undefined where none can */
  connections?: number;
  workers: { slot: number; generation: number; rss: number }[];
}

/** `into` += `add`, by key */
function addCounts(into: Record<string, number>, add: Record<string, number> | undefined): void {
  for (const [k, n] of Object.entries(add ?? {})) into[k] = (into[k] ?? 0) + n;
}

export class Tally {
  private readonly gone = emptyMetrics();
  private readonly goneWebSockets = { opened: 0, messagesIn: 0, messagesOut: 0 };
  private readonly restarts: Record<string, number> = {};
  private readonly goneThreadRestarts: Record<string, number> = {};
  private goneRequests = 0;

  /** requests served since the master started, by every worker */
  served(live: TalliedWorker[]): number {
    return live.reduce((n, w) => n + w.requests, this.goneRequests);
  }

  /** a worker exited; `stopping`: the master is stopping, so it is no replacement */
  workerGone(w: TalliedWorker, stopping: boolean): void {
    if (w.metrics) addMetrics(this.gone, w.metrics);
    this.goneRequests += w.requests;
    addWebSocketTotals(this.goneWebSockets, w.webSockets);
    addCounts(this.goneThreadRestarts, w.threadRestarts);
    if (stopping || w.abandoned) return;
    const cause = w.cause ?? "crash";
    this.restarts[cause] = (this.restarts[cause] ?? 0) + 1;
  }

  view(status: MasterStatus, live: TalliedWorker[]): MetricsView {
    const requests = emptyMetrics();
    addMetrics(requests, this.gone);
    const webSockets = { open: 0, ...this.goneWebSockets };
    const threadRestarts = { ...this.goneThreadRestarts };
    for (const w of live) {
      addCounts(threadRestarts, w.threadRestarts);
      if (w.metrics) addMetrics(requests, w.metrics);
      webSockets.open += w.webSockets.open;
      addWebSocketTotals(webSockets, w.webSockets);
    }
    return {
      status,
      requests,
      webSockets,
      restarts: { ...this.restarts },
      threadRestarts,
      inFlight: live.reduce((n, w) => n + w.inFlight, 0),
      connections: live.some((w) => w.connections !== undefined) ? live.reduce((n, w) => n + (w.connections ?? 0), 0) : undefined,
      workers: live.map((w) => ({ slot: w.slot, generation: w.generation, rss: w.rss })),
    };
  }
}
