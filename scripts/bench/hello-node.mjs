// The hello world as a Node listener: served by tsgw (`tsgw scripts/bench/hello-node.mjs`)
// and, with a port argument, by the runtime's own node:http (the raw baseline).
import { createServer } from "node:http";
const BODY = "Hello from tsgw\n";
export default function listener(req, res) {
  res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(BODY) });
  res.end(BODY);
}
const port = Number(globalThis.Deno?.args?.[0] ?? process.argv[2]);
if (port && (import.meta.main ?? process.argv[1] === new URL(import.meta.url).pathname)) {
  createServer(listener).listen(port, "127.0.0.1");
}
