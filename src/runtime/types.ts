/** The one interface every runtime shim implements. Nothing here asks which runtime it is. */
import type { FetchHandler, ImportModule, NodeListener, TrapServers, UpgradeListener } from "../app/contract.ts";
import type { Address, TlsMaterial } from "../config/address.ts";

export interface ServeOptions {
  workerId: number;
  /** permissions for unix sockets */
  socketMode: number;
  /** called for errors the server itself meets (not the app's 500s) */
  onError: (message: string) => void;
  /** called for things the operator should know (a slower fallback taken) */
  onWarning: (message: string) => void;
  /** a listener stopped serving for good (its accept loop failed): the worker must be replaced */
  onListenerDied: (message: string) => void;
  /**
   * Several processes serve these addresses (workers under a master, whose
   * generations overlap during a reload): bind so the address can be shared,
   * and leave stale-socket checks to the master, which made them already.
   */
  shared: boolean;
  /** one of a worker's serving threads (--threads) serves: each thread binds the TCP ports itself, with SO_REUSEPORT */
  threaded?: boolean;
  /** seconds a client may take to send a request head (header-timeout) */
  headerTimeout: number;
  /** seconds an idle keep-alive connection is kept (keep-alive) */
  keepAlive: number;
  /** seconds a request body may stall before its connection is closed (body-timeout; 0: no limit) */
  bodyTimeout: number;
  /** seconds a graceful stop gives what is open (graceful-timeout): open WebSockets are closed with 1001 before it ends */
  gracefulTimeout: number;
  /** seconds of quiet after which a WebSocket is pinged (websocket-ping; 0: never) */
  websocketPing: number;
  /** largest WebSocket message accepted, bytes (websocket-max-size) */
  websocketMaxSize: number;
  /**
   * Watches each request (counting, in-flight, access log). The shim applies
   * it where requests are cheapest to read: on the node:http listener when
   * one serves (headers are a plain object there), else on the fetch handler.
   */
  observe: RequestObserver;
  /** the app's own options for this runtime's server, from an adopted Bun.serve() (see AdoptedApp.native) */
  native?: unknown;
  /** a Node listener's WebSocket upgrades (its adopted server's "upgrade" listeners) */
  upgrade?: UpgradeListener;
  /** called with each node:http server before it listens (the app's onServer/injectWebSocket export) */
  onServer?: (server: unknown) => void;
  /** a fetch app's `websocket` member (Bun's handlers, or crossws hooks) */
  websocket?: unknown;
  /** HTTPS: the certificate chain, the (decrypted) private key, client certificates, ciphers, HTTP/2 */
  tls?: TlsMaterial;
}

export interface RequestObserver {
  fetch(handler: FetchHandler): FetchHandler;
  node(listener: NodeListener): NodeListener;
  /** an upgrade request (node:http's "upgrade" event) was answered with `status` (101: a WebSocket now), `t0` its performance.now() */
  answered(req: import("node:http").IncomingMessage, status: number, t0: number): void;
}

/** A worker process as the master sees it. */
export interface WorkerProcess {
  readonly pid: number;
  kill(signal: NodeJS.Signals): void;
}

/** How a master starts another master: the daemon (-D), or its successor at an upgrade (USR2). */
export interface MasterSpawn {
  /** a new session of its own (the daemon), or in this one (a successor, which this master's supervisor keeps watching) */
  detached: boolean;
  /** its stdout and stderr: a file descriptor (the daemon's log file), or this master's own */
  out: number | "inherit";
  /** listening sockets it inherits, as its file descriptors 4, 5, ... (3 is the IPC channel) */
  fds: number[];
}

export interface WorkerEvents {
  onMessage(message: unknown): void;
  onExit(code: number | null, signal: string | null): void;
}

export interface RunningServer {
  /** what was bound, for log lines: http://127.0.0.1:8000 or unix:/run/app.sock */
  readonly url: string;
  /** stop accepting; resolves when in-flight requests finished (graceful) or at once */
  stop(graceful: boolean): Promise<void>;
}

/**
 * A byte-stream connection, as the uwsgi server uses it: the part of
 * node:net's Socket it needs (events data, end, close, error, drain,
 * timeout). Node and Deno hand over node:net sockets themselves; Bun's shim
 * gives the same over Bun.listen, which accepts several times faster.
 */
export interface StreamSocket {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly remoteFamily?: string;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly destroyed: boolean;
  // deno-lint-ignore no-explicit-any
  on(event: string, listener: (...args: any[]) => void): this;
  // deno-lint-ignore no-explicit-any
  once(event: string, listener: (...args: any[]) => void): this;
  // deno-lint-ignore no-explicit-any
  off(event: string, listener: (...args: any[]) => void): this;
  removeAllListeners(event: string): this;
  emit(event: string, ...args: unknown[]): boolean;
  /** false: buffered, wait for "drain" */
  write(data: Uint8Array | string, encoding?: BufferEncoding, done?: (err?: Error | null) => void): boolean;
  /** once the writes are out: half-close, and close when the peer does */
  end(done?: () => void): this;
  /**
   * Once the writes are out, close without waiting for the peer: faster,
   * but only for when all the peer sent was read (closing with unread input
   * resets the connection). Sockets without it are ended instead.
   */
  endAndClose?(): this;
  destroy(err?: Error): this;
  pause(): this;
  resume(): this;
  /** emit "timeout" (and call `onTimeout`) after `ms` without traffic; 0 turns it off */
  setTimeout(ms: number, onTimeout?: () => void): this;
  cork(): void;
  uncork(): void;
  setNoDelay?(on?: boolean): this;
  setKeepAlive?(on?: boolean, delay?: number): this;
  address?(): unknown;
}

/**
 * The code of a helper thread, as a self-contained function (it is sent as
 * source text: it sees nothing of this module). It gets its data, a way to
 * post to the main thread, the live parent pid and a way to kill its process.
 */
// deno-lint-ignore no-explicit-any
export type ThreadBody = (data: any, post: (message: unknown) => void, ppid: () => number, die: () => void) => void;

export interface ServingThreadEvents {
  onMessage(message: unknown): void;
  /** it ended or failed outside the app's reach (Bun tells when a thread ends; Deno does not, so the pool's heartbeat check covers that) */
  onEnd(reason: string): void;
}

/** A serving thread (--threads) as its process's main thread sees it. */
export interface ServingThread {
  post(message: unknown): void;
  terminate(): void;
}

/**
 * A runtime as the command and the master use it: what it is, how it starts
 * processes and threads, and what it refuses. Its servers are not loaded
 * (see RuntimeServers): a master serves nothing, and each module it loads is
 * its memory and its start-up time.
 */
export interface RuntimeCore {
  readonly name: "node" | "bun" | "deno";
  readonly version: string;
  /** can several workers serve one unix socket? ("cluster": node:cluster shares it) */
  readonly unixSharing: "cluster" | "none";
  /** how workers share a TCP port: one socket shared through node:cluster, or one socket each with SO_REUSEPORT */
  readonly tcpSharing: "cluster" | "reusePort";
  /** the workers to come serve an app whose module is in `appDir` (Deno: they get its project's config) */
  configureWorkers?(appDir: string): void;
  /** start a worker: this same program again, told by `env` that it is one */
  spawnWorker(env: Record<string, string>, events: WorkerEvents): WorkerProcess;
  /** start another master (the daemon of -D, a successor at USR2): this same program, with an IPC channel */
  spawnMaster(env: Record<string, string>, how: MasterSpawn): import("node:child_process").ChildProcess;
  /** in a worker: a message for the master */
  toMaster(message: object): void;
  /** import a module from disk, TypeScript included */
  importModule: ImportModule;
  /** supplementary groups: the user's (initgroups) when a user is given, else just `gid` (setgroups) */
  setGroups(user: string | number | null, gid: number): void;
  /** start a helper thread the main thread's loop cannot block (messages it posts go to `onMessage`) */
  startThread(body: ThreadBody, data: unknown, onMessage: (message: unknown) => void): Promise<void>;
  /** why this runtime cannot run serving threads (--threads), refused at start; undefined: it can */
  readonly threadRefusal?: string;
  /** whether terminating a serving thread stops one stuck in a loop (Bun's does; Deno's waits for the thread to yield, which it never does) */
  readonly stopsStuckThreads?: boolean;
  /** start a serving thread (--threads): this program again, in a thread of this process, given `data` */
  startServingThread?(data: unknown, events: ServingThreadEvents): ServingThread;
  /** why this runtime cannot serve an inherited socket (fd://, LISTEN_FDS), refused at start; undefined: it can */
  readonly inheritedSockets?: string;
  /** what this runtime's servers cannot do of a TLS listener's settings (one line, refused at start), if anything */
  tlsRefusal(tls: TlsMaterial): string | undefined;
  /**
   * Hold an abstract unix socket name (Linux: "\0..."), in a way no child
   * process inherits: its release; "taken" while another process holds it;
   * undefined where no name can be held (see holdWhileStarting).
   */
  holdName(name: string): Promise<(() => void) | "taken" | undefined>;
  /**
   * Serve a unix socket at `path` that answers each connection, once the
   * client has said anything, with `answer()` and closes it, in a way no
   * child process inherits (the master's control socket): its close.
   */
  serveAnswers(path: string, answer: () => string): Promise<() => void>;
  /**
   * Bind a TCP address for a moment, without SO_REUSEPORT, so that a port
   * something else serves is refused before any worker starts (the bind
   * error, as bindError words it): the port bound (port 0: a free one).
   */
  probePort(address: Address & { kind: "tcp" }, scheme: string): Promise<number>;
}

/** A runtime's servers, and what an app needs in place before it loads: loaded by the processes and threads that serve. */
export interface RuntimeServers {
  /** put the serving globals in place (Node: the light Request/Response; Deno: a Response that encodes string chunks), before the app is imported */
  installGlobals(): void;
  /** bytes `start` to `end` (inclusive) of a file of `size` bytes as a Response body, the runtime's cheapest way (static files) */
  fileBody(path: string, start: number, end: number, size: number): BodyInit;
  /** adopt this runtime's own servers (Bun.serve, Deno.serve) that the app starts while it loads; node:http's are adopted on every runtime (app/adopt.ts) */
  trapServers?: TrapServers;
  /** node:https's Server has a listen() of its own (Deno's), not node:http's or node:net's: the adoption trap loads node:https to cover it */
  readonly httpsOwnsListen?: boolean;
  /**
   * The upgrade listener for WebSocket handshakes on a connection tsgw holds
   * (a uwsgi tunnel), from a fetch app's `websocket`: crossws hooks can run
   * there; undefined when there are none, or the runtime's own handlers
   * (Bun's), which only its server can run.
   */
  streamUpgrades(websocket: unknown, limits: ServeOptions): Promise<UpgradeListener | undefined>;
  serveFetch(address: Address, handler: FetchHandler, options: ServeOptions): Promise<RunningServer>;
  serveNode(address: Address, listener: NodeListener, options: ServeOptions): Promise<RunningServer>;
  /** accept raw connections (the uwsgi protocol); `scheme` names the listener in log lines */
  serveConnections(address: Address, scheme: string, onConnection: (socket: StreamSocket) => void, options: ServeOptions): Promise<RunningServer>;
}

/** A runtime that serves: its core and its servers (runtime/index.ts's servingRuntime()). */
export type Runtime = RuntimeCore & RuntimeServers;
