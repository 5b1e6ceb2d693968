/**
 * What the fetch bridge (node-adapter.ts, the light request and response)
 * uses of a request and a response: node:http's IncomingMessage and
 * ServerResponse have all of it, and so have the uwsgi server's request and
 * writer made from the vars, which the type checker holds to it.
 */
import type { OutgoingHttpHeaders } from "node:http";

/** A readable byte source: a request body (node:http's, or a uwsgi request's). */
export interface BodySource {
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): unknown;
  // deno-lint-ignore no-explicit-any
  once(event: string, listener: (...args: any[]) => void): unknown;
  pause(): unknown;
  resume(): unknown;
  destroy(err?: Error): unknown;
}

export interface BridgeRequest extends BodySource {
  readonly method?: string;
  /** path and query, or an absolute-form target */
  readonly url?: string;
  /** as node:http parses them: names in lower case, repeats joined; `:authority` in HTTP/2 (node:http2's compatibility request) */
  readonly headers: { readonly [name: string]: string | string[] | undefined };
  readonly rawHeaders: string[];
  /** the peer, and `encrypted` for a TLS socket (or a uwsgi request nginx saw over HTTPS) */
  readonly socket: { remoteAddress?: string; remotePort?: number; encrypted?: boolean } | null;
}

export interface BridgeResponse {
  readonly headersSent: boolean;
  readonly writableFinished: boolean;
  readonly destroyed: boolean;
  /** the connection, where one belongs to this response alone for its lifetime (node:http's keep-alive socket) */
  readonly socket?: unknown;
  writeHead(status: number, reason?: string, headers?: OutgoingHttpHeaders): this;
  write(chunk: Uint8Array | string): boolean;
  end(chunk?: Uint8Array | string): this;
  destroy(): unknown;
  on(event: "close" | "drain", listener: () => void): unknown;
  once(event: "close" | "drain", listener: () => void): unknown;
  off(event: "close" | "drain", listener: () => void): unknown;
  /** node:http keeps headers set before writeHead; the uwsgi writer keeps none */
  getHeaderNames?(): string[];
  removeHeader?(name: string): void;
}

/** A fetch app served on a bridge request and response. */
export type BridgeListener = (req: BridgeRequest, res: BridgeResponse) => void;
