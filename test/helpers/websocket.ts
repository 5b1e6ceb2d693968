/**
 * A WebSocket client at the byte level, for what a library client will not
 * send (unmasked frames, bad opcodes, invalid UTF-8, absurd lengths) or do
 * (never answer a ping): the handshake by hand, then frames in and out.
 */
import { connect, type Socket } from "node:net";

export interface Frame {
  opcode: number;
  payload: Buffer;
}

export interface RawWebSocket {
  sock: Socket;
  /** frames received so far */
  frames: Frame[];
  /** resolves once the connection closed (either side) */
  closed: Promise<void>;
  /** the first received frame that matches, waited for up to `ms` */
  next(match: (f: Frame) => boolean, ms?: number): Promise<Frame | undefined>;
  /** a masked frame from the client */
  send(opcode: number, payload: Buffer | string): void;
}

/** A client's frame: FIN, the opcode, a masking key (zeros unless given) and the payload masked with it. */
export function clientFrame(opcode: number, payload: Buffer, mask = Buffer.from([1, 2, 3, 4])): Buffer {
  const len = payload.length;
  const head = len < 126
    ? Buffer.from([0x80 | opcode, 0x80 | len])
    : len < 65536
    ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255])
    : Buffer.concat([
      Buffer.from([0x80 | opcode, 0x80 | 127]),
      (() => {
        const b = Buffer.alloc(8);
        b.writeBigUInt64BE(BigInt(len));
        return b;
      })(),
    ]);
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
  return Buffer.concat([head, mask, masked]);
}

function parseFrames(buf: Buffer, out: Frame[]): Buffer {
  for (;;) {
    if (buf.length < 2) return buf;
    let len = buf[1]! & 0x7f;
    let at = 2;
    if (len === 126) {
      if (buf.length < 4) return buf;
      len = buf.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (buf.length < 10) return buf;
      len = Number(buf.readBigUInt64BE(2));
      at = 10;
    }
    if (buf.length < at + len) return buf;
    out.push({ opcode: buf[0]! & 0x0f, payload: buf.subarray(at, at + len) });
    buf = buf.subarray(at + len);
  }
}

/** Open a WebSocket by hand on 127.0.0.1:port (or a unix socket path); rejects with the answer's status line when it is no 101. */
export function rawWebSocket(target: number | string, path = "/ws", headers = ""): Promise<RawWebSocket> {
  return new Promise((resolve, reject) => {
    const sock = typeof target === "number" ? connect(target, "127.0.0.1") : connect(target);
    const frames: Frame[] = [];
    const waiters = new Set<() => void>();
    let head: Buffer | undefined = Buffer.alloc(0) as Buffer;
    let rest: Buffer = Buffer.alloc(0);
    const closed = new Promise<void>((r) => sock.once("close", () => r()));
    sock.on("error", () => {});
    void closed.then(() => {
      reject(new Error("closed before the handshake's answer"));
      for (const w of waiters) w();
    });
    sock.on("data", (d: Buffer) => {
      if (head) {
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        const status = head.toString("latin1", 0, head.indexOf("\r\n"));
        if (!/^HTTP\/1\.1 101/.test(status)) return reject(new Error(status));
        d = head.subarray(end + 4);
        head = undefined;
        resolve(ws);
      }
      rest = parseFrames(Buffer.concat([rest, d]), frames);
      for (const w of waiters) w();
    });
    const ws: RawWebSocket = {
      sock,
      frames,
      closed,
      send: (opcode, payload) => sock.write(clientFrame(opcode, Buffer.from(payload))),
      next(match, ms = 10_000) {
        return new Promise((done) => {
          const check = () => {
            const f = frames.find(match);
            if (f || sock.destroyed) {
              waiters.delete(check);
              clearTimeout(timer);
              done(f);
            }
          };
          const timer = setTimeout(() => {
            waiters.delete(check);
            done(undefined);
          }, ms);
          waiters.add(check);
          check();
        });
      },
    };
    sock.once("connect", () =>
      sock.write(
        `GET ${path} HTTP/1.1\r\nhost: localhost\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n${headers}\r\n`,
      ));
  });
}

/** The close code in a close frame's payload (1005 when it has none). */
export function closeCode(f: Frame | undefined): number | undefined {
  return f === undefined ? undefined : f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
}
