/**
 * Light Request and Response objects for serving fetch apps from node:http.
 *
 * Why: on Node, constructing undici's Request and Response costs more than a
 * whole hello-world request in node:http, and reading a Response body back
 * out of a ReadableStream costs more again. So a request is a light object
 * that builds the real Request only when the app touches something beyond
 * method/url/headers, and (with the global Response swapped for LightResponse
 * in the serving process) a response made from a string or bytes is written
 * straight to the socket with a content-length, in one write.
 *
 * Both pass `instanceof Request` / `instanceof Response` (their prototypes
 * chain to the native ones), and the global Request and fetch unwrap a light
 * request, so apps that proxy (`fetch(request)`) or copy (`new Request(req)`)
 * keep working.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http";
import { bodyStream } from "./body-stream.ts";
import { hasHeader, isHeadersObject, toNodeHeaders } from "./node-headers.ts";

/**
 * The runtime's own globals, read on first use: on Node, touching any of
 * them loads undici, about 9 MB a worker that a fetch app answering from
 * light objects never needs. The property descriptors are taken now, before
 * the install functions below replace the globals.
 */
function original<T>(name: string): () => T {
  const desc = Object.getOwnPropertyDescriptor(globalThis, name);
  let value: T | undefined;
  return () => {
    if (value === undefined) {
      const now = Object.getOwnPropertyDescriptor(globalThis, name);
      value = (desc?.get ? desc.get.call(globalThis) : desc?.value) as T;
      // Node's lazy getter redefines the global as it loads: put back what is there now (tsgw's)
      if (now) Object.defineProperty(globalThis, name, now);
    }
    return value;
  };
}
const nativeFetch = original<typeof fetch>("fetch");
const nativeRequestClass = original<typeof Request>("Request");
const nativeResponseClass = original<typeof Response>("Response");
let chained = false;

/** The native classes; once they are loaded, the light prototypes chain to theirs (for instanceof) and delegate every member. */
function natives(): { NativeRequest: typeof Request; NativeResponse: typeof Response } {
  const NativeRequest = nativeRequestClass();
  const NativeResponse = nativeResponseClass();
  if (!chained) {
    chained = true;
    delegateTo(LightRequest.prototype, NativeRequest.prototype);
    delegateTo(LightResponse.prototype, NativeResponse.prototype);
  }
  return { NativeRequest, NativeResponse };
}

/**
 * The members of Request and Response, as the fetch standard names them:
 * light objects answer them before the native classes are loaded.
 */
const BODY_MEMBERS = { get: ["body", "bodyUsed", "headers"], call: ["arrayBuffer", "blob", "bytes", "formData", "json", "text", "clone"] };
const REQUEST_MEMBERS = {
  get: [
    ...BODY_MEMBERS.get,
    "method",
    "url",
    "destination",
    "referrer",
    "referrerPolicy",
    "mode",
    "credentials",
    "cache",
    "redirect",
    "integrity",
    "keepalive",
    "isReloadNavigation",
    "isHistoryNavigation",
    "signal",
    "duplex",
  ],
  call: BODY_MEMBERS.call,
};
const RESPONSE_MEMBERS = { get: [...BODY_MEMBERS.get, "type", "url", "redirected", "status", "ok", "statusText"], call: BODY_MEMBERS.call };

type Members = { get: string[]; call: string[] };

export const REAL = Symbol("tsgw.real");
const DECODER = new TextDecoder();
const WRITE = Symbol("tsgw.write");
const STREAM = Symbol("tsgw.stream");

// ---------------------------------------------------------------- requests

const ABSOLUTE = /^https?:\/\//i;

export class LightRequest {
  #req: IncomingMessage;
  #res: ServerResponse;
  #signal?: AbortSignal;
  #url?: string;
  #headers?: Headers;
  #real?: Request;

  constructor(req: IncomingMessage, res: ServerResponse) {
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
      else this.#url = `${scheme}://${this.#req.headers.host ?? "localhost"}${target.charCodeAt(0) === 47 ? target : "/"}`;
    }
    return this.#url;
  }
  get headers(): Headers {
    if (this.#real) return this.#real.headers;
    if (!this.#headers) {
      const h = new Headers();
      const raw = this.#req.rawHeaders;
      for (let i = 0; i < raw.length; i += 2) h.append(raw[i]!, raw[i + 1]!);
      this.#headers = h;
    }
    return this.#headers;
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
    return this.#real ? this.#real.json() : this.text().then((t) => JSON.parse(t) as unknown);
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

// --------------------------------------------------------------- responses

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
  [STREAM](): { headers: OutgoingHttpHeaders; body: ReadableStream<Uint8Array> } | undefined {
    if (!this.#stream || this.#real) return undefined;
    return { headers: toNodeHeaders(this.#headers ?? this.#init?.headers), body: this.#stream };
  }
  /**
   * Write this response to node:http in one go when its body is known (a
   * string or bytes not yet read through the stream): content-length set,
   * one write. Returns false when the body must be streamed instead.
   */
  [WRITE](res: ServerResponse): boolean {
    if (this.#stream) return false;
    const real = this.#real;
    if (real && (real.bodyUsed || (this.#body === null && real.body !== null))) return false;
    const body = this.#body;
    const headers = toNodeHeaders(real ? real.headers : (this.#headers ?? this.#init?.headers));
    // a string body without content-type gets text/plain, as the Response constructor does
    if (!real && !this.#headers && typeof body === "string" && !hasHeader(headers, "content-type")) {
      headers["content-type"] = "text/plain;charset=UTF-8";
    }
    const bytes = body === null ? undefined : typeof body === "string" ? body : new Uint8Array(body);
    headers["content-length"] = bytes === undefined ? 0 : typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.byteLength;
    res.writeHead(this.status, this.statusText || undefined, headers);
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

/** The head and body of a response to be streamed: read from a light response where it still holds them (no native Response made). */
export function streamedParts(response: Response): { headers: OutgoingHttpHeaders; body: ReadableStream<Uint8Array> | null } {
  return (response as unknown as LightResponse)[STREAM]?.() ?? { headers: toNodeHeaders(response.headers), body: response.body };
}

/** Write a light response with a known body in one go; false for anything that must be streamed. */
export function writeKnownBody(response: Response, res: ServerResponse): boolean {
  return (response as unknown as LightResponse)[WRITE]?.(res) ?? false;
}

// ------------------------------------------------------------------ common

/**
 * Make `light` answer each member it does not define itself by building the
 * real object and asking it.
 */
function delegateMembers(light: object, members: Members): void {
  const own = (key: string) => key === "constructor" || Object.prototype.hasOwnProperty.call(light, key);
  for (const key of members.call.filter((k) => !own(k))) {
    Object.defineProperty(light, key, {
      configurable: true,
      writable: true,
      value(this: { [REAL](): Record<string, (...a: unknown[]) => unknown> }, ...args: unknown[]) {
        return this[REAL]()[key]!(...args);
      },
    });
  }
  for (const key of members.get.filter((k) => !own(k))) {
    Object.defineProperty(light, key, {
      configurable: true,
      get(this: { [REAL](): Record<string, unknown> }) {
        return this[REAL]()[key];
      },
    });
  }
}

/** Once the native class is loaded: delegate whatever else its prototype has, and chain to it so `instanceof` holds. */
function delegateTo(light: object, native: object): void {
  const members: Members = { get: [], call: [] };
  for (const key of Object.getOwnPropertyNames(native)) {
    const desc = Object.getOwnPropertyDescriptor(native, key)!;
    if (typeof desc.value === "function") members.call.push(key);
    else if (desc.get) members.get.push(key);
  }
  delegateMembers(light, members);
  Object.setPrototypeOf(light, native);
}

/** Unwrap light objects wherever native code would see them. */
function real<T>(value: T): T {
  return value && typeof value === "object" && REAL in value ? (value as { [REAL](): T })[REAL]() : value;
}

let compatRequest: typeof Request | undefined;

/** The global Request tsgw installs: unwraps light requests given to it; made (loading the native class) on first use. */
function compatRequestClass(): typeof Request {
  if (!compatRequest) {
    const { NativeRequest } = natives();
    compatRequest = class Request extends NativeRequest {
      constructor(input: RequestInfo | URL, init?: RequestInit) {
        super(real(input), init);
      }
      static [Symbol.hasInstance](value: unknown): boolean {
        return value instanceof NativeRequest;
      }
    };
  }
  return compatRequest;
}

let compat = false;

/**
 * The light prototypes chain to the native ones (so `instanceof` with a
 * native class holds) once those are loaded: now, where they are (Bun,
 * Deno, or Node after something touched them), else when an app first
 * reaches for one of undici's other globals on Node.
 */
function chainOnLoad(): void {
  if (!Object.getOwnPropertyDescriptor(globalThis, "Response")?.get) return void natives();
  for (const name of ["Headers", "FormData", "MessageEvent"]) {
    const lazy = Object.getOwnPropertyDescriptor(globalThis, name);
    if (!lazy?.get) continue;
    Object.defineProperty(globalThis, name, {
      configurable: true,
      enumerable: lazy.enumerable,
      get() {
        natives();
        return lazy.get!.call(globalThis); // Node's getter, which replaces this property by the class
      },
      set: lazy.set,
    });
  }
}

/**
 * Let light requests pass wherever an app hands them to native code
 * (`new Request(request)`, `fetch(request)`): needed wherever fetch apps are
 * served from node:http, on any runtime.
 */
export function installRequestCompat(): void {
  if (compat) return;
  compat = true;
  chainOnLoad();
  // an accessor, as Node's own lazy globals are: the class is made when an app first asks for it
  Object.defineProperty(globalThis, "Request", {
    configurable: true,
    get: compatRequestClass,
    set: (value: unknown) => Object.defineProperty(globalThis, "Request", { value, writable: true, configurable: true }),
  });
  globalThis.fetch = (input: RequestInfo | URL, init?: RequestInit) => nativeFetch()(real(input), init);
}

/** On Node, where node:http serves every fetch app: also the light Response. */
export function installLightGlobals(): void {
  installRequestCompat();
  Object.defineProperty(globalThis, "Response", { value: LightResponse, writable: true, configurable: true });
}
