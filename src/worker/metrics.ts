/**
 * A worker's request metrics (--metrics, --statsd-host): counts by method
 * and status class, a duration histogram, bytes out. Kept as plain numbers
 * and sent whole with each heartbeat; the master sums them across workers.
 */
import { DURATION_BUCKETS, emptyMetrics, type RequestMetrics } from "../protocol/worker.ts";

/** the methods counted by name; the rest (any token a client sends) are one label, so a scrape stays small */
const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]);
const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"];

export class MetricsCollector {
  readonly metrics: RequestMetrics = emptyMetrics();

  /** one finished request: `ms` its duration, `bytes` its body's content-length when known */
  add(method: string, status: number, ms: number, bytes: number | undefined): void {
    const m = this.metrics;
    const key = `${METHODS.has(method) ? method : "OTHER"} ${CLASSES[Math.floor(status / 100) - 1] ?? "other"}`;
    m.requests[key] = (m.requests[key] ?? 0) + 1;
    const seconds = ms / 1000;
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    m.buckets[i]!++;
    m.durationSum += seconds;
    if (bytes) m.bytesOut += bytes;
  }
}
