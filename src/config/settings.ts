/**
 * The settings table: every setting tsgw knows, defined once. CLI parsing,
 * INI and TS config loading, TSGW_CMD_ARGS, --help, --print-config and
 * docs/settings.md are all generated from it (Gunicorn's config.py idea).
 */

import { checkAccessFormat } from "../log/access.ts";
import { DEFAULT_BUFFER_SIZE } from "../protocol/uwsgi.ts";
import { DEFAULT_BIND } from "./address.ts";

export type SettingType =
  | "string" // free text
  | "path" // a file or folder; relative paths resolve against where it was given
  | "int"
  | "number" // may have a fraction (seconds)
  | "bool"
  | "list" // repeatable; each occurrence adds one (or several, if `split`)
  | "octal" // file mode such as 660
  | "enum"
  | "workers" // an integer or "auto" (one per CPU)
  | "hook"; // a function; TS/JS config only

export type Source = "cli" | "ini" | "ts";

export type Section =
  | "Config"
  | "Application"
  | "Server socket"
  | "Worker processes"
  | "Process management"
  | "Logging"
  | "Server hooks";

export const SECTIONS: readonly Section[] = [
  "Config",
  "Application",
  "Server socket",
  "Worker processes",
  "Process management",
  "Logging",
  "Server hooks",
];

export interface SettingDef {
  /** kebab-case; the CLI flag is --name, the INI key name, the TS key camelCase(name) */
  readonly name: string;
  readonly section: Section;
  readonly type: SettingType;
  readonly default: unknown;
  /** further CLI flags, e.g. "-w", "--processes" */
  readonly flags?: readonly string[];
  /** further INI keys, e.g. "processes" (uWSGI's spelling) */
  readonly iniKeys?: readonly string[];
  /** environment variable that supplies a default (above the built-in default) */
  readonly env?: string;
  readonly choices?: readonly string[];
  /** for lists: one occurrence may carry several values separated by this */
  readonly split?: string;
  /** value hint in --help */
  readonly meta?: string;
  readonly help: string;
  /** may a graceful reload (HUP) change it? */
  readonly reload: boolean;
  /** where it may be given (default: everywhere) */
  readonly sources?: readonly Source[];
  /**
   * a command-line action rather than a setting (never printed as config):
   * "exit" answers and exits before anything else is read (--help),
   * "manage" drives the master named by its PIDFILE value (--reload),
   * "check" reads the whole configuration first (--check-config),
   * "modifier" changes how another action answers (--json)
   */
  readonly action?: "exit" | "manage" | "check" | "modifier";
  /** accepted for operators' habits but has no effect in tsgw: warn with this */
  readonly noEffect?: string;
  /** only the master can do it: an error with --no-master rather than silently nothing */
  readonly needsMaster?: boolean;
  /** further checks on a parsed value; returns what is wrong, if anything */
  readonly check?: (value: never) => string | undefined;
}

const CLI_ONLY: readonly Source[] = ["cli"];
const TS_ONLY: readonly Source[] = ["ts"];

/** The server hooks (TS config only), in Gunicorn's camelCase names; their settings are these names in kebab-case. */
const HOOK_HELP = [
  ["onStarting", "onStarting(server): in the master, before the first workers start."],
  ["onReload", "onReload(server): in the master, when a reload (HUP) begins."],
  ["whenReady", "whenReady(server): in the master, once the first workers serve."],
  ["postFork", "postFork(server, worker): in the master, after a worker process was started."],
  ["postWorkerInit", "postWorkerInit(worker): in the worker, after it loaded the app and before it serves (with --threads, in each serving thread)."],
  ["workerExit", "workerExit(server, worker): in the master, after a worker exited."],
  ["onExit", "onExit(server): in the master, just before it exits."],
] as const;

export type HookName = (typeof HOOK_HELP)[number][0];

type Kebab<S extends string> = S extends `${infer H}${infer T}` ? `${H extends Lowercase<H> ? H : `-${Lowercase<H>}`}${Kebab<T>}` : S;

const HOOKS = HOOK_HELP.map(([camel, help]) => [camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`) as Kebab<typeof camel>, help] as const);

export const SETTINGS = [
  // --- Config -------------------------------------------------------------
  {
    name: "config",
    section: "Config",
    type: "path",
    default: null,
    flags: ["-c"],
    meta: "FILE",
    help: "TS or JS config module exporting defineConfig({...}) (Gunicorn style).",
    reload: true,
    sources: CLI_ONLY,
  },
  {
    name: "ini",
    section: "Config",
    type: "string",
    default: null,
    meta: "FILE[:SECTION]",
    help: "INI config file (uWSGI style); reads [tsgw], else [uwsgi], or the SECTION given.",
    reload: true,
    sources: CLI_ONLY,
  },
  {
    name: "print-config",
    section: "Config",
    type: "bool",
    default: false,
    help: "Print every setting with its effective value and where it came from, then exit.",
    reload: false,
    sources: CLI_ONLY,
    action: "check",
  },
  {
    name: "check-config",
    section: "Config",
    type: "bool",
    default: false,
    help: "Validate the configuration and load the app, then exit 0 (or non-zero) without serving.",
    reload: false,
    sources: CLI_ONLY,
    action: "check",
  },
  {
    name: "version",
    section: "Config",
    type: "bool",
    default: false,
    flags: ["-v"],
    help: "Print the version and the runtime, then exit.",
    reload: false,
    sources: CLI_ONLY,
    action: "exit",
  },
  {
    name: "reload",
    section: "Process management",
    type: "path",
    default: null,
    meta: "PIDFILE",
    help:
      "Gracefully reload the tsgw master named in PIDFILE (HUP); exit 0 once the new workers serve. (uWSGI's meaning; Gunicorn's --reload, restarting on code changes, is --watch here.)",
    reload: false,
    sources: CLI_ONLY,
    action: "manage",
  },
  {
    name: "stop",
    section: "Process management",
    type: "path",
    default: null,
    meta: "PIDFILE",
    help: "Gracefully stop the tsgw master named in PIDFILE (TERM); exit 0 once it is gone.",
    reload: false,
    sources: CLI_ONLY,
    action: "manage",
  },
  {
    name: "upgrade",
    section: "Process management",
    type: "path",
    default: null,
    meta: "PIDFILE",
    help:
      "Upgrade the tsgw master named in PIDFILE without dropping a connection: USR2 starts a new master from the tsgw on disk with the listening sockets, and once it serves the old one is stopped (TERM); exit 0 when only the new master is left.",
    reload: false,
    sources: CLI_ONLY,
    action: "manage",
  },
  {
    name: "status",
    section: "Process management",
    type: "path",
    default: null,
    meta: "PIDFILE",
    help: "Print the state of the tsgw master named in PIDFILE and its workers as a table (--json for scripts), then exit.",
    reload: false,
    sources: CLI_ONLY,
    action: "manage",
  },
  {
    name: "json",
    section: "Process management",
    type: "bool",
    default: false,
    help: "With --status: print the stats document as JSON.",
    reload: false,
    sources: CLI_ONLY,
    action: "modifier",
  },
  {
    name: "help",
    section: "Config",
    type: "bool",
    default: false,
    flags: ["-h"],
    help: "Show this help, then exit.",
    reload: false,
    sources: CLI_ONLY,
    action: "exit",
  },

  // --- Application --------------------------------------------------------
  {
    name: "app",
    section: "Application",
    type: "string",
    default: null,
    flags: ["--file", "--wsgi-file"],
    iniKeys: ["module", "file", "wsgi-file"],
    meta: "PATH[:NAME]",
    help:
      "The app: a module path (extension optional) and an export name (default export, then app, then application); NAME() calls a factory. Also the positional APP.",
    reload: true,
  },
  {
    name: "callable",
    section: "Application",
    type: "string",
    default: null,
    meta: "NAME",
    help: "Export to serve when APP names none (uWSGI's callable).",
    reload: true,
  },
  {
    name: "interface",
    section: "Application",
    type: "enum",
    default: "auto",
    choices: ["auto", "fetch", "node", "listen"],
    help:
      "How to call the app: fetch handler (Request -> Response), Node listener (req, res), listen (serve the server the module starts while it loads: app.listen(), Bun.serve(), Deno.serve()), or auto-detect (the export first, then a server the module starts).",
    reload: true,
  },
  {
    name: "static-map",
    section: "Application",
    type: "list",
    default: [],
    meta: "/PREFIX=DIR",
    help:
      "Serve files under DIR at URL /PREFIX before the app (uWSGI's static-map; repeatable): content-type, ETag, Last-Modified, Range, HEAD, precompressed .br/.gz; a missing file goes to the app.",
    reload: true,
    check: (list: string[]) => {
      const bad = list.find((m) => !/^\/[^=]*=.+$/.test(m));
      return bad === undefined ? undefined : `expected /PREFIX=DIR, got "${bad}"`;
    },
  },
  {
    name: "chdir",
    section: "Application",
    type: "path",
    default: null,
    meta: "DIR",
    help: "Change to this folder before loading the app; APP resolves against it.",
    reload: false,
  },
  {
    name: "watch",
    section: "Application",
    type: "bool",
    default: false,
    help:
      "Development: reload the workers when a file under --chdir (or --watch-dir) changes, as Gunicorn's --reload does (tsgw's --reload is uWSGI's management command); debounced, a line names the file, and an app that fails to load keeps the old workers serving.",
    reload: false,
    needsMaster: true,
  },
  {
    name: "watch-dir",
    section: "Application",
    type: "list",
    default: [],
    meta: "DIR",
    help: "A folder --watch watches (repeatable; default: the app's folder, --chdir or where tsgw started).",
    reload: false,
  },
  {
    name: "watch-ignore",
    section: "Application",
    type: "list",
    default: [],
    split: ",",
    meta: "GLOB",
    help:
      "Changes --watch ignores, as globs on the path under the watched folder (repeatable; * within a name, ** across folders); node_modules and dot files always are.",
    reload: false,
  },
  {
    name: "env",
    section: "Application",
    type: "list",
    default: [],
    meta: "KEY=VALUE",
    help: "Set an environment variable for the app (repeatable).",
    reload: true,
    check: (list: string[]) => {
      const bad = list.find((kv) => !/^[^=\s]+=/.test(kv));
      return bad === undefined ? undefined : `expected KEY=VALUE, got "${bad}"`;
    },
  },

  // --- Server socket ------------------------------------------------------
  {
    name: "bind",
    section: "Server socket",
    type: "list",
    default: [],
    flags: ["-b", "--http"],
    iniKeys: ["http"],
    meta: "ADDRESS",
    help:
      `Serve HTTP at HOST:PORT, :PORT, [::1]:PORT or unix:/path.sock (repeatable). When no listener is given: ${DEFAULT_BIND}, or 0.0.0.0:$PORT where the environment sets PORT (as Gunicorn does).`,
    reload: false,
  },
  {
    name: "socket",
    section: "Server socket",
    type: "list",
    default: [],
    flags: ["-s"],
    iniKeys: ["uwsgi-socket"],
    meta: "ADDRESS",
    help: "Serve the uwsgi protocol (nginx uwsgi_pass) at HOST:PORT or /path.sock (repeatable).",
    reload: false,
  },
  {
    name: "http-socket",
    section: "Server socket",
    type: "list",
    default: [],
    meta: "ADDRESS",
    help: "Serve HTTP/1.1 for a proxy (nginx proxy_pass) at HOST:PORT or /path.sock (repeatable).",
    reload: false,
  },
  {
    name: "certfile",
    section: "Server socket",
    type: "path",
    default: null,
    meta: "FILE",
    help:
      "TLS certificate (PEM, the chain after it) for every --bind listener (Gunicorn's --certfile): they serve HTTPS, TLS 1.2 at least. Read by each generation of workers, so a renewed certificate is served after a reload (HUP).",
    reload: true,
  },
  {
    name: "keyfile",
    section: "Server socket",
    type: "path",
    default: null,
    meta: "FILE",
    help: "The certificate's private key (PEM), with --certfile (Gunicorn's --keyfile).",
    reload: true,
  },
  {
    name: "keyfile-password",
    section: "Server socket",
    type: "string",
    default: null,
    env: "TSGW_KEYFILE_PASSWORD",
    meta: "TEXT",
    help: "Password of an encrypted private key (--keyfile and --https); better given through TSGW_KEYFILE_PASSWORD than on a command line others can read.",
    reload: true,
  },
  {
    name: "https",
    section: "Server socket",
    type: "list",
    default: [],
    meta: "ADDR,CERT,KEY[,CIPHERS[,CA]]",
    help:
      "Serve HTTPS at ADDR with that certificate and key (uWSGI's --https; repeatable), beside any plain listener; CIPHERS as --ciphers (empty: the default), CA asks for client certificates that chain to it (optional; !CA: required, as in uWSGI).",
    reload: false,
  },
  {
    name: "ca-certs",
    section: "Server socket",
    type: "path",
    default: null,
    meta: "FILE",
    help:
      "CA certificates (PEM) that client certificates must chain to, with --cert-reqs (Gunicorn's --ca-certs): mutual TLS. The client's subject reaches the app (info.tls; req.socket.getPeerCertificate() in Node listeners) and the access log (%({ssl_client_s_dn}e)s).",
    reload: true,
  },
  {
    name: "cert-reqs",
    section: "Server socket",
    type: "enum",
    default: "none",
    choices: ["none", "optional", "required", "0", "1", "2"],
    help:
      "Client certificates on --bind's TLS listeners (Gunicorn's --cert-reqs; 0, 1, 2 as there): none (not asked for), optional (asked for and checked against --ca-certs; the app sees whether one was verified), required (the handshake fails without a valid one).",
    reload: true,
  },
  {
    name: "ciphers",
    section: "Server socket",
    type: "string",
    default: null,
    meta: "LIST",
    help:
      "OpenSSL cipher list for --bind's TLS listeners (Gunicorn's --ciphers), e.g. ECDHE+AESGCM; the runtime's own defaults when unset. Node and Bun; Deno's TLS takes none.",
    reload: true,
  },
  {
    name: "http-protocols",
    section: "Server socket",
    type: "list",
    default: ["h1"],
    split: ",",
    meta: "h1,h2",
    help:
      "Protocols TLS listeners offer by ALPN (Gunicorn's --http-protocols): h1 (HTTP/1.1), h2 (HTTP/2, with HTTP/1.1 kept for clients that do not offer h2). Deno.serve offers h2 over TLS whatever this says.",
    reload: true,
    check: (list: string[]) => {
      const bad = list.find((p) => p !== "h1" && p !== "h2");
      if (bad) return `unknown protocol "${bad}" (expected h1, h2)`;
      return list.includes("h1") ? undefined : "h1 must stay on (HTTP/1.1 for clients that do not offer h2)";
    },
  },
  {
    name: "chmod-socket",
    section: "Server socket",
    type: "octal",
    default: 0o660,
    meta: "MODE",
    help: "Permissions of unix sockets tsgw creates.",
    reload: false,
    check: (mode: number) => (mode > 0o777 ? "must be at most 777" : undefined),
  },
  {
    name: "buffer-size",
    section: "Server socket",
    type: "int",
    default: DEFAULT_BUFFER_SIZE,
    meta: "BYTES",
    help: "Largest uwsgi vars block accepted (uWSGI's buffer-size).",
    reload: false,
  },
  {
    name: "socket-allow-from",
    section: "Server socket",
    type: "list",
    default: ["127.0.0.1", "::1"],
    split: ",",
    meta: "ADDRS",
    help: "Peers allowed to speak the uwsgi protocol over TCP (unix sockets are always allowed).",
    reload: false,
  },
  {
    name: "forwarded-allow-ips",
    section: "Server socket",
    type: "list",
    default: ["127.0.0.1", "::1"],
    split: ",",
    env: "FORWARDED_ALLOW_IPS",
    meta: "ADDRS",
    help:
      "Peers whose X-Forwarded-Proto: https (or X-Forwarded-Ssl: on) is believed (Gunicorn's option; * for any; a peer on a unix socket always is): a fetch app's request.url then says https://, as behind a proxy that ends TLS. Node listeners read the header themselves (Express's trust proxy).",
    reload: true,
  },
  {
    name: "socket-timeout",
    section: "Server socket",
    type: "number",
    default: 4,
    meta: "SECONDS",
    help: "Close a uwsgi connection whose request vars have not all arrived within this long (uWSGI's socket-timeout); 0: no limit.",
    reload: false,
  },
  {
    name: "header-timeout",
    section: "Server socket",
    type: "number",
    default: 10,
    meta: "SECONDS",
    help:
      "HTTP listeners served by node:http (every app on Node, Node listeners on Bun and Deno): close a connection whose request head has not fully arrived after this long (slow clients). Bun.serve cuts such a connection after its own fixed ~10 s; Deno.serve has no such limit.",
    reload: false,
  },
  {
    name: "keep-alive",
    section: "Server socket",
    type: "number",
    default: 5,
    meta: "SECONDS",
    help:
      "Close an HTTP keep-alive connection that has been idle this long (Gunicorn's --keep-alive), on node:http servers (every app on Node, Node listeners on Bun and Deno). Bun.serve closes idle connections after its own fixed 10 s; Deno.serve never does (put nginx in front, or see docs).",
    reload: false,
  },
  {
    name: "body-timeout",
    section: "Server socket",
    type: "number",
    default: 30,
    meta: "SECONDS",
    help:
      "Close a connection whose request body stops arriving for this long while the request is unfinished (a client that sends half a body and stalls): uwsgi on every runtime, HTTP on node:http servers. Bun.serve applies its own 10 s idle limit; Deno.serve has none. 0: no limit.",
    reload: false,
  },
  {
    name: "websocket-ping",
    section: "Server socket",
    type: "number",
    default: 30,
    iniKeys: ["websockets-ping-freq"],
    meta: "SECONDS",
    help:
      "Ping a quiet WebSocket so that no more than this passes without a frame to the client, and a proxy's read timeout (nginx's 60 s) does not close it; a peer that answers nothing for as long again is closed (crossws hooks, Bun.serve's websocket handlers, Deno.upgradeWebSocket). Sockets a Node listener's own library serves (ws, Socket.IO) get the ping frame; closing dead peers is that library's business there. 0: no pings.",
    reload: false,
  },
  {
    name: "websocket-max-size",
    section: "Server socket",
    type: "int",
    default: 16384,
    iniKeys: ["websockets-max-size"],
    meta: "KB",
    help:
      "Largest WebSocket message accepted, in KB (uWSGI's websockets-max-size; 16 MB as Bun's default): a bigger one closes that socket with 1009. For crossws hooks, and Bun.serve's handlers that set no maxPayloadLength; Deno.upgradeWebSocket has no such option (Deno's own limit holds), and a Node listener's library sets its own (ws: maxPayload).",
    reload: false,
  },

  // --- Worker processes ---------------------------------------------------
  {
    name: "workers",
    section: "Worker processes",
    type: "workers",
    default: 1,
    flags: ["-w", "--processes"],
    iniKeys: ["processes"],
    env: "WEB_CONCURRENCY",
    meta: "INT|auto",
    help: "Number of worker processes; auto = one per CPU.",
    reload: true,
    check: (n: number) => (n < 1 ? "must be at least 1" : undefined),
  },
  {
    name: "threads",
    needsMaster: true,
    section: "Worker processes",
    type: "int",
    default: 1,
    meta: "INT",
    help:
      "Serving threads per worker process, each with the app loaded and its own event loop, sharing the ports with SO_REUSEPORT (Bun, Deno; TCP listeners only).",
    reload: true,
    check: (n: number) => (n < 1 ? "must be at least 1" : undefined),
  },
  {
    name: "master",
    section: "Worker processes",
    type: "bool",
    default: true,
    help: "Run a master process that supervises the workers (--no-master: one unsupervised process).",
    reload: false,
  },
  {
    name: "timeout",
    needsMaster: true,
    section: "Worker processes",
    type: "number",
    default: 30,
    flags: ["-t", "--harakiri"],
    iniKeys: ["harakiri"],
    meta: "SECONDS",
    help: "Kill and replace a worker whose heartbeat stops for this long, e.g. a handler stuck in a loop (uWSGI's harakiri).",
    reload: true,
  },
  {
    name: "graceful-timeout",
    section: "Worker processes",
    type: "number",
    default: 30,
    meta: "SECONDS",
    help: "How long in-flight requests may run after a stop or reload before they are cut.",
    reload: true,
  },
  {
    name: "max-requests",
    needsMaster: true,
    section: "Worker processes",
    type: "int",
    default: 0,
    meta: "INT",
    help: "Recycle a worker after this many requests (0 = never).",
    reload: true,
  },
  {
    name: "max-requests-jitter",
    needsMaster: true,
    section: "Worker processes",
    type: "int",
    default: 0,
    meta: "INT",
    help: "Add a random 0..N to max-requests per worker, so workers do not recycle together.",
    reload: true,
  },
  {
    name: "reload-on-rss",
    needsMaster: true,
    section: "Worker processes",
    type: "int",
    default: 0,
    meta: "MB",
    help: "Recycle a worker whose resident memory exceeds this (0 = never).",
    reload: true,
  },

  // --- Process management -------------------------------------------------
  {
    name: "proc-name",
    section: "Process management",
    type: "string",
    default: null,
    flags: ["-n", "--name"],
    iniKeys: ["proc_name", "procname"],
    meta: "STRING",
    help:
      "The name in the processes' titles, as ps and top show them: tsgw: master [NAME], tsgw: worker [NAME] (Gunicorn's); the app spec by default. Node and Deno set titles; Bun keeps its command line.",
    reload: true,
  },
  {
    name: "pidfile",
    needsMaster: true,
    section: "Process management",
    type: "path",
    default: null,
    flags: ["--pid", "-p"],
    meta: "FILE",
    help: "Write the master's pid here once it serves; removed on exit.",
    reload: false,
  },
  {
    name: "daemon",
    needsMaster: true,
    section: "Process management",
    type: "bool",
    default: false,
    flags: ["-D"],
    help: "Detach from the terminal; the command returns once the daemon serves (output goes to daemonize's file, or nowhere).",
    reload: false,
  },
  {
    name: "daemonize",
    needsMaster: true,
    section: "Process management",
    type: "path",
    default: null,
    meta: "LOGFILE",
    help: "Detach and send output to LOGFILE (uWSGI style); the command returns once the daemon serves.",
    reload: false,
  },
  {
    name: "user",
    section: "Process management",
    type: "string",
    default: null,
    flags: ["-u"],
    iniKeys: ["uid"],
    meta: "USER",
    help:
      "Switch workers to this user (name or uid) once they listen; needs root. Without --group the group is the user's own; supplementary groups become the user's (root's are dropped). The app is imported before the switch.",
    reload: false,
  },
  {
    name: "group",
    section: "Process management",
    type: "string",
    default: null,
    flags: ["-g"],
    iniKeys: ["gid"],
    meta: "GROUP",
    help: "Switch workers to this group (name or gid) once they listen; needs root.",
    reload: false,
  },
  {
    name: "vacuum",
    section: "Process management",
    type: "bool",
    default: true,
    help: "Remove unix sockets and the pidfile on exit (uWSGI's vacuum; always on).",
    reload: false,
    noEffect: "tsgw always removes its sockets and pidfile on exit",
  },
  {
    name: "die-on-term",
    section: "Process management",
    type: "bool",
    default: true,
    help: "TERM stops the server (uWSGI's die-on-term; always on).",
    reload: false,
    noEffect: "TERM always stops tsgw gracefully",
  },
  {
    name: "home",
    section: "Process management",
    type: "string",
    default: null,
    iniKeys: ["virtualenv", "venv"],
    meta: "DIR",
    help: "uWSGI's Python virtualenv; has no meaning for JavaScript and is ignored with a warning.",
    reload: false,
    noEffect: "a Python virtualenv has no meaning for JavaScript apps; install packages in the app's node_modules",
  },

  // --- Logging ------------------------------------------------------------
  {
    name: "log-level",
    section: "Logging",
    type: "enum",
    default: "info",
    choices: ["debug", "info", "warning", "error", "critical"],
    help: "Least severe level of log lines printed.",
    reload: true,
  },
  {
    name: "access-log",
    section: "Logging",
    type: "string",
    default: null,
    meta: "FILE|-",
    help:
      "Write an access log line per request to FILE, or - for stdout (off by default, as in Gunicorn). Buffered per worker, written at least every second and on exit; USR1 reopens it.",
    reload: true,
  },
  {
    name: "access-log-format",
    section: "Logging",
    type: "string",
    default: '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"',
    meta: "FORMAT",
    help: "Access log format, with Gunicorn's variables: h l u t r m U q H s B b f a T D M L p {header}i {header}o {var}e.",
    reload: true,
    check: (format: string) => checkAccessFormat(format),
  },
  {
    name: "error-log",
    section: "Logging",
    type: "string",
    default: "-",
    meta: "FILE|-",
    help: "Where server log lines go: FILE (appended to; USR1 reopens it) or - for stderr.",
    reload: false,
  },
  {
    name: "stats",
    section: "Logging",
    type: "string",
    default: null,
    meta: "ADDR",
    help:
      "Serve live stats as JSON on ADDR (HOST:PORT, or a unix socket path; uWSGI's option): the master, each worker's requests, in-flight, memory and heartbeat. A plain connection gets the JSON (as uWSGI's stats server), an HTTP GET gets it as an HTTP response.",
    reload: false,
    needsMaster: true,
  },
  {
    name: "metrics",
    section: "Logging",
    type: "string",
    default: null,
    meta: "ADDR",
    help:
      "Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT, a bare port is 127.0.0.1, or a unix socket path), from the master, summed over every worker, the replaced ones too: requests by method and status class, durations, bytes out, in-flight, restarts by cause, memory, WebSockets, reloads.",
    reload: false,
    needsMaster: true,
  },
  {
    name: "statsd-host",
    section: "Logging",
    type: "string",
    default: null,
    meta: "HOST:PORT",
    help:
      "Send statsd metrics over UDP to HOST:PORT (Gunicorn's --statsd-host), from the master once a second: request counts by status and method, workers, in-flight, restarts.",
    reload: false,
    needsMaster: true,
  },
  {
    name: "statsd-prefix",
    section: "Logging",
    type: "string",
    default: "tsgw",
    meta: "PREFIX",
    help: "Prefix of every statsd metric name (Gunicorn's --statsd-prefix).",
    reload: false,
  },

  // --- Server hooks (TS config only) -------------------------------------
  ...HOOKS.map(([name, help]) => ({
    name,
    section: "Server hooks" as const,
    type: "hook" as const,
    default: null,
    help,
    reload: true,
    sources: TS_ONLY,
  })),
] as const satisfies readonly SettingDef[];

export type SettingName = (typeof SETTINGS)[number]["name"];

/** The command-line actions, by kind (see SettingDef.action). */
export type ActionName = Extract<(typeof SETTINGS)[number], { action: "exit" | "manage" | "check" }>["name"];

export function actionsOf(kind: NonNullable<SettingDef["action"]>): ActionName[] {
  return SETTINGS.filter((s) => (s as SettingDef).action === kind).map((s) => s.name as ActionName);
}

const byName = new Map<string, SettingDef>(SETTINGS.map((s) => [s.name, s]));

export function setting(name: SettingName): SettingDef {
  return byName.get(name)!;
}

export function camelCase(name: string): string {
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** Flags accepted on the command line for a setting, long form first. */
export function cliFlags(s: SettingDef): string[] {
  return [`--${s.name}`, ...(s.flags ?? [])];
}

/** Keys accepted in INI files: kebab-case, snake_case, and the setting's INI aliases. */
export function iniKeys(s: SettingDef): string[] {
  const keys = [s.name, ...(s.iniKeys ?? [])];
  return [...new Set([...keys, ...keys.map((k) => k.replace(/-/g, "_"))])];
}

export function acceptsSource(s: SettingDef, src: Source): boolean {
  return !s.sources || s.sources.includes(src);
}
