/** Bun shim: processes, threads, the binary's app compilation (its servers: runtime/bun-servers.ts). */
import { forkMaster, sendToMaster, spawnClusterWorker } from "./cluster.ts";
import { setGroupsProcess } from "./groups.ts";
import { bindError } from "./socket-files.ts";
import { importFile } from "./modules.ts";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { readProjectTs } from "./tsconfig.ts";
import { startServingThread, webThread } from "./threads.ts";
import type { RuntimeCore } from "./types.ts";
import type { Address } from "../config/address.ts";

declare const Bun: {
  version: string;
  /** the entry module's path */
  main: string;
  plugin(plugin: {
    name: string;
    setup(build: {
      onLoad(o: { filter: RegExp }, load: (a: { path: string }) => unknown): void;
      onResolve(o: { filter: RegExp }, resolve: (a: { path: string; importer: string }) => unknown): void;
    }): void;
  }): void;
  Transpiler: new (options: Record<string, unknown>) => { transformSync(code: string): string };
  listen(options: ({ unix: string } | { hostname: string; port: number }) & { socket: BunSocketHandler }): { port: number; stop(closeActive?: boolean): void };
};

interface BunSocket {
  end(data?: string): void;
}

interface BunSocketHandler {
  data(socket: BunSocket, data: Uint8Array): void;
  error?(socket: BunSocket, err: Error): void;
}

/**
 * The master's own sockets (its control socket, the name it holds while
 * starting, the probe of each TCP port) through Bun.listen, which is
 * close-on-exec and native: node:net's servers cost a Bun master 2.5 MB, and
 * node:net is then not loaded at all by a master (0.5 MB with Bun.listen).
 */
function serveAnswersBun(path: string, answer: () => string): Promise<() => void> {
  try {
    const listener = Bun.listen({ unix: path, socket: { data: (socket) => socket.end(answer()), error() {} } });
    return Promise.resolve(() => listener.stop(true));
  } catch (err) {
    return Promise.reject(bindError({ kind: "unix", path }, err));
  }
}

function holdNameBun(name: string): Promise<(() => void) | "taken" | undefined> {
  try {
    const listener = Bun.listen({ unix: name, socket: { data() {} } });
    return Promise.resolve(() => listener.stop(true));
  } catch (err) {
    return Promise.resolve((err as { code?: string }).code === "EADDRINUSE" ? "taken" : undefined);
  }
}

function probePortBun(address: Address & { kind: "tcp" }, scheme: string): Promise<number> {
  try {
    // (Bun.listen binds without SO_REUSEPORT unless asked)
    const listener = Bun.listen({ hostname: address.host, port: address.port, socket: { data() {} } });
    const { port } = listener;
    listener.stop(true);
    return Promise.resolve(port);
  } catch (err) {
    return Promise.reject(bindError(address, err, scheme));
  }
}

export const INHERITED_REFUSAL =
  "Bun's servers cannot serve an inherited socket (fd://, systemd's LISTEN_FDS): run tsgw on node or deno for socket activation, or let tsgw bind the address";

let compiling = false;

/**
 * In a compiled binary (dist/tsgw), Bun applies the working folder's
 * tsconfig.json (--compile-autoload-tsconfig) to the module imported, but
 * not to the modules that one imports: a NestJS app's controllers lost
 * their legacy decorators. So where the project uses them, the binary
 * compiles the app's .ts files itself with the project's emit settings,
 * through a runtime plugin that also resolves its `paths`; node_modules,
 * the binary's own modules and JSX files are left to Bun.
 */
function compileAsProject(file: string): void {
  if (compiling) return;
  compiling = true;
  const ts = readProjectTs(dirname(file));
  // JSX is Bun's own business (Bun.Transpiler leaves its automatic-runtime import out): decorators only
  if (!ts?.emit.experimentalDecorators) return;
  const tsconfig = JSON.stringify({ compilerOptions: ts.emit });
  const transpiler = new Bun.Transpiler({ loader: "ts", tsconfig, target: "bun" });
  Bun.plugin({
    name: "tsgw: the app's tsconfig.json",
    setup(build) {
      build.onLoad({ filter: /^(?!.*[\\/]node_modules[\\/]).*\.(c|m)?ts$/ }, ({ path }) => ({
        contents: transpiler.transformSync(readFileSync(path, "utf8")),
        loader: "js",
      }));
      // what the plugin compiles is resolved without the tsconfig: its `paths` aliases, here
      for (const [alias, [target]] of Object.entries(ts.paths)) {
        if (!target) continue;
        const wild = alias.endsWith("*") && target.endsWith("*");
        const filter = new RegExp(`^${alias.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*$/, "(.*)")}$`);
        build.onResolve({ filter }, ({ path }) => {
          const base = wild ? target.slice(0, -1) + path.slice(alias.length - 1) : target;
          const found = ["", ".ts", ".tsx", ".js", ".mjs", "/index.ts", "/index.tsx", "/index.js"].map((e) => base + e).find((f) =>
            existsSync(f) && statSync(f).isFile()
          );
          return found ? { path: found } : undefined;
        });
      }
    },
  });
}

export const runtime: RuntimeCore = {
  name: "bun",
  version: Bun.version,
  // Bun.serve cannot share a unix socket, and Bun's node:cluster fails the second listen on one
  unixSharing: "none",
  tcpSharing: "reusePort",
  spawnWorker: spawnClusterWorker,
  spawnMaster: forkMaster,
  toMaster: sendToMaster,
  setGroups: setGroupsProcess,
  // smol: the thread holds a few numbers (7 MB a worker with it, 14 MB through node:worker_threads)
  startThread: (body, data, onMessage) => webThread(body, data, onMessage, "() => process.ppid", '() => process.kill(process.pid, "SIGKILL")', { smol: true }),
  startServingThread: (data, events) => startServingThread(Bun.main, data, events),
  stopsStuckThreads: true,
  importModule(file) {
    // (Bun.main, not import.meta.url: a --bytecode binary keeps its modules' build-time URLs)
    if (Bun.main.startsWith("/$bunfs/")) compileAsProject(file);
    return importFile(file);
  },
  // Bun.serve takes no fd, and Bun's node:http accepts nothing on one
  inheritedSockets: INHERITED_REFUSAL,
  holdName: holdNameBun,
  serveAnswers: serveAnswersBun,
  probePort: probePortBun,
  tlsRefusal: (tls) =>
    tls.clientCerts === "optional"
      ? "Bun's servers cannot tell the app whether a client certificate was verified: use --cert-reqs required on Bun (optional needs Node or Deno)"
      : undefined,
};
