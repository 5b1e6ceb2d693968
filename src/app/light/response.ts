/**
 * A light Response: a string or bytes body is kept as given and written to
 * node:http in one write with content-length; a ReadableStream body is kept
 * for the server to read straight from; anything else (Blobs, FormData) is
 * a native Response inside.
 */
import type { OutgoingHttpHeaders } from "node:http";
import type { BridgeResponse } from "../bridge.ts";
import { forgetFetchEncoding, hasHeader, isHeadersObject, ownFraming, toNodeHeaders } from "../node-headers.ts";
import { delegateMembers, delegateTo, natives, REAL, RESPONSE_MEMBERS, whenNativesLoaded } from "./natives.ts";

const WRITE = Symbol("tsgw.write");
const STREAM = Symbol("tsgw.stream");

type KnownBody = string | Uint8Array | ArrayBuffer | null;

function isKnownBody(body: unknown): body is KnownBody | undefined {
  return body == null || typeof body === "string" || body instanceof Uint8Array || body instanceof ArrayBuffer;
}

export class LightResponse {
  #body: KnownBody;
  /** a ReadableStream body, until a native Response takes it (the server reads it straight from here) */
  #stream?: ReadableStream<Uint8Array>;
  #init: ResponseInit | undefined;
  #headers?: Headers;
  #real?: Response;

  constructor(body?: BodyInit | null, init?: ResponseInit) {
    // (known bodies are told apart first: on Node, reading the ReadableStream global loads web streams)
    if (isKnownBody(body)) this.#body = body ?? null;
    else if (body instanceof ReadableStream) {
      if (body.locked) throw new TypeError("Response body object should not be disturbed or locked");
      this.#body = null;
      this.#stream = body;
    } else {
      // Blobs, FormData, URLSearchParams: the native Response handles them
      this.#body = null;
      this.#real = new (natives().NativeResponse)(body, init);
      return;
    }
    this.#init = init;
    if (init && (init.status ?? 200) !== 200) checkStatus(init.status!);
  }
  static json(data: unknown, init?: ResponseInit): LightResponse {
    const body = JSON.stringify(data);
    if (body === undefined) throw new TypeError("Response.json: value is not JSON serializable");
    return new LightResponse(body, { ...init, headers: withDefaultType(init?.headers, "application/json") });
  }
  static redirect(url: string | URL, status?: number): Response {
    return natives().NativeResponse.redirect(url, status);
  }
  static error(): Response {
    return natives().NativeResponse.error();
  }
  static [Symbol.hasInstance](value: unknown): boolean {
    // light ones (without loading the native class), and native ones from fetch()
    return (typeof value === "object" && value !== null && #body in value) || value instanceof natives().NativeResponse;
  }
  get status(): number {
    return this.#real ? this.#real.status : (this.#init?.status ?? 200);
  }
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
  get statusText(): string {
    return this.#real ? this.#real.statusText : (this.#init?.statusText ?? "");
  }
  get headers(): Headers {
    if (this.#real) return this.#real.headers;
    if (!this.#headers) {
      this.#headers = new Headers(this.#init?.headers);
      if (typeof this.#body === "string" && !this.#headers.has("content-type")) {
        this.#headers.set("content-type", "text/plain;charset=UTF-8");
      }
    }
    return this.#headers;
  }
  /**
   * A stream body is the app's own stream, as a native Response's is; asked
   * for it, no native Response is made: the headers it would copy would no
   * longer see the app's later changes.
   */
  get body(): ReadableStream<Uint8Array> | null {
    return this.#stream && !this.#real ? this.#stream : this[REAL]().body;
  }
  get type(): ResponseType {
    return this.#real ? this.#real.type : "default";
  }
  get url(): string {
    return this.#real ? this.#real.url : "";
  }
  get redirected(): boolean {
    return this.#real ? this.#real.redirected : false;
  }
  [REAL](): Response {
    if (!this.#real) {
      const body = this.#stream ?? (this.#body as BodyInit | null);
      this.#real = new (natives().NativeResponse)(body, { ...this.#init, headers: this.#headers ?? this.#init?.headers });
    }
    return this.#real;
  }
  /** The head and the stream of a stream body no native Response took: what the server needs to send it. */
  [STREAM](http2: boolean): { headers: OutgoingHttpHeaders; body: ReadableStream<Uint8Array> } | undefined {
    if (!this.#stream || this.#real) return undefined;
    return { headers: ownFraming(toNodeHeaders(this.#headers ?? this.#init?.headers), http2), body: this.#stream };
  }
  /**
   * Write this response to node:http in one go when its body is known (a
   * string or bytes not yet read through the stream): content-length set,
   * one write. Returns false when the body must be streamed instead.
   */
  [WRITE](res: BridgeResponse): boolean {
    if (this.#stream) return false;
    const real = this.#real;
    if (real && (real.bodyUsed || (this.#body === null && real.body !== null))) return false;
    const body = this.#body;
    const headers = ownFraming(toNodeHeaders(real ? real.headers : (this.#headers ?? this.#init?.headers)), overHttp2(res));
    // a string body without content-type gets text/plain, as the Response constructor does
    if (!real && !this.#headers && typeof body === "string" && !hasHeader(headers, "content-type")) {
      headers["content-type"] = "text/plain;charset=UTF-8";
    }
    const status = this.status;
    if (NULL_BODY.has(status)) {
      // no body, whatever the app gave (Bun.serve drops it too; a native Response would have thrown), and no length of it
      res.writeHead(status, reasonPhrase(res, this.statusText), headers);
      res.end();
      return true;
    }
    const bytes = body === null ? undefined : typeof body === "string" ? body : new Uint8Array(body);
    headers["content-length"] = bytes === undefined ? 0 : typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.byteLength;
    res.writeHead(status, reasonPhrase(res, this.statusText), headers);
    res.end(bytes);
    return true;
  }
}

delegateMembers(LightResponse.prototype, RESPONSE_MEMBERS);

/** `headers` with a content-type added when it has none; a plain object stays one (a Headers would load undici on Node). */
function withDefaultType(headers: HeadersInit | undefined, type: string): HeadersInit {
  if (headers === undefined) return { "content-type": type };
  if (!Array.isArray(headers) && !isHeadersObject(headers)) {
    for (const key in headers) if (key.toLowerCase() === "content-type") return headers;
    return { ...headers, "content-type": type };
  }
  const h = new Headers(headers);
  if (!h.has("content-type")) h.set("content-type", type);
  return h;
}

function checkStatus(status: number): void {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`init["status"] must be in the range of 200 to 599, inclusive.`);
  }
}

/** Statuses whose responses have no body (the Fetch standard's null body statuses) */
export const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * The head and body of a response to be streamed (over HTTP/2 when `http2`): read from a light response where it
 * still holds them (no native Response made).
 */
export function streamedParts(response: Response, http2 = false): { headers: OutgoingHttpHeaders; body: ReadableStream<Uint8Array> | null } {
  const light = (response as unknown as LightResponse)[STREAM]?.(http2);
  if (light) return light;
  const headers = ownFraming(toNodeHeaders(response.headers), http2);
  forgetFetchEncoding(headers, response);
  return { headers, body: response.body };
}

/** Write a light response with a known body in one go; false for anything that must be streamed. */
export function writeKnownBody(response: Response, res: BridgeResponse): boolean {
  return (response as unknown as LightResponse)[WRITE]?.(res) ?? false;
}

whenNativesLoaded(({ NativeResponse }) => delegateTo(LightResponse.prototype, NativeResponse.prototype));

/** HTTP/2 has no reason phrase (node:http2's compatibility response warns at one): given only over HTTP/1 */
export function reasonPhrase(res: BridgeResponse, text: string): string | undefined {
  return text && !overHttp2(res) ? text : undefined;
}

/** a response of node:http2's compatibility API (its stream is the HTTP/2 stream) */
export function overHttp2(res: BridgeResponse): boolean {
  return !!(res as { stream?: unknown }).stream;
}
