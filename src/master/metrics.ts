/**
 * The master's metrics: a Prometheus text endpoint (--metrics ADDR, GET
 * /metrics) and statsd lines over UDP (--statsd-host, Gunicorn's), both
 * from one view of every worker (the tally: live workers' last heartbeats
 * plus the gone ones'), so scrapes agree whichever worker is asked nothing.
 * Loaded only where one of them is configured.
 */
import { createServer } from "node:http";
import { createSocket } from "node:dgram";
import { TsgwError } from "../errors.ts";
import { DURATION_BUCKETS } from "../protocol/worker.ts";
import { listenOn, prepareUnixPath, removeSocket } from "../runtime/socket-files.ts";
import { statsAddress, type StatsServer } from "./stats.ts";
import type { MetricsView } from "./tally.ts";

type Sample = [labels: Record<string, string | number>, value: number];

/** One metric family in the text exposition format (0.0.4). */
function family(name: string, type: "counter" | "gauge" | "histogram", help: string, samples: Sample[], suffix = ""): string {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
  for (const [labels, value] of samples) lines.push(`${name}${suffix}${labelText(labels)} ${value}`);
  return lines.join("\n");
}

const labelText = (labels: Record<string, string | number>): string => {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
};

/** The Prometheus exposition of a view: names, units and types as Prometheus's conventions want them. */
export function renderMetrics(v: MetricsView): string {
  const r = v.requests;
  const requests: Sample[] = Object.entries(r.requests).map(([key, n]) => {
    const [method, status] = key.split(" ");
    return [{ method: method!, status: status! }, n];
  });
  let cumulative = 0;
  const buckets: Sample[] = DURATION_BUCKETS.map((le, i) => [{ le }, cumulative += r.buckets[i] ?? 0]);
  const count = cumulative + (r.buckets[DURATION_BUCKETS.length] ?? 0);
  buckets.push([{ le: "+Inf" }, count]);
  const duration = "tsgw_request_duration_seconds";
  return [
    family("tsgw_requests_total", "counter", "Requests served, by method and status class (every worker, the replaced ones too).", requests),
    [
      family(duration, "histogram", "Time from a request's start to its response's end.", buckets, "_bucket"),
      `${duration}_sum ${r.durationSum}`,
      `${duration}_count ${count}`,
    ].join("\n"),
    family("tsgw_response_bytes_total", "counter", "Response body bytes, as their content-length says.", [[{}, r.bytesOut]]),
    family("tsgw_requests_in_flight", "gauge", "Requests being served now.", [[{}, v.inFlight]]),
    ...(v.connections === undefined
      ? []
      : [family("tsgw_connections_open", "gauge", "Client connections open now (where the workers' servers show them).", [[{}, v.connections]])]),
    family("tsgw_websockets_open", "gauge", "WebSocket connections open now.", [[{}, v.webSockets.open]]),
    family("tsgw_websockets_opened_total", "counter", "WebSocket connections opened.", [[{}, v.webSockets.opened]]),
    family("tsgw_websocket_messages_total", "counter", "WebSocket messages, by direction.", [
      [{ direction: "in" }, v.webSockets.messagesIn],
      [{ direction: "out" }, v.webSockets.messagesOut],
    ]),
    family("tsgw_workers", "gauge", "Worker processes now.", [[{}, v.workers.length]]),
    family(
      "tsgw_worker_resident_memory_bytes",
      "gauge",
      "Each worker's resident memory at its last heartbeat.",
      v.workers.map((w) => [{ slot: w.slot, generation: w.generation }, w.rss]),
    ),
    family(
      "tsgw_worker_restarts_total",
      "counter",
      "Workers replaced, by cause (crash, timeout, max-requests, rss, listener, thread, reload, scale-down).",
      Object.entries(v.restarts).map(([cause, n]) => [{ cause }, n]),
    ),
    family(
      "tsgw_thread_restarts_total",
      "counter",
      "Serving threads (--threads) replaced within their worker, by cause (crash, timeout, max-requests, listener).",
      Object.entries(v.threadRestarts).map(([cause, n]) => [{ cause }, n]),
    ),
    family("tsgw_reloads_total", "counter", "Reloads (HUP), failed ones included.", [[{}, v.status.reloads]]),
    family("tsgw_generation", "gauge", "The generation of workers serving now.", [[{}, v.status.generation]]),
    family("tsgw_uptime_seconds", "gauge", "Seconds since the master started.", [[{}, v.status.uptime]]),
  ].join("\n") + "\n";
}

/** GET /metrics on ADDR (a bare port means loopback), served by the master. */
export async function serveMetrics(text: string, cwd: string, view: () => MetricsView): Promise<StatsServer> {
  const address = statsAddress(text, cwd, "metrics");
  if (address.kind === "unix") await prepareUnixPath(address.path);
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") return void res.writeHead(405, { allow: "GET, HEAD" }).end();
    if (path !== "/metrics") return void res.writeHead(404, { "content-type": "text/plain" }).end("metrics are at /metrics\n");
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" }).end(req.method === "HEAD" ? undefined : renderMetrics(view()));
  });
  server.on("clientError", (_err, socket) => socket.destroy());
  await listenOn(server, address).catch((err: Error) => {
    throw new TsgwError(`metrics: ${err.message}`);
  });
  return {
    close() {
      server.close();
      server.closeAllConnections();
      removeSocket(address);
    },
  };
}

export interface StatsdSender {
  close(): void;
}

/** how often the master sends statsd lines: counters as what changed since the last send */
const STATSD_MS = 1000;

/** statsd lines over UDP to HOST:PORT (Gunicorn's --statsd-host): counters as increments, gauges as they are. */
export function startStatsd(target: string, prefix: string, view: () => MetricsView, onProblem: (m: string) => void): StatsdSender {
  const at = target.lastIndexOf(":");
  const host = at > 0 ? target.slice(0, at).replace(/^\[|\]$/g, "") : target;
  const port = at > 0 ? Number(target.slice(at + 1)) : 8125;
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) throw new TsgwError(`statsd-host: "${target}" is not HOST:PORT`);
  const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
  socket.on("error", (err) => onProblem(`statsd: ${err.message}`));
  socket.unref();
  const name = (n: string) => (prefix ? `${prefix}.${n}` : n);
  const sent = new Map<string, number>();
  const counter = (lines: string[], key: string, total: number) => {
    const delta = total - (sent.get(key) ?? 0);
    sent.set(key, total);
    if (delta > 0) lines.push(`${name(key)}:${delta}|c`);
  };
  const flush = () => {
    const v = view();
    const lines: string[] = [];
    const byStatus = new Map<string, number>();
    const byMethod = new Map<string, number>();
    let all = 0;
    for (const [key, n] of Object.entries(v.requests.requests)) {
      const [method, status] = key.split(" ") as [string, string];
      byStatus.set(status, (byStatus.get(status) ?? 0) + n);
      byMethod.set(method, (byMethod.get(method) ?? 0) + n);
      all += n;
    }
    counter(lines, "requests", all);
    for (const [status, n] of byStatus) counter(lines, `request.status.${status}`, n);
    for (const [method, n] of byMethod) counter(lines, `request.method.${method.toLowerCase()}`, n);
    for (const [cause, n] of Object.entries(v.restarts)) counter(lines, `restarts.${cause}`, n);
    for (const [cause, n] of Object.entries(v.threadRestarts)) counter(lines, `thread_restarts.${cause}`, n);
    counter(lines, "bytes_out", v.requests.bytesOut);
    lines.push(
      `${name("workers")}:${v.workers.length}|g`,
      `${name("requests.in_flight")}:${v.inFlight}|g`,
      ...(v.connections === undefined ? [] : [`${name("connections.open")}:${v.connections}|g`]),
      `${name("websockets.open")}:${v.webSockets.open}|g`,
    );
    lines.push(`${name("memory.rss")}:${v.workers.reduce((n, w) => n + w.rss, 0)}|g`);
    socket.send(lines.join("\n"), port, host);
  };
  const timer = setInterval(flush, STATSD_MS);
  timer.unref();
  return {
    close() {
      clearInterval(timer);
      flush();
      setTimeout(() => socket.close(), 100).unref();
    },
  };
}
