/**
 * Raw connections on Node straight from libuv's stream handles, past
 * net.Socket: behind nginx every uwsgi request is a new connection, and
 * building a net.Socket (a Duplex with its stream states) costs more than
 * the rest of the request (measured on a hello world: net.Socket about 21k
 * requests/s, a handle 55k, uWSGI's C server 50k).
 *
 * The listening socket is still opened by node:net (bind errors, unix socket
 * modes, and node:cluster sharing it between workers all stay Node's); only
 * its accept callback is taken over. The handles come from process.binding
 * ("stream_wrap"), kept by Node for compatibility; where it is missing or
 * different, connections stay net.Sockets.
 */
import type { Server } from "node:net";
import { AdaptedSocket, OpenConnections } from "./adapted-socket.ts";
import type { StreamSocket } from "./types.ts";

/** A libuv stream handle (TCPWrap, PipeWrap) as Node's internals use it. */
interface Handle {
  owner?: HandleSocket;
  onread: (this: Handle, buffer: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteReq, data: Uint8Array): number;
  shutdown(req: ShutdownReq): number;
  close(done?: () => void): void;
  getpeername?(out: Record<string, unknown>): number;
  getsockname?(out: Record<string, unknown>): number;
  setNoDelay?(on: boolean): number;
}
interface WriteReq {
  handle: Handle;
  buffer?: Uint8Array;
  oncomplete: (status: number) => void;
}
type ShutdownReq = Omit<WriteReq, "buffer">;

interface StreamBinding {
  WriteWrap: new () => WriteReq;
  ShutdownWrap: new () => ShutdownReq;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

/** libuv's end of file (UV_EOF) */
const UV_EOF = -4095;

function streamBinding(): StreamBinding | undefined {
  try {
    const b = (process as unknown as { binding(name: string): Partial<StreamBinding> }).binding("stream_wrap");
    const complete = typeof b.WriteWrap === "function" && typeof b.ShutdownWrap === "function" && b.streamBaseState instanceof Int32Array;
    const indexes = [b.kReadBytesOrError, b.kArrayBufferOffset, b.kLastWriteWasAsync].every((k) => typeof k === "number");
    return complete && indexes ? (b as StreamBinding) : undefined;
  } catch {
    return undefined;
  }
}

const binding = streamBinding();

class HandleSocket extends AdaptedSocket {
  #writing = 0;
  #peer: Record<string, unknown> | undefined;
  #sawEnd = false;

  constructor(
    private readonly handle: Handle,
    private readonly onClose: (socket: HandleSocket) => void,
  ) {
    super();
    handle.owner = this;
    handle.onread = onRead;
    handle.readStart();
  }

  #peerInfo(): Record<string, unknown> {
    if (!this.#peer) {
      this.#peer = {};
      this.handle.getpeername?.(this.#peer);
    }
    return this.#peer;
  }
  get remoteAddress(): string | undefined {
    return this.#peerInfo().address as string | undefined;
  }
  get remotePort(): number | undefined {
    return this.#peerInfo().port as number | undefined;
  }
  get remoteFamily(): string | undefined {
    return this.#peerInfo().family as string | undefined;
  }
  get localAddress(): string | undefined {
    const out: Record<string, unknown> = {};
    this.handle.getsockname?.(out);
    return out.address as string | undefined;
  }

  received(bytes: Buffer | undefined, n: number): void {
    if (n > 0) this.delivered(bytes!);
    else if (n === UV_EOF) {
      this.#sawEnd = true;
      this.handle.readStop();
      if (this.ending && !this.#writing) this.#close();
      else this.peerEnded();
    } else if (n < 0) this.destroy(new Error(`read failed (libuv error ${n})`));
  }

  protected send(bytes: Uint8Array): boolean {
    const b = binding!;
    const req = new b.WriteWrap();
    req.handle = this.handle;
    req.buffer = bytes; // held until written
    req.oncomplete = (status) => {
      this.#writing--;
      if (status < 0) this.destroy(new Error(`write failed (libuv error ${status})`));
      else if (!this.#writing) this.drained();
    };
    const err = this.handle.writeBuffer(req, bytes);
    if (err < 0) return void this.destroy(new Error(`write failed (libuv error ${err})`)), false;
    if (b.streamBaseState[b.kLastWriteWasAsync]) this.#writing++;
    return this.#writing === 0;
  }
  protected get waiting(): boolean {
    return this.#writing > 0;
  }
  protected finish(): void {
    if (this.destroyed) return;
    if (this.closeAtOnce || this.#sawEnd) return this.#close();
    // half-close, and close when the peer ends (see received)
    const req = new binding!.ShutdownWrap();
    req.handle = this.handle;
    req.oncomplete = () => {};
    if (this.handle.shutdown(req) < 0) this.#close();
  }
  protected abort(): void {
    this.#close();
  }

  #close(): void {
    this.closed();
    this.handle.owner = undefined; // (onread must stay a function: Node asserts it)
    this.handle.close(() => {
      this.onClose(this);
      this.emit("close");
    });
  }

  pause(): this {
    if (!this.destroyed) this.handle.readStop();
    return this;
  }
  resume(): this {
    if (!this.destroyed && !this.#sawEnd) this.handle.readStart();
    return this;
  }
  setNoDelay(on = true): this {
    this.handle.setNoDelay?.(on);
    return this;
  }
}

function onRead(this: Handle, buffer: ArrayBuffer | undefined): void {
  const b = binding!;
  const n = b.streamBaseState[b.kReadBytesOrError]!;
  // the ArrayBuffer is this read's own: a view on it needs no copy
  this.owner?.received(n > 0 ? Buffer.from(buffer!, b.streamBaseState[b.kArrayBufferOffset]!, n) : undefined, n);
}

/**
 * Take over a listening node:net server's accepts: each connection comes as
 * a StreamSocket over its libuv handle. Returns undefined (and leaves the
 * server alone) when this Node lacks what that needs.
 */
export function takeOverAccepts(server: Server, onConnection: (socket: StreamSocket) => void): OpenConnections<StreamSocket> | undefined {
  const listening = (server as unknown as { _handle?: { onconnection?: unknown } | null })._handle;
  if (!binding || !listening || typeof listening.onconnection !== "function") return undefined;
  const open = new OpenConnections<StreamSocket>();
  const closed = (socket: HandleSocket) => open.delete(socket);
  listening.onconnection = (err: number, client: Handle | undefined) => {
    if (err || !client) return;
    const socket = new HandleSocket(client, closed);
    open.add(socket);
    onConnection(socket);
  };
  return open;
}
