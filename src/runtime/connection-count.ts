/**
 * Connections open now, on the listeners whose connections tsgw sees
 * (node:http, node:https, node:http2, node:net, Bun.listen), for the
 * heartbeat (--metrics). Bun.serve and Deno.serve show their caller
 * requests, not connections: a worker that serves only through them
 * reports no figure.
 */
export const connections = { open: 0, counted: false, wanted: false };

/** Should a listener that sees its connections count them? Only when the figure is read (--metrics); it is then reported. */
export function countsConnections(): boolean {
  if (connections.wanted) connections.counted = true;
  return connections.wanted;
}

export function countConnection(socket: { once(event: "close", listener: () => void): unknown }): void {
  connections.open++;
  socket.once("close", () => void connections.open--);
}
