/**
 * A fetch app over uwsgi: what fetchToNodeListener reads of an
 * IncomingMessage, made from the vars, and what it writes to a
 * ServerResponse, onto the connection (the head goes out with the first body
 * bytes, in one write when the body is known).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Readable } from "node:stream";
import { type RequestParts, responseHead } from "../../protocol/uwsgi.ts";
import type { StreamSocket } from "../../runtime/types.ts";
import { bodyLength, bodyOf, type BodyStall, closeAfterResponse } from "./body.ts";
import { nodeHeaders } from "./headers.ts";

/**
 * What fetchToNodeListener reads of an IncomingMessage, from the vars. Its
 * stream methods are the body's (see bodyOf), made only when the app reads
 * one: most requests have none.
 */
export class UwsgiRequest {
  readonly method: string;
  /** path and query, as IncomingMessage.url */
  readonly url: string;
  #headers?: IncomingHttpHeaders;
  readonly rawHeaders: string[] = [];
  /** the peer nginx saw, and whether it came over HTTPS (LightRequest reads `encrypted`) */
  readonly socket: { remoteAddress: string; remotePort: number; remoteFamily: string; encrypted: boolean };
  #body: Readable | undefined;
  /** the whole request came off the socket (nothing unread that closing would reset) */
  allRead: boolean;

  constructor(
    private readonly source: StreamSocket,
    private readonly parts: RequestParts,
    private readonly first: Uint8Array,
    private readonly stall: BodyStall,
  ) {
    this.method = parts.method;
    this.url = parts.path;
    for (const [k, v] of parts.headers) this.rawHeaders.push(k, v);
    const ip = parts.remote.hostname;
    this.socket = { remoteAddress: ip, remotePort: parts.remote.port, remoteFamily: ip.includes(":") ? "IPv6" : "IPv4", encrypted: parts.https };
    this.allRead = bodyLength(parts) <= first.length;
  }

  /** as node:http would parse them, made on first read (most requests are answered without) */
  get headers(): IncomingHttpHeaders {
    return this.#headers ??= { ...nodeHeaders(this.parts.headers), host: this.parts.host };
  }

  #stream(): Readable {
    return (this.#body ??= bodyOf(this.source, this.first, bodyLength(this.parts), () => (this.allRead = true), this.stall));
  }
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): this {
    this.#stream().on(event, listener);
    return this;
  }
  // deno-lint-ignore no-explicit-any
  once(event: string, listener: (...args: any[]) => void): this {
    this.#stream().once(event, listener);
    return this;
  }
  // deno-lint-ignore no-explicit-any
  off(event: string, listener: (...args: any[]) => void): this {
    this.#stream().off(event, listener);
    return this;
  }
  pause(): this {
    this.#stream().pause();
    return this;
  }
  resume(): this {
    this.#stream().resume();
    return this;
  }
  destroy(err?: Error): this {
    this.#stream().destroy(err);
    return this;
  }
}

/**
 * What fetchToNodeListener (and LightResponse) use of a ServerResponse, onto
 * the connection: the head goes out with the first body bytes, in one write
 * when the body is known; end() ends the connection.
 */
const EMPTY = new Uint8Array(0);

export class UwsgiResponse {
  headersSent = false;
  writableFinished = false;
  private head: Buffer | undefined;

  private readonly isHead: boolean;

  constructor(
    private readonly connection: StreamSocket,
    private readonly request: UwsgiRequest,
  ) {
    this.isHead = request.method === "HEAD";
  }

  get destroyed(): boolean {
    return this.connection.destroyed;
  }

  writeHead(status: number, reason?: string | OutgoingHttpHeaders, headers?: OutgoingHttpHeaders): this {
    if (typeof reason === "object") [headers, reason] = [reason, undefined];
    const list: [string, string][] = [];
    for (const key in headers) {
      const value = headers[key];
      if (Array.isArray(value)) { for (const one of value) list.push([key, one]); }
      else if (value !== undefined) list.push([key, String(value)]);
    }
    // header values are bytes (ByteString): latin1, as node:http writes them
    this.head = Buffer.from(responseHead(status, reason ?? "", list), "latin1");
    this.headersSent = true;
    return this;
  }

  write(chunk: string | Uint8Array): boolean {
    if (this.isHead) return true;
    return this.connection.write(this.withHead(chunk));
  }

  end(chunk?: string | Uint8Array): this {
    const bytes = this.withHead(this.isHead ? undefined : chunk);
    const { connection: socket } = this;
    if (bytes.length) socket.write(bytes);
    closeAfterResponse(socket, this.request.allRead);
    this.writableFinished = true;
    return this;
  }

  /** the head, if not sent yet, and `chunk` as one buffer: one write (a corked pair is a writev, slower) */
  private withHead(chunk: string | Uint8Array | undefined): Uint8Array {
    const { head } = this;
    const bytes = chunk === undefined ? EMPTY : typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    if (!head) return bytes;
    this.head = undefined;
    return bytes.length ? Buffer.concat([head, bytes]) : head;
  }

  destroy(): void {
    this.connection.destroy();
  }

  on(event: string, listener: () => void): this {
    this.connection.on(event, listener);
    return this;
  }
  once(event: string, listener: () => void): this {
    this.connection.once(event, listener);
    return this;
  }
  off(event: string, listener: () => void): this {
    this.connection.off(event, listener);
    return this;
  }
}
