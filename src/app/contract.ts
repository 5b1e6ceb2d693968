/**
 * What an app is and what it receives: the two interfaces tsgw serves (a
 * fetch handler, a Node listener) and the second argument of a fetch
 * handler. App loading, the shims and the worker all speak these; this
 * module imports nothing of tsgw's.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

export interface RemoteAddr {
  hostname: string;
  port: number;
}

/** The second argument every fetch handler receives (each runtime's shim gives more: see the README). */
export interface RequestInfo {
  remoteAddr: RemoteAddr;
  workerId: number;
  /** the app took this request for a WebSocket (Bun's server.upgrade()): its fetch returns nothing */
  readonly upgraded?: boolean;
}

/** A node:http "upgrade" listener that says whether it took the connection. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;

export type FetchHandler = (request: Request, info: RequestInfo) => Response | Promise<Response>;
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Imports a module from disk, TypeScript included, the runtime's way (the app's module, a TS config). */
export type ImportModule = (file: string) => Promise<Record<string, unknown>>;

/** The `info` argument of fetch handlers; remoteAddr is worked out on first use, since most apps never look. */
export class LazyRequestInfo<S> implements RequestInfo {
  #source: S;
  #read: (source: S) => RemoteAddr;
  #remote?: RemoteAddr;
  /** `read` should be made once per server, not per request */
  constructor(source: S, read: (source: S) => RemoteAddr, readonly workerId: number) {
    this.#source = source;
    this.#read = read;
  }
  get remoteAddr(): RemoteAddr {
    return (this.#remote ??= this.#read(this.#source));
  }
}

/** Where tsgw serves, as an adopted server reports it to the app (`server.address()`, `server.url`, `onListen`). */
export interface ServingAt {
  /** http://127.0.0.1:8000, unix:/run/app.sock */
  url: string;
  /** TCP: the host and port; a unix socket: its path */
  tcp?: { host: string; port: number };
  unix?: string;
}

/** What an adopted server serves: the app as tsgw calls it. */
export type AdoptedApp =
  | {
    kind: "fetch";
    handler: FetchHandler;
    /**
     * The app's own options for the runtime's server (Bun.serve's routes,
     * websocket, error...), for the shim that adopted them to serve as given;
     * other listeners serve `handler`.
     */
    native?: unknown;
  }
  | {
    kind: "node";
    listener: NodeListener;
    /** its "upgrade" listeners (ws, Socket.IO attached to the server), when it has some by then */
    upgrade?: UpgradeListener;
  };

/**
 * A server the app started while tsgw loaded it (`app.listen(3000)`,
 * `Bun.serve()`, `Deno.serve()`): not bound; tsgw serves what it would have
 * served on tsgw's own listeners.
 */
export interface AdoptedServer {
  /** what the app asked for, for log lines: ":3000", "unix:/tmp/app.sock" */
  asked: string;
  /** what started it: "node:http listen()", "Bun.serve()", "Deno.serve()" */
  via: string;
  app: AdoptedApp;
  /** the same app as `other` (Fastify listens twice for "localhost", with one handler) */
  sameAs(other: AdoptedServer): boolean;
  /**
   * What the worker does when the app closes or stops its server (a SIGTERM
   * handler's `server.close(cb)`): stop serving gracefully; resolves once done.
   */
  onClose?: () => Promise<void>;
}

/** Installs the traps that adopt servers started while the app loads; returns the function that removes them. */
export type TrapServers = (at: ServingAt, onServer: (server: AdoptedServer) => void) => () => void;
