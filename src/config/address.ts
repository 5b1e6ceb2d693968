/** Listener addresses: HOST:PORT, :PORT, [::1]:PORT, HOST, unix:/path.sock (or /path.sock where a socket is meant), fd://3 (an inherited socket). */
import { resolve } from "node:path";

export type Address = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string } | { kind: "fd"; fd: number };
/** an address a server binds itself (not an inherited socket) */
export type BindAddress = Exclude<Address, { kind: "fd" }>;

export const DEFAULT_PORT = 8000;
/** Where tsgw listens when no listener is given at all (and no PORT is set: see defaultBind). */
export const DEFAULT_BIND = `127.0.0.1:${DEFAULT_PORT}`;

/**
 * The listener when none is given: every interface on $PORT where the
 * environment sets it, as Gunicorn does (platforms that assign a container
 * its port say so in PORT), else DEFAULT_BIND. A PORT that is no port is
 * the string saying why.
 */
export function defaultBind(env: Record<string, string | undefined>): { bind: string; where: string } | string {
  const port = env.PORT?.trim();
  if (!port) return { bind: DEFAULT_BIND, where: "default" };
  if (!/^\d+$/.test(port) || Number(port) > 65535) return `${JSON.stringify(env.PORT)} is not a port number (0-65535)`;
  return { bind: `0.0.0.0:${Number(port)}`, where: "env PORT" };
}

/** Where to listen and which protocol to speak there. */
export interface Listener {
  protocol: "http" | "uwsgi";
  address: Address;
  /** HTTPS: the certificate and key files (absolute paths), read by each worker when it listens, and the setting that gave them */
  tls?: TlsFiles;
  /** how the operator knows it, where workers are given it otherwise (a socket inherited at an upgrade, a unix socket bound under the master's name first) */
  name?: string;
}

export interface TlsFiles {
  cert: string;
  key: string;
  /** CA certificates client certificates must chain to (mutual TLS) */
  ca?: string;
  /** client certificates: not asked for, asked for and checked, or needed for the handshake */
  clientCerts: ClientCerts;
  /** an OpenSSL cipher list; the runtime's defaults when absent */
  ciphers?: string;
  setting: "certfile" | "https";
}

export type ClientCerts = "none" | "optional" | "required";

/** What a TLS listener is served with: its certificate chain and decrypted private key (PEM), and how it treats clients. */
export interface TlsMaterial extends Pick<TlsFiles, "clientCerts" | "ciphers"> {
  /** the chain and the key themselves, PEM */
  cert: string;
  key: string;
  /** the CA certificates (PEM) client certificates must chain to */
  ca?: string;
  /** offer HTTP/2 by ALPN (with HTTP/1.1 for the rest) */
  h2: boolean;
}

export function formatListener(l: Listener): string {
  return l.name ?? formatAddress(l.address, schemeOf(l));
}

/** The scheme a listener is named with: https for HTTP over TLS, else its protocol (http, uwsgi). */
export function schemeOf(l: Listener): string {
  return l.tls ? "https" : l.protocol;
}

/**
 * The longest unix socket path the OS takes (sun_path less its NUL: 108 bytes
 * on Linux, 104 on macOS and the BSDs). A longer one is truncated by some
 * runtimes, leaving a socket file elsewhere and a misleading error.
 */
export const MAX_SOCKET_PATH = process.platform === "linux" ? 107 : 103;

function unixAddress(text: string, path: string, cwd: string): Address | string {
  if (!path) return `"${text}" names no socket path`;
  const full = resolve(cwd, path);
  const bytes = Buffer.byteLength(full);
  if (bytes > MAX_SOCKET_PATH) return `unix socket path ${full} is ${bytes} bytes long; the OS allows at most ${MAX_SOCKET_PATH} (use a shorter path)`;
  return { kind: "unix", path: full };
}

/** Parse one address; returns the problem as a string when it is not one. */
export function parseAddress(text: string, cwd: string): Address | string {
  const t = text.trim();
  if (t.startsWith("unix:")) return unixAddress(text, t.slice(5), cwd);
  if (t.startsWith("fd://")) {
    // a listening socket the process was given (systemd's socket activation starts them at 3)
    const fd = Number(t.slice(5));
    return Number.isInteger(fd) && fd >= 3 && /^\d+$/.test(t.slice(5))
      ? { kind: "fd", fd }
      : `"${text}": an inherited socket is fd://N, N from 3 (0-2 are stdin, stdout, stderr)`;
  }
  if (t.startsWith("/") || t.startsWith("./")) return unixAddress(text, t, cwd);
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([0-9a-fA-F:.]+)\](?::(.*))?$/.exec(t);
  if (v6) {
    host = v6[1]!;
    port = v6[2];
  } else if (t.includes(":")) {
    const i = t.lastIndexOf(":");
    host = t.slice(0, i);
    port = t.slice(i + 1);
    if (host.includes(":")) return `"${text}": write IPv6 addresses in brackets, e.g. [::1]:8000`;
  } else if (/^\d+$/.test(t)) {
    return `"${text}" is only a number: write :${t} for every interface or 127.0.0.1:${t}`;
  } else {
    host = t;
  }
  if (host === "") host = "0.0.0.0";
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) return `"${text}" has an invalid host "${host}"`;
  if (port === undefined) return { kind: "tcp", host, port: DEFAULT_PORT };
  if (!/^\d+$/.test(port) || Number(port) > 65535) return `"${text}" has an invalid port "${port}" (expected 0-65535)`;
  return { kind: "tcp", host, port: Number(port) };
}

export function formatAddress(a: Address, scheme = "http"): string {
  if (a.kind === "unix") return scheme === "http" ? `unix:${a.path}` : `${scheme}:unix:${a.path}`;
  if (a.kind === "fd") return scheme === "http" ? `fd://${a.fd}` : `${scheme}:fd://${a.fd}`;
  return `${scheme}://${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}
