/**
 * A worker's request metrics (--metrics, --statsd-host): counts by method
 * and status class, a duration histogram, bytes out. Kept as plain numbers
 * (no string built per request) and sent with each heartbeat as
 * RequestMetrics; the master sums them across workers.
 */
import { DURATION_BUCKETS, type RequestMetrics } from "../protocol/worker.ts";

/** the methods counted by name; the rest (any token a client sends) are one label, so a scrape stays small */
const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER"];
const OTHER = METHODS.length - 1;
const INDEX = new Map(METHODS.map((m, i) => [m, i]));
const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

export class MetricsCollector {
  /** [method][status class] */
  private readonly counts = METHODS.map(() => new Array<number>(CLASSES.length).fill(0));
  private readonly buckets = new Array<number>(DURATION_BUCKETS.length + 1).fill(0);
  private durationSum = 0;
  private bytesOut = 0;

  /** one finished request: `ms` its duration, `bytes` its body's content-length when known */
  add(method: string, status: number, ms: number, bytes: number | undefined): void {
    const c = Math.floor(status / 100) - 1;
    this.counts[INDEX.get(method) ?? OTHER]![c >= 0 && c < 5 ? c : 5]!++;
    const seconds = ms / 1000;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    this.buckets[i]!++;
    this.durationSum += seconds;
    if (bytes) this.bytesOut += bytes;
  }

  /** what the heartbeat carries */
  snapshot(): RequestMetrics {
    const requests: Record<string, number> = {};
    this.counts.forEach((row, m) => row.forEach((n, c) => n && (requests[`${METHODS[m]} ${CLASSES[c]}`] = n)));
    return { requests, buckets: [...this.buckets], durationSum: this.durationSum, bytesOut: this.bytesOut };
  }
}
