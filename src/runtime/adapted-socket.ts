/**
 * What the StreamSocket adapters over a runtime's low-level sockets (Bun's
 * Bun.listen sockets, Node's libuv stream handles) have in common: events,
 * corking, write-after-end, and ending once queued writes are out.
 */
import { EventEmitter } from "node:events";
import type { StreamSocket } from "./types.ts";

export abstract class AdaptedSocket extends EventEmitter implements StreamSocket {
  destroyed = false;
  protected ending = false;
  /** set by endAndClose: no half-close and wait for the peer's end */
  protected closeAtOnce = false;
  #corked: Uint8Array[] | undefined;
  /** (a JavaScript timer: Bun's socket timeouts tick every 4 s and may fire at once) */
  #timer: NodeJS.Timeout | undefined;

  abstract readonly remoteAddress: string | undefined;
  abstract readonly remotePort: number | undefined;
  abstract pause(): this;
  abstract resume(): this;
  /** hand bytes to the socket; false when some wait for the kernel ("drain" follows) */
  protected abstract send(bytes: Uint8Array): boolean;
  /** whether written bytes still wait for the kernel */
  protected abstract get waiting(): boolean;
  /** the writes are out and the socket was ended: finish it */
  protected abstract finish(): void;
  /** close at once */
  protected abstract abort(): void;

  write(data: Uint8Array | string, encoding?: BufferEncoding, done?: (err?: Error | null) => void): boolean {
    if (this.destroyed || this.ending) {
      done?.(new Error("write after end"));
      return false;
    }
    const bytes = typeof data === "string" ? Buffer.from(data, encoding ?? "utf8") : data;
    const more = this.#corked ? (this.#corked.push(bytes), true) : this.send(bytes);
    // done once the kernel took the bytes, so a stream writing through this one keeps its backpressure
    if (done && more) queueMicrotask(done);
    else if (done) this.#whenDrained(done);
    return more;
  }

  #whenDrained(done: (err?: Error | null) => void): void {
    const drained = () => {
      this.off("close", closed);
      done();
    };
    const closed = () => {
      this.off("drain", drained);
      done(new Error("the connection closed before the write went out"));
    };
    this.once("drain", drained);
    this.once("close", closed);
  }

  end(done?: () => void): this {
    if (this.ending || this.destroyed) return this;
    this.uncork();
    this.ending = true;
    if (done) this.once("close", done);
    if (!this.waiting) this.finish();
    return this;
  }

  endAndClose(): this {
    this.closeAtOnce = true;
    return this.end();
  }

  /** bytes from the peer */
  delivered(chunk: Uint8Array): void {
    this.#timer?.refresh();
    this.emit("data", chunk);
  }

  setTimeout(ms: number, onTimeout?: () => void): this {
    clearTimeout(this.#timer);
    this.#timer = ms > 0 ? setTimeout(() => this.emit("timeout"), ms).unref() : undefined;
    if (onTimeout) this.once("timeout", onTimeout);
    return this;
  }

  /** closed: no timeout to wait for */
  protected closed(): void {
    this.destroyed = true;
    clearTimeout(this.#timer);
  }

  /** the peer sent its last byte: as a net.Socket without allowHalfOpen, end this side too once the writes are out */
  peerEnded(): void {
    this.emit("end");
    if (!this.ending) this.end();
  }

  /** the kernel took everything: finish an ended socket, or tell writers to go on */
  protected drained(): void {
    if (this.ending) this.finish();
    else this.emit("drain");
  }

  destroy(err?: Error): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.abort();
    if (err && this.listenerCount("error")) this.emit("error", err);
    return this;
  }

  cork(): void {
    this.#corked ??= [];
  }

  uncork(): void {
    const corked = this.#corked;
    if (!corked) return;
    this.#corked = undefined;
    if (corked.length) this.send(corked.length === 1 ? corked[0]! : Buffer.concat(corked));
  }

  setKeepAlive(): this {
    return this;
  }
}

/** The open connections of a listener, so that a graceful stop can wait for them. */
export class OpenConnections<S extends StreamSocket> {
  readonly #open = new Set<S>();
  #idle: (() => void) | undefined;

  add(socket: S): void {
    this.#open.add(socket);
  }
  delete(socket: S): void {
    this.#open.delete(socket);
    if (this.#open.size === 0) this.#idle?.();
  }
  /** graceful: resolves when the last one closed; otherwise closes them all now */
  stop(graceful: boolean): Promise<void> {
    if (!graceful) { for (const socket of this.#open) socket.destroy(); }
    if (this.#open.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#idle = resolve));
  }
}
