/**
 * A small WebSocket load client (wrk speaks no WebSocket): raw sockets, the
 * handshake by hand, one prebuilt masked frame per message, replies counted
 * by their frame headers, so the client spends little of the machine it
 * shares with the server.
 *
 *   echo(port, { connections: 100, seconds: 5 })   messages echoed per second, each connection keeping one in flight
 *   hold(port, 1000)                                 open idle connections (memory per connection), closed by the result's close()
 */
import { connect, type Socket } from "node:net";

const HANDSHAKE = (port: number) =>
  `GET /ws HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n`;

/** A 32-byte text message from the client, masked (with a zero mask: the payload is as written). */
const MESSAGE = Buffer.concat([Buffer.from([0x81, 0x80 | 32, 0, 0, 0, 0]), Buffer.alloc(32, "x")]);

/** Open a WebSocket; `onFrame` is called once per complete frame from the server. */
function open(port: number, onFrame: () => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, "127.0.0.1", () => sock.write(HANDSHAKE(port)));
    sock.setNoDelay(true);
    let upgraded = false;
    let pending: Buffer = Buffer.alloc(0);
    sock.on("error", reject);
    sock.on("data", (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      if (!upgraded) {
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        if (!pending.toString("latin1", 0, 12).endsWith("101")) return reject(new Error(pending.toString("latin1", 0, pending.indexOf("\r\n"))));
        upgraded = true;
        pending = pending.subarray(end + 4);
        resolve(sock);
      }
      // frames from a server are unmasked: 2 header bytes, then 2 or 8 more for longer payloads
      for (;;) {
        if (pending.length < 2) break;
        const short = pending[1]! & 0x7f;
        const at = short === 126 ? 4 : short === 127 ? 10 : 2;
        if (pending.length < at) break;
        const len = short === 126 ? pending.readUInt16BE(2) : short === 127 ? Number(pending.readBigUInt64BE(2)) : short;
        if (pending.length < at + len) break;
        const opcode = pending[0]! & 0x0f;
        pending = pending.subarray(at + len);
        if (opcode === 1 || opcode === 2) onFrame();
      }
    });
  });
}

/** Messages echoed per second over `connections` sockets, one message in flight on each. */
export async function echo(port: number, { connections, seconds }: { connections: number; seconds: number }): Promise<{ perSecond: number; errors: number }> {
  let replies = 0;
  let errors = 0;
  let running = true;
  const sockets = await Promise.all(
    Array.from({ length: connections }, async () => {
      const sock: Socket = await open(port, () => {
        replies++;
        if (running) sock.write(MESSAGE);
      });
      sock.on("close", () => running && errors++);
      return sock;
    }),
  );
  const start = performance.now();
  const before = replies;
  for (const s of sockets) s.write(MESSAGE);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const perSecond = ((replies - before) * 1000) / (performance.now() - start);
  running = false;
  for (const s of sockets) s.destroy();
  return { perSecond, errors };
}

/** Open `count` idle WebSockets (a few at a time, as clients would arrive); close() closes them. */
export async function hold(port: number, count: number): Promise<{ close(): void }> {
  const sockets: Socket[] = [];
  for (let i = 0; i < count; i += 50) {
    sockets.push(...(await Promise.all(Array.from({ length: Math.min(50, count - i) }, () => open(port, () => {})))));
  }
  return { close: () => sockets.forEach((s) => s.destroy()) };
}
