/**
 * What passes between the master and its workers: the environment a worker
 * is started with, and the messages it sends back. Kept apart so the master
 * and the CLI need not load the worker's serving code.
 */
/** What the master tells a worker through its environment. */
export const WORKER_ENV = {
  id: "TSGW_WORKER_ID",
  generation: "TSGW_GENERATION",
  /** the listeners to serve, as the master resolved them (port 0 made concrete) */
  listeners: "TSGW_WORKER_LISTENERS",
  /** "1" for the worker that logs how the app was loaded, once per generation */
  announce: "TSGW_ANNOUNCE",
  /**
   * the master's arguments: a worker re-executes the same program, but how a
   * runtime rebuilds argv for it varies (a compiled Bun binary repeats its
   * entry), so the arguments travel here rather than on the command line
   */
  argv: "TSGW_ARGV",
  /** "1" when the master serves stats: the worker then counts requests in flight */
  stats: "TSGW_STATS",
  /** "1" when the master serves metrics or sends statsd: the worker then keeps request metrics */
  metrics: "TSGW_METRICS",
} as const;

export type WorkerMessage =
  | { tsgw: "ready"; id: number; urls: string[] }
  | { tsgw: "boot-error"; id: number; code: number; message: string }
  | ({ tsgw: "beat"; id: number; rss: number } & BeatFigures)
  | { tsgw: "retire"; id: number; reason: string; cause: RetireCause };

/** What a heartbeat counts: a worker's, or one serving thread's (--threads), which its process adds up. */
export interface BeatFigures {
  /** requests started since it started */
  requests: number;
  inFlight: number;
  webSockets: WebSocketCounts;
  metrics?: RequestMetrics;
  /** connections open now, where the worker's servers show them (see runtime/connection-count.ts) */
  connections?: number;
  /** its serving threads serving now (--threads; a worker's own figure, not added up) */
  threads?: number;
  /** its serving threads replaced since it started, by cause (a worker's own figure) */
  threadRestarts?: Record<string, number>;
}

/**
 * `into` += `add`. A gone thread's figures (`live` false) add what it did,
 * not what it had open: its requests in flight and open WebSockets ended
 * with it.
 */
export function addFigures(into: BeatFigures, add: BeatFigures, live = true): void {
  into.requests += add.requests;
  const w = into.webSockets;
  if (live) {
    into.inFlight += add.inFlight;
    w.open += add.webSockets.open;
    if (add.connections !== undefined) into.connections = (into.connections ?? 0) + add.connections;
  }
  addWebSocketTotals(w, add.webSockets);
  if (add.metrics) addMetrics(into.metrics ??= emptyMetrics(), add.metrics);
}

/** what only grows of WebSocket counts (all but `open`), added to `into` */
export function addWebSocketTotals(into: Omit<WebSocketCounts, "open">, add: WebSocketCounts): void {
  into.opened += add.opened;
  into.messagesIn += add.messagesIn;
  into.messagesOut += add.messagesOut;
}

export function noFigures(): BeatFigures {
  return { requests: 0, inFlight: 0, webSockets: { open: 0, opened: 0, messagesIn: 0, messagesOut: 0 } };
}

/** why a worker asks to be replaced ("thread": one of its serving threads could not be replaced) */
export type RetireCause = "max-requests" | "rss" | "listener" | "thread";

/** What a serving thread tells its process's main thread: a worker's messages (its `id` the thread's number), and that it stopped. */
export type ThreadMessage = WorkerMessage | ({ tsgw: "stopped"; id: number } & BeatFigures);

/** What a process's main thread tells a serving thread. */
export type ThreadCommand = { tsgw: "stop"; graceful: boolean } | { tsgw: "reopen" };

/** upper bounds of the request-duration histogram, seconds (Prometheus's client defaults) */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** A worker's request metrics since it started (the master sums them across workers, the gone ones too). */
export interface RequestMetrics {
  /** requests finished, by "METHOD STATUSCLASS" ("GET 2xx"; methods outside the standard ones are "OTHER") */
  requests: Record<string, number>;
  /** requests per DURATION_BUCKETS bound (not cumulative), and one more for longer ones */
  buckets: number[];
  /** seconds, summed over every request */
  durationSum: number;
  /** response body bytes, as their content-length says (streamed bodies without one are not counted) */
  bytesOut: number;
}

export function emptyMetrics(): RequestMetrics {
  return { requests: {}, buckets: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), durationSum: 0, bytesOut: 0 };
}

/** `into` += `add` */
export function addMetrics(into: RequestMetrics, add: RequestMetrics): void {
  for (const [k, n] of Object.entries(add.requests)) into.requests[k] = (into.requests[k] ?? 0) + n;
  add.buckets.forEach((n, i) => (into.buckets[i] = (into.buckets[i] ?? 0) + n));
  into.durationSum += add.durationSum;
  into.bytesOut += add.bytesOut;
}

export function isWorkerMessage(m: unknown): m is WorkerMessage {
  return typeof m === "object" && m !== null && typeof (m as { tsgw?: unknown }).tsgw === "string";
}

/** A worker's WebSockets: open now, opened since it started, messages received and sent. */
export interface WebSocketCounts {
  open: number;
  opened: number;
  messagesIn: number;
  messagesOut: number;
}
