/**
 * Static files served before the app (uWSGI's --static-map /PREFIX=DIR):
 * GET and HEAD under a prefix answer from DIR with content-type,
 * content-length, ETag and Last-Modified (and 304 for If-None-Match or
 * If-Modified-Since), one byte range (206, 416, If-Range), and a
 * precompressed `.br` or `.gz` sibling when the client accepts it. A path
 * that climbs out of DIR (`..`, a symlink leading elsewhere) or names a dot
 * file is refused with 404; a file that is not there, a folder (no
 * listings) and other methods go to the app, as in uWSGI. The bytes go out
 * the runtime's cheapest way (Runtime.fileBody: Bun.file, Deno's file
 * stream, node:fs; on Node and Deno up to 64 KB are read at once and sent as
 * one body of known length).
 *
 * File system calls are synchronous: a stat of a cached inode takes
 * microseconds, where each promise-based call is a round trip through the
 * thread pool (measured, Node, a 16 KB file: 2.8k req/s with fs/promises).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createReadStream, realpathSync, type Stats, statSync } from "node:fs";
import { readSmall, SMALL } from "../runtime/file-body.ts";
import { extname, join, resolve, sep } from "node:path";
import type { FetchHandler, NodeListener } from "../app/contract.ts";
import { requestHeader } from "../app/request-header.ts";

/** What a file answer sends: a slice of a file (inclusive end), or nothing (HEAD, 304, 416, 404). */
export interface FileAnswer {
  status: number;
  headers: Record<string, string>;
  body?: { path: string; start: number; end: number; size: number };
}

/** The runtime's way to send part of a file as a Response body (see Runtime.fileBody). */
export type FileBody = (path: string, start: number, end: number, size: number) => BodyInit;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".htm": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
  ".xml": "application/xml; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/x-icon",
  ".pdf": "application/pdf",
  ".wasm": "application/wasm",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
  ".mp3": "audio/mpeg",
  ".wav": "audio/wav",
  ".ogg": "audio/ogg",
  ".zip": "application/zip",
  ".gz": "application/gzip",
  ".webmanifest": "application/manifest+json",
};

const NOT_FOUND: FileAnswer = { status: 404, headers: { "content-type": "text/plain; charset=utf-8", "content-length": "9" } };
/** the precompressed siblings looked for, best first */
const ENCODINGS = [["br", ".br"], ["gzip", ".gz"]] as const;

interface Mount {
  /** "/static" (no trailing slash), or "" for "/" */
  prefix: string;
  root: string;
  realRoot: string;
}

export class StaticFiles {
  readonly mounts: Mount[];

  /** `maps`: "/PREFIX=DIR" each (checked by the setting), DIR relative to `cwd` */
  constructor(maps: string[], cwd: string) {
    this.mounts = maps.map((m) => {
      const i = m.indexOf("=");
      const root = resolve(cwd, m.slice(i + 1));
      return { prefix: m.slice(0, i).replace(/\/+$/, ""), root, realRoot: root };
    }).sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** Resolve the roots' own symlinks once; returns the roots that are not folders, for a warning. */
  prepare(): string[] {
    const missing: string[] = [];
    for (const m of this.mounts) {
      try {
        m.realRoot = realpathSync(m.root);
        if (!statSync(m.realRoot).isDirectory()) missing.push(m.root);
      } catch {
        missing.push(m.root);
      }
    }
    return missing;
  }

  /** the mount a path is under, if any (cheap: every request asks) */
  mountOf(pathname: string): Mount | undefined {
    for (const m of this.mounts) {
      if (pathname.startsWith(m.prefix) && (pathname.length === m.prefix.length || pathname.charCodeAt(m.prefix.length) === 47)) return m;
    }
    return undefined;
  }

  /** The answer for a request under `mount`; undefined when the app should answer (no such file, a folder, another method). */
  answer(mount: Mount, method: string, pathname: string, header: (name: string) => string | undefined): FileAnswer | undefined {
    if (method !== "GET" && method !== "HEAD") return undefined;
    let rel: string;
    try {
      rel = decodeURIComponent(pathname.slice(mount.prefix.length));
    } catch {
      return NOT_FOUND;
    }
    const parts = rel.split("/").filter((p) => p !== "");
    // climbing out, dot files (.env, .git), NUL and backslashes are refused, not looked up
    if (rel.includes("\0") || rel.includes("\\") || parts.some((p) => p.startsWith("."))) return NOT_FOUND;
    const file = join(mount.root, ...parts);
    const found = this.#file(mount, file);
    if (found === "outside") return NOT_FOUND;
    if (!found) return undefined;
    // only the encodings the client takes are looked for (each look is a stat); Vary is sent either way
    const accepted = acceptedEncodings(header("accept-encoding"));
    let chosen: [string, Stats, string] | undefined;
    for (const [enc, ext] of ENCODINGS) {
      if (!accepted.has(enc)) continue;
      const sibling = this.#file(mount, file + ext);
      if (typeof sibling === "object") {
        chosen = [file + ext, sibling, enc];
        break;
      }
    }
    const [path, info, encoding] = chosen ?? [file, found, undefined];
    const headers: Record<string, string> = {
      "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
      "last-modified": new Date(Math.floor(info.mtimeMs / 1000) * 1000).toUTCString(),
      etag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}${encoding ? `-${encoding}` : ""}"`,
      "accept-ranges": "bytes",
      vary: "accept-encoding",
    };
    if (encoding) headers["content-encoding"] = encoding;
    if (notModified(header, headers.etag!, info.mtimeMs)) return { status: 304, headers: without(headers, "content-type") };
    const range = rangeOf(header, headers.etag!, info);
    if (range === "unsatisfiable") {
      return { status: 416, headers: { "content-range": `bytes */${info.size}`, "content-length": "0" } };
    }
    const [start, end] = range ?? [0, info.size - 1];
    headers["content-length"] = String(end - start + 1);
    if (range) headers["content-range"] = `bytes ${start}-${end}/${info.size}`;
    // given for HEAD too: a runtime's server leaves the body out but keeps its length
    const body = end < start ? undefined : { path, start, end, size: info.size };
    return { status: range ? 206 : 200, headers, body };
  }

  /** a regular file inside the mount's root, "outside" when its real path leads elsewhere, undefined when it is none */
  #file(mount: Mount, file: string): Stats | "outside" | undefined {
    const info = statSync(file, { throwIfNoEntry: false });
    if (!info?.isFile()) return undefined;
    let real = file;
    try {
      real = realpath(file);
    } catch {
      // gone between the two calls: checked as named
    }
    return real.startsWith(mount.realRoot + sep) ? info : "outside";
  }
}

function without(headers: Record<string, string>, name: string): Record<string, string> {
  const { [name]: _, ...rest } = headers;
  return rest;
}

/** br and gzip unless refused with q=0 */
function acceptedEncodings(value: string | undefined): Set<string> {
  const out = new Set<string>();
  for (const part of (value ?? "").split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    if (name && !(q && Number(q.slice(2)) === 0)) out.add(name === "*" ? "br" : name);
  }
  return out;
}

/** If-None-Match (any tag, or *), else If-Modified-Since at or after the file's time (to the second) */
function notModified(header: (name: string) => string | undefined, etag: string, mtimeMs: number): boolean {
  const inm = header("if-none-match");
  if (inm !== undefined) return inm.split(",").some((t) => t.trim() === "*" || t.trim().replace(/^W\//, "") === etag);
  const ims = Date.parse(header("if-modified-since") ?? "");
  return !Number.isNaN(ims) && Math.floor(mtimeMs / 1000) <= Math.floor(ims / 1000);
}

/** One byte range (`bytes=a-b`, `a-`, `-n`) as [start, end]; undefined for the whole file (no Range, several ranges, a stale If-Range). */
function rangeOf(header: (name: string) => string | undefined, etag: string, info: Stats): [number, number] | "unsatisfiable" | undefined {
  const value = header("range");
  if (!value) return undefined;
  const ifRange = header("if-range");
  if (ifRange !== undefined) {
    const fresh = ifRange.startsWith('"') ? ifRange === etag : Date.parse(ifRange) === Math.floor(info.mtimeMs / 1000) * 1000;
    if (!fresh) return undefined;
  }
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined; // not one range we read: the whole file, as RFC 9110 allows
  const size = info.size;
  let start: number;
  let end: number;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    [start, end] = [Math.max(0, size - suffix), size - 1];
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start >= size || start > end ? "unsatisfiable" : [start, end];
}

/** The pathname of an absolute URL, without parsing all of it. */
function pathnameOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const q = url.indexOf("?", start);
  const h = url.indexOf("#", start);
  const end = Math.min(q < 0 ? url.length : q, h < 0 ? url.length : h);
  return url.slice(start, end);
}

/** libc's realpath where the runtime has it (Node's JS one walks every component: 14 us against 2) */
const realpath = realpathSync.native ?? realpathSync;

const small = (b: NonNullable<FileAnswer["body"]>) => b.end - b.start + 1 <= SMALL;

/** A fetch app with static files before it. */
export function staticFetch(files: StaticFiles, handler: FetchHandler, fileBody: FileBody, onError: (m: string) => void): FetchHandler {
  return (req, info) => {
    const pathname = pathnameOf(req.url);
    const mount = files.mountOf(pathname);
    if (!mount) return handler(req, info);
    try {
      const a = files.answer(mount, req.method, pathname, (n) => requestHeader(req, n) ?? undefined);
      if (!a) return handler(req, info);
      const b = a.body;
      const body = b ? fileBody(b.path, b.start, b.end, b.size) : a.status === 404 ? "Not Found" : null;
      return new Response(body as BodyInit | null, a);
    } catch (err) {
      onError(`static file ${pathname}: ${String(err)}`);
      return new Response("Internal Server Error", { status: 500 });
    }
  };
}

/** A Node listener with static files before it. */
export function staticNode(files: StaticFiles, listener: NodeListener, onError: (m: string) => void): NodeListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const pathname = q < 0 ? url : url.slice(0, q);
    const mount = files.mountOf(pathname);
    if (!mount) return listener(req, res);
    let a: FileAnswer | undefined;
    try {
      a = files.answer(mount, req.method ?? "GET", pathname, (n) => [req.headers[n]].flat()[0]);
      if (!a) return listener(req, res);
      const b = a.body;
      if (!b || req.method === "HEAD") return void res.writeHead(a.status, a.headers).end(a.status === 404 ? "Not Found" : undefined);
      if (small(b)) return void res.writeHead(a.status, a.headers).end(readSmall(b.path, b.start, b.end));
      res.writeHead(a.status, a.headers);
      const stream = createReadStream(b.path, { start: b.start, end: b.end, highWaterMark: SMALL });
      stream.on("error", (err) => {
        onError(`static file ${pathname}: ${String(err)}`);
        res.destroy();
      });
      res.on("close", () => stream.destroy());
      stream.pipe(res);
    } catch (err) {
      onError(`static file ${pathname}: ${String(err)}`);
      if (res.headersSent) res.destroy();
      else res.writeHead(500).end();
    }
  };
}
