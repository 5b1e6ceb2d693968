// The benchmark workload (see workload.ts) as a Node listener: served by tsgw
// (`tsgw scripts/bench-apps/hello-node.mjs`) and, when run with a port argument, by
// the runtime's own node:http (the raw baseline).
import { createServer } from "node:http";
const BODY = "Hello from tsgw\n";
const CHUNK = Buffer.alloc(4096, 120);
export default function listener(req, res) {
  if (req.url === "/json") {
    const parts = [];
    req.on("data", (d) => parts.push(d));
    req.on("end", () => {
      const out = JSON.stringify(JSON.parse(Buffer.concat(parts).toString()));
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
      res.end(out);
    });
    return;
  }
  if (req.url === "/64k") {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    for (let i = 0; i < 15; i++) res.write(CHUNK);
    return res.end(CHUNK);
  }
  res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(BODY) });
  res.end(BODY);
}
// tsgw's own command line never has a bare number as its first argument
const port = Number(globalThis.Deno?.args?.[0] ?? process.argv[2]);
// TSGW_BENCH_TLS=CERT,KEY: node:https on that certificate (the HTTPS baseline)
const tls = (globalThis.Deno?.env.get("TSGW_BENCH_TLS") ?? process.env.TSGW_BENCH_TLS)?.split(",");
if (port > 0 && tls) {
  const { readFileSync } = await import("node:fs");
  (await import("node:https")).createServer({ cert: readFileSync(tls[0]), key: readFileSync(tls[1]) }, listener).listen(port, "127.0.0.1");
} else if (port > 0) createServer(listener).listen(port, "127.0.0.1");
