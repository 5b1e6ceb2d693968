/**
 * Access log lines in Gunicorn's format language, the same for HTTP and uwsgi
 * requests. The format is compiled once into a list of small functions; the
 * lines go to a buffered target (see files.ts: written at least every second
 * and on exit, so none is lost on a graceful stop, reload or recycle).
 */
import { atExit, type LogTarget } from "./files.ts";

/** What one served request left behind, whichever server and interface served it. */
export interface AccessRecord {
  remote: string;
  method: string;
  /** path and query, as requested */
  target: string;
  protocol: string;
  status: number;
  /** body bytes when known (content-length), else undefined */
  length: number | undefined;
  /** wall clock at the start, ms */
  start: number;
  /** duration, ms with a fraction */
  elapsed: number;
  requestHeader(name: string): string | undefined;
  responseHeader(name: string): string | undefined;
  /** a TLS variable of the request's connection (nginx's names, ssl_client_s_dn...), undefined when there is none */
  tlsVariable(name: string): string | undefined;
}

type Atom = (r: AccessRecord) => string;

const dash = (v: string | undefined | null): string => (v === undefined || v === null || v === "" ? "-" : v);

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
let stampSecond = -1;
let stampText = "";

/** [25/Nov/2026:19:06:09 +0000], computed once per second */
function clfTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second !== stampSecond) {
    const d = new Date(second * 1000);
    const p = (n: number) => String(n).padStart(2, "0");
    stampText = `[${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${
      p(d.getUTCSeconds())
    } +0000]`;
    stampSecond = second;
  }
  return stampText;
}

function basicUser(r: AccessRecord): string {
  const auth = r.requestHeader("authorization");
  if (!auth?.toLowerCase().startsWith("basic ")) return "-";
  const decoded = Buffer.from(auth.slice(6).trim(), "base64").toString("utf8");
  return dash(decoded.slice(0, Math.max(0, decoded.indexOf(":"))));
}

const ATOMS: Record<string, Atom> = {
  h: (r) => dash(r.remote),
  l: () => "-",
  u: basicUser,
  t: (r) => clfTime(r.start),
  r: (r) => `${r.method} ${r.target} ${r.protocol}`,
  m: (r) => r.method,
  U: (r) => {
    const q = r.target.indexOf("?");
    return q < 0 ? r.target : r.target.slice(0, q);
  },
  q: (r) => {
    const q = r.target.indexOf("?");
    return q < 0 ? "" : r.target.slice(q + 1);
  },
  H: (r) => r.protocol,
  s: (r) => String(r.status),
  B: (r) => String(r.length ?? 0),
  b: (r) => {
    const n = r.length;
    return n ? String(n) : "-";
  },
  f: (r) => dash(r.requestHeader("referer")),
  a: (r) => dash(r.requestHeader("user-agent")),
  T: (r) => String(Math.floor(r.elapsed / 1000)),
  D: (r) => String(Math.round(r.elapsed * 1000)),
  M: (r) => String(Math.round(r.elapsed)),
  L: (r) => (r.elapsed / 1000).toFixed(6),
  p: () => `<${process.pid}>`,
};

const ATOM_RE = /%\((\{[^}]*\}[ioe]|[A-Za-z]+)\)s/g;

/** What is wrong with a format (an unknown variable), if anything. */
export function checkAccessFormat(format: string): string | undefined {
  for (const [, name] of format.matchAll(ATOM_RE)) {
    if (!name!.startsWith("{") && !ATOMS[name!]) {
      return `unknown access log variable %(${name})s; known: ${Object.keys(ATOMS).join(" ")} {header}i {header}o {var}e`;
    }
  }
  return undefined;
}

/**
 * A format as the function that writes its line, and whether it reads the
 * connection's TLS (ssl_* variables), which a runtime may let go of once the
 * response closed (Deno).
 */
export function compileAccessFormat(format: string): { line: (r: AccessRecord) => string; readsTls: boolean } {
  const parts: (string | Atom)[] = [];
  let readsTls = false;
  let last = 0;
  for (const m of format.matchAll(ATOM_RE)) {
    if (m.index! > last) parts.push(format.slice(last, m.index));
    const name = m[1]!;
    if (name.startsWith("{")) {
      const key = name.slice(1, name.indexOf("}"));
      const lower = key.toLowerCase();
      const kind = name[name.length - 1];
      if (kind === "e" && lower.startsWith("ssl_")) readsTls = true;
      parts.push(
        kind === "i" ? (r) => dash(r.requestHeader(lower)) : kind === "o"
          ? (r) => dash(r.responseHeader(lower))
          // nginx's ssl_* names are the connection's TLS variables; the rest, as in Gunicorn, the environment's
          : lower.startsWith("ssl_")
          ? (r) => dash(r.tlsVariable(lower))
          : () => dash(process.env[key]),
      );
    } else {
      parts.push(ATOMS[name] ?? (() => "-"));
    }
    last = m.index! + m[0].length;
  }
  if (last < format.length) parts.push(format.slice(last));
  const line = (r: AccessRecord) => {
    let text = "";
    for (const p of parts) text += typeof p === "string" ? p : p(r);
    return text;
  };
  return { line, readsTls };
}

export class AccessLog {
  private readonly format: (r: AccessRecord) => string;
  private queue: AccessRecord[] = [];
  /** the format reads the connection's TLS: its lines cannot wait (see compileAccessFormat) */
  private readonly readsTls: boolean;

  /** `target` is buffered (openLogTarget(path, 1, true)) */
  constructor(
    private readonly target: LogTarget,
    format: string,
  ) {
    ({ line: this.format, readsTls: this.readsTls } = compileAccessFormat(format));
    atExit(() => (this.drain(), this.target.flush()));
  }

  /** a record read as its request ends (a fetch Request, which the runtime lets go of once answered): its line now */
  log(record: AccessRecord): void {
    this.target.write(this.format(record) + "\n");
  }

  /**
   * A record that stays readable after its request ended (node:http's
   * request and response): its line is made once the event-loop turn's
   * other responses are out, so no response waits for a log line.
   */
  later(record: AccessRecord): void {
    if (this.readsTls) return this.log(record);
    if (this.queue.push(record) === 1) setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    const records = this.queue;
    this.queue = [];
    for (const r of records) this.target.write(this.format(r) + "\n");
  };
}
