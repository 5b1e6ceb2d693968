// The runtime's own way to serve one file, for the static-file benchmark: Bun.file, Deno's file stream, node:fs.
import { createReadStream } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";

const g = globalThis;
const port = Number(process.argv[2] ?? g.Deno?.args[0]);
const file = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "public", "asset.css");
const headers = { "content-type": "text/css; charset=utf-8" };
if (g.Bun) g.Bun.serve({ port, hostname: "127.0.0.1", fetch: () => new Response(g.Bun.file(file), { headers }) });
else if (g.Deno) g.Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, async () => new Response((await g.Deno.open(file)).readable, { headers }));
else createServer((_req, res) => createReadStream(file).pipe(res.writeHead(200, headers))).listen(port, "127.0.0.1");
