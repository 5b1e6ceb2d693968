// Bare Bun.serve / Deno.serve serving the same hello world as scripts/bench/hello.ts.
const BODY = "Hello from tsgw\n";
const port = Number(process.argv[2] ?? (globalThis as any).Deno?.args[0]);
const reusePort = process.argv[3] === "reuse";
const fetch = (_req: Request) => new Response(BODY, { headers: { "content-type": "text/plain" } });
const g = globalThis as any;
if (g.Bun) g.Bun.serve({ port, hostname: "127.0.0.1", reusePort, fetch });
else g.Deno.serve({ port, hostname: "127.0.0.1", reusePort, onListen() {} }, fetch);

