// The hello world as a Node listener: served by tsgw (`tsgw scripts/bench/hello-node.mjs`)
// and, when run with a port argument, by the runtime's own node:http (the raw baseline).
import { createServer } from "node:http";
const BODY = "Hello from tsgw\n";
export default function listener(req, res) {
  res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(BODY) });
  res.end(BODY);
}
// tsgw's own command line never has a bare number as its first argument
const port = Number(globalThis.Deno?.args?.[0] ?? process.argv[2]);
if (port > 0) createServer(listener).listen(port, "127.0.0.1");
