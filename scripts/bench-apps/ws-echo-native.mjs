// A WebSocket echo server in the runtime's own API, as its docs write it: node:http with `ws`,
// Bun.serve's websocket, Deno.serve with Deno.upgradeWebSocket. Run bare (port as argument) and
// under tsgw, which adopts the server it starts (the same code, side by side).
import { createServer } from "node:http";

const g = globalThis;
const port = Number(g.Deno?.args[0] ?? process.argv[2] ?? 3000);
if (g.Bun) {
  g.Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch: (req, server) => (server.upgrade(req) ? undefined : new Response("ok")),
    websocket: { message: (ws, message) => ws.send(message) },
  });
} else if (g.Deno) {
  g.Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, (req) => {
    if (req.headers.get("upgrade") !== "websocket") return new Response("ok");
    const { socket, response } = g.Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => socket.send(e.data);
    return response;
  });
} else {
  const { WebSocketServer } = await import("ws");
  const server = createServer((_req, res) => res.end("ok"));
  new WebSocketServer({ server }).on("connection", (ws) => ws.on("message", (data, binary) => ws.send(data, { binary })));
  server.listen(port, "127.0.0.1");
}
