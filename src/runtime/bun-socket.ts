/**
 * Raw connections on Bun through Bun.listen, which accepts and reads several
 * times faster than Bun's node:net (behind nginx, where every uwsgi request
 * is a new connection, that is most of the cost). Each connection is handed
 * out as a StreamSocket, the node:net-like surface the uwsgi server uses.
 */
import { countConnection, countsConnections } from "./connection-count.ts";
import type { BindAddress } from "../config/address.ts";
import { AdaptedSocket, OpenConnections } from "./adapted-socket.ts";
import type { NativeServer } from "./native-server.ts";
import type { StreamSocket } from "./types.ts";

/** The part of Bun's socket used here. */
interface NativeBunSocket {
  data: BunStreamSocket;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  readonly remoteFamily?: string;
  readonly localAddress?: string;
  readonly localPort?: number;
  /** bytes taken; fewer than given when the kernel buffer is full, -1 once closed */
  write(data: Uint8Array): number;
  end(): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay?(on: boolean): boolean;
}

interface BunListener {
  port?: number;
  stop(closeActive?: boolean): void;
}

declare const Bun: {
  listen(options: Record<string, unknown>): BunListener;
};

class BunStreamSocket extends AdaptedSocket {
  /** bytes the kernel did not take yet, sent on "drain" */
  #pending: Uint8Array[] = [];

  constructor(readonly raw: NativeBunSocket) {
    super();
  }
  get remoteAddress(): string | undefined {
    return this.raw.remoteAddress || undefined;
  }
  get remotePort(): number | undefined {
    return this.raw.remotePort;
  }
  get remoteFamily(): string | undefined {
    return this.raw.remoteFamily;
  }
  get localAddress(): string | undefined {
    return this.raw.localAddress;
  }
  get localPort(): number | undefined {
    return this.raw.localPort;
  }

  protected send(bytes: Uint8Array): boolean {
    if (this.#pending.length) this.#pending.push(bytes);
    else {
      const taken = this.raw.write(bytes);
      if (taken < 0) return void this.destroy(), false;
      if (taken < bytes.length) this.#pending.push(bytes.subarray(taken));
    }
    return this.#pending.length === 0;
  }
  protected get waiting(): boolean {
    return this.#pending.length > 0;
  }
  /** Bun's end() flushes and closes (no half-open wait), whichever way it was asked */
  protected finish(): void {
    this.raw.end();
  }
  protected abort(): void {
    this.raw.terminate();
  }

  /** Bun's close handler */
  gone(): void {
    this.closed();
    this.emit("close");
  }

  /** Bun's drain handler: the kernel takes more */
  flush(): void {
    while (this.#pending.length) {
      const next = this.#pending[0]!;
      const taken = this.raw.write(next);
      if (taken < 0) return void this.destroy();
      if (taken < next.length) {
        this.#pending[0] = next.subarray(taken);
        return;
      }
      this.#pending.shift();
    }
    this.drained();
  }

  pause(): this {
    this.raw.pause();
    return this;
  }
  resume(): this {
    this.raw.resume();
    return this;
  }
  setNoDelay(on = true): this {
    this.raw.setNoDelay?.(on);
    return this;
  }
}

/** Listen with Bun.listen; graceful stop waits for the open connections to end. */
export function listenBunSockets(address: BindAddress, shared: boolean, onConnection: (socket: StreamSocket) => void): NativeServer {
  const open = new OpenConnections<BunStreamSocket>();
  const counting = countsConnections();
  const listener = Bun.listen({
    ...(address.kind === "unix" ? { unix: address.path } : { hostname: address.host, port: address.port, reusePort: shared }),
    socket: {
      open(raw: NativeBunSocket) {
        const socket = new BunStreamSocket(raw);
        raw.data = socket;
        open.add(socket);
        if (counting) countConnection(socket);
        onConnection(socket);
      },
      data: (raw: NativeBunSocket, chunk: Buffer) => raw.data.delivered(chunk),
      drain: (raw: NativeBunSocket) => raw.data.flush(),
      end: (raw: NativeBunSocket) => raw.data.peerEnded(),
      error(raw: NativeBunSocket, err: Error) {
        if (raw.data.listenerCount("error")) raw.data.emit("error", err);
      },
      close(raw: NativeBunSocket) {
        const socket = raw.data;
        socket.gone();
        open.delete(socket);
      },
    },
  });
  return {
    port: listener.port,
    async stop(graceful) {
      listener.stop(!graceful);
      await open.stop(graceful);
    },
  };
}
