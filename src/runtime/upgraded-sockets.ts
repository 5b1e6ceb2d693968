/**
 * Connections a server handed over after an HTTP upgrade (node:http's
 * "upgrade" event, a uwsgi tunnel), whatever library speaks WebSocket on
 * them (ws, Socket.IO, crossws, @hono/node-ws): tsgw sees only bytes, so it
 * reads the handshake's answer from the first write, counts the WebSockets,
 * pings the quiet ones and says goodbye with 1001 at a graceful stop.
 */
import type { Duplex } from "node:stream";
import { countWebSocket, webSockets } from "../app/upgrade.ts";
import { MessageCounter } from "../protocol/websocket-frames.ts";
import { beforeGraceEnds } from "./native-server.ts";

/** A server's ping frame, unmasked and empty. */
const PING = Buffer.from([0x89, 0x00]);
/** A server's close frame, unmasked: FIN + close, a 12-byte payload: code 1001 and "going away". */
const GOING_AWAY = Buffer.from([0x88, 12, 0x03, 0xe9, ...Buffer.from("going away")]);

/** The status of an HTTP response head at the start of a chunk ("HTTP/1.1 101 ..."), or 0. */
function statusOf(chunk: unknown): number {
  const text = typeof chunk === "string"
    ? chunk.slice(0, 12)
    : chunk instanceof Uint8Array
    ? Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(12, chunk.length)).toString("latin1")
    : "";
  return /^HTTP\/1\.[01] \d{3}$/.test(text) ? Number(text.slice(9)) : 0;
}

/** What is known of one handed-over connection. */
interface Upgraded {
  /** counts its WebSocket closed; set once the handshake was answered 101 */
  uncount?: () => void;
  /** the messages it writes, counted once it is a WebSocket */
  out?: MessageCounter;
  /** writes so far, and as the last sweep saw them */
  writes: number;
  seen: number;
}

export class UpgradedSockets {
  private readonly open = new Map<Duplex, Upgraded>();
  private sweeper: ReturnType<typeof setInterval> | undefined;
  /** goingAway was called (by each of a worker's listeners that share these sockets) */
  private leaving = false;

  constructor(
    /** the most seconds a WebSocket goes without a frame written: quieter ones get a ping; 0: never */
    private readonly pingSeconds: number,
  ) {}

  /**
   * Watch a connection just handed over: its first write is the handshake's
   * answer, told to `onAnswer` (the access log); its writes are counted
   * (some runtimes' sockets keep no bytesWritten).
   */
  add(socket: Duplex, onAnswer: (status: number) => void): void {
    const state: Upgraded = { writes: 0, seen: 0 };
    this.open.set(socket, state);
    socket.once("close", () => {
      state.uncount?.();
      this.open.delete(socket);
    });
    const write = socket.write as (...a: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (state.writes++ === 0) {
        const status = statusOf(chunk);
        if (status) onAnswer(status);
        if (status === 101 && this.open.has(socket)) {
          state.uncount = countWebSocket();
          state.out = new MessageCounter();
          const inbound = new MessageCounter();
          socket.on("data", (d: Uint8Array) => void (webSockets.messagesIn += inbound.feed(d)));
          this.startPings();
        }
      } else if (state.out && chunk instanceof Uint8Array) webSockets.messagesOut += state.out.feed(chunk);
      return write.call(socket, chunk, ...rest);
    }) as typeof socket.write;
  }

  /**
   * A sweep every half ping interval: a WebSocket that wrote nothing since
   * the last sweep gets a ping, so no more than the interval passes without
   * a frame. Having nothing queued it is between frames, so the ping cannot
   * split one of its library's; the peer's pong is traffic for the proxy's
   * read timeout too.
   */
  private startPings(): void {
    if (this.sweeper || this.pingSeconds <= 0) return;
    this.sweeper = setInterval(() => {
      for (const [socket, state] of this.open) {
        if (state.uncount && state.writes === state.seen && socket.writableLength === 0 && socket.writable) socket.write(PING);
        state.seen = state.writes;
      }
      if (this.open.size === 0) this.sweeper = void clearInterval(this.sweeper);
    }, this.pingSeconds * 500);
    this.sweeper.unref?.();
  }

  /**
   * A stopping server's open WebSockets: they have until shortly before
   * `graceSeconds` runs out (the worker exits then) to close; the rest get a
   * close frame 1001 "going away", written on the connection itself, so
   * clients see a clean close and reconnect (to the next generation, in a
   * reload), not a reset.
   */
  goingAway(graceSeconds: number): void {
    if (this.open.size === 0 || this.leaving) return;
    this.leaving = true;
    beforeGraceEnds(graceSeconds, () => {
      for (const socket of this.open.keys()) {
        socket.end(GOING_AWAY);
        setTimeout(() => socket.destroy(), 1000).unref();
      }
    });
  }
}
