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
} as const;

export type WorkerMessage =
  | { tsgw: "ready"; id: number; urls: string[] }
  | { tsgw: "boot-error"; id: number; code: number; message: string }
  | { tsgw: "beat"; id: number; requests: number; inFlight: number; rss: number; webSockets: WebSocketCounts }
  | { tsgw: "retire"; id: number; reason: string };

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
