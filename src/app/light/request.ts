/**
 * A light Request over a node:http request: method, url and headers are read
 * straight from it, the body is read whole without a stream for text(),
 * json(), arrayBuffer() and bytes(), and anything else builds the real
 * Request on first use.
 */
import type { BridgeRequest, BridgeResponse } from "../bridge.ts";
import { bodyStream } from "../body-stream.ts";
import { HEADER } from "../request-header.ts";
import { delegateMembers, delegateTo, natives, REAL, REQUEST_MEMBERS, whenNativesLoaded } from "./natives.ts";

const DECODER = new TextDecoder();
const ABSOLUTE = /^https?:\/\//i;

/** the Host header, or HTTP/2's :authority; localhost where it is missing or empty (`http:///p` would make `p` the host) */
const hostOf = (req: BridgeRequest): string => (req.headers.host || req.headers[":authority"] || "localhost") as string;

export class LightRequest {
  #req: BridgeRequest;
  #res: BridgeResponse;
  #signal?: AbortSignal;
  #url?: string;
  #headers?: Headers;
  #real?: Request;

  constructor(req: BridgeRequest, res: BridgeResponse) {
    this.#req = req;
    this.#res = res;
  }
  get method(): string {
    return this.#req.method ?? "GET";
  }
  get url(): string {
    if (this.#url === undefined) {
      // `encrypted`: a TLS socket in node:http; a uwsgi request whose vars said HTTPS
      const scheme = (this.#req.socket as { encrypted?: boolean } | null)?.encrypted ? "https" : "http";
      const target = this.#req.url ?? "/";
      // absolute-form (GET http://host/path, as proxies send it) is the URL itself; "*" (OPTIONS *) has no path
      if (target.charCodeAt(0) !== 47 && ABSOLUTE.test(target)) this.#url = target;
      else this.#url = `${scheme}://${hostOf(this.#req)}${target.charCodeAt(0) === 47 ? target : "/"}`;
    }
    return this.#url;
  }
  get headers(): Headers {
    if (this.#real) return this.#real.headers;
    if (!this.#headers) {
      const h = new Headers();
      const raw = this.#req.rawHeaders;
      if (raw[0]?.charCodeAt(0) === 58) {
        // HTTP/2 (node:http2): its pseudo-headers (:method, :path...) are no headers; :authority is the Host
        for (let i = 0; i < raw.length; i += 2) if (raw[i]!.charCodeAt(0) !== 58) h.append(raw[i]!, raw[i + 1]!);
        if (!h.has("host")) h.set("host", hostOf(this.#req));
      } else {
        for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
      }
      this.#headers = h;
    }
    return this.#headers;
  }
  /** one header from the node request's own parsed ones (see request-header.ts) */
  [HEADER](name: string): string | null {
    const v = this.#req.headers[name];
    if (v === undefined) return name === "host" ? hostOf(this.#req) : null;
    return typeof v === "string" ? v : v.join(", ");
  }
  /** aborts when the client goes away before the response was sent; made on first use */
  get signal(): AbortSignal {
    if (!this.#signal) {
      const controller = new AbortController();
      const res = this.#res;
      if (res.destroyed && !res.writableFinished) controller.abort();
      else res.once("close", () => res.writableFinished || controller.abort());
      this.#signal = controller.signal;
    }
    return this.#signal;
  }
  get bodyUsed(): boolean {
    return this.#read !== undefined || (this.#real?.bodyUsed ?? false);
  }
  /*
   * The usual ways to read a whole body, straight from the IncomingMessage:
   * through a real Request they cost several times a small JSON request.
   */
  text(): Promise<string> {
    return this.#real ? this.#real.text() : this.#readAll().then((b) => DECODER.decode(b));
  }
  json(): Promise<unknown> {
    // parsed in the same turn as decoded: one promise fewer on the way to a small JSON body
    return this.#real ? this.#real.json() : this.#readAll().then((b) => JSON.parse(DECODER.decode(b)) as unknown);
  }
  arrayBuffer(): Promise<ArrayBuffer> {
    return this.#real ? this.#real.arrayBuffer() : this.#readAll().then((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
  }
  bytes(): Promise<Uint8Array> {
    return this.#real ? (this.#real as Request & { bytes(): Promise<Uint8Array> }).bytes() : this.#readAll().then((b) => new Uint8Array(b));
  }
  #read?: Promise<Buffer>;
  #readAll(): Promise<Buffer> {
    if (this.#read) return Promise.reject(new TypeError("Body is unusable: Body has already been read"));
    const req = this.#req;
    this.#read = this.method === "GET" || this.method === "HEAD" ? Promise.resolve(Buffer.alloc(0)) : new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.once("end", () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
      req.once("error", reject);
    });
    return this.#read;
  }
  /** The real Request, built on first need (body, clone, formData(), ...). */
  [REAL](): Request {
    if (!this.#real) {
      const method = this.method;
      const init: RequestInit & { duplex?: string } = { method, headers: this.headers, signal: this.signal };
      // (a body already read whole stays read: the real Request gets none)
      if (method !== "GET" && method !== "HEAD" && !this.#read) {
        init.body = bodyStream(this.#req);
        init.duplex = "half";
      }
      this.#real = new (natives().NativeRequest)(this.url, init);
    }
    return this.#real;
  }
}

delegateMembers(LightRequest.prototype, REQUEST_MEMBERS);
whenNativesLoaded(({ NativeRequest }) => delegateTo(LightRequest.prototype, NativeRequest.prototype));
