// Bare node:http serving the same hello world as scripts/bench/hello.ts.
import { createServer } from "node:http";
const BODY = "Hello from tsgw\n";
createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(BODY) });
  res.end(BODY);
}).listen(Number(process.argv[2]), "127.0.0.1");
