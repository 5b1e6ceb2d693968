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
 * stream, node:fs).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createReadStream, type Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { extname, join, resolve, sep } from "node:path";
import type { FetchHandler, NodeListener } from "../app/contract.ts";

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
  async prepare(): Promise<string[]> {
    const missing: string[] = [];
    for (const m of this.mounts) {
      try {
        m.realRoot = await realpath(m.root);
        if (!(await stat(m.realRoot)).isDirectory()) missing.push(m.root);
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
  async answer(mount: Mount, method: string, pathname: string, header: (name: string) => string | undefined): Promise<FileAnswer | undefined> {
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
    const found = await this.#file(mount, file);
    if (found === "outside") return NOT_FOUND;
    if (!found) return undefined;
    const variants = await Promise.all(ENCODINGS.map(async ([enc, ext]) => [enc, file + ext, await this.#file(mount, file + ext)] as const));
    const available = variants.filter((v): v is [typeof v[0], string, Stats] => typeof v[2] === "object");
    const accepted = acceptedEncodings(header("accept-encoding"));
    const chosen = available.find(([enc]) => accepted.has(enc));
    const [path, info, encoding] = chosen ? [chosen[1], chosen[2], chosen[0]] : [file, found, undefined];
    const headers: Record<string, string> = {
      "content-type": TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
      "last-modified": new Date(Math.floor(info.mtimeMs / 1000) * 1000).toUTCString(),
      etag: `"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}${encoding ? `-${encoding}` : ""}"`,
      "accept-ranges": "bytes",
    };
    if (available.length > 0) headers.vary = "accept-encoding";
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
  async #file(mount: Mount, file: string): Promise<Stats | "outside" | undefined> {
    let info: Stats;
    try {
      info = await stat(file);
    } catch {
      return undefined;
    }
    if (!info.isFile()) return undefined;
    const real = await realpath(file).catch(() => file);
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

/** A fetch app with static files before it. */
export function staticFetch(files: StaticFiles, handler: FetchHandler, fileBody: FileBody, onError: (m: string) => void): FetchHandler {
  return (req, info) => {
    const pathname = pathnameOf(req.url);
    const mount = files.mountOf(pathname);
    if (!mount) return handler(req, info);
    return files.answer(mount, req.method, pathname, (n) => req.headers.get(n) ?? undefined).then(
      (
        a,
      ) => (a
        ? new Response(a.body ? fileBody(a.body.path, a.body.start, a.body.end, a.body.size) : a.status === 404 ? "Not Found" : null, a)
        : handler(req, info)),
      (err) => {
        onError(`static file ${pathname}: ${String(err)}`);
        return new Response("Internal Server Error", { status: 500 });
      },
    );
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
    files.answer(mount, req.method ?? "GET", pathname, (n) => [req.headers[n]].flat()[0]).then((a) => {
      if (!a) return listener(req, res);
      res.writeHead(a.status, a.headers);
      if (!a.body || req.method === "HEAD") return void res.end(a.status === 404 ? "Not Found" : undefined);
      const stream = createReadStream(a.body.path, { start: a.body.start, end: a.body.end });
      stream.on("error", (err) => {
        onError(`static file ${pathname}: ${String(err)}`);
        res.destroy();
      });
      res.on("close", () => stream.destroy());
      stream.pipe(res);
    }, (err) => {
      onError(`static file ${pathname}: ${String(err)}`);
      res.writeHead(500).end();
    });
  };
}
