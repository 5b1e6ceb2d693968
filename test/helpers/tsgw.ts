/** Starting the real tsgw CLI as a subprocess on each runtime, and talking to it over real sockets. */
import { type ChildProcess, spawn } from "node:child_process";
import { type Agent, type IncomingHttpHeaders, request as httpRequest } from "node:http";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const FIXTURES = join(ROOT, "test", "fixtures");
export const BIN = join(ROOT, "node_modules", ".bin");

/** Where tsgw runs: from source on each runtime, or as the standalone binary (dist/tsgw, bun build --compile). */
export type RuntimeName = "node" | "bun" | "deno" | "binary";

/** The e2e matrix; TSGW_RUNTIMES=node,bun narrows it for local work. `npm test` builds the binary first. */
export const RUNTIMES: RuntimeName[] = (process.env.TSGW_RUNTIMES?.split(",") as RuntimeName[] | undefined) ?? ["node", "bun", "deno", "binary"];

export const BINARY = join(ROOT, "dist", "tsgw");
export const NODE_BINARY = join(ROOT, "dist", "tsgw-node");

/** The runtime underneath: the binary is Bun inside and behaves as Bun does. */
export function engineOf(rt: RuntimeName): "node" | "bun" | "deno" {
  return rt === "binary" ? "bun" : rt;
}

export function commandFor(rt: RuntimeName): string[] {
  switch (rt) {
    case "node":
      return [process.execPath, join(ROOT, "bin", "tsgw.mjs")];
    case "bun":
      return [join(BIN, "bun"), join(ROOT, "src", "cli.ts")];
    case "deno":
      return [join(BIN, "deno"), "run", "-A", ...(process.env.TSGW_DENO_FLAGS ?? "--unstable-net").split(" ").filter(Boolean), join(ROOT, "src", "cli.ts")];
    case "binary":
      return [BINARY];
  }
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** how many "Listening at:" lines to wait for (default 1) */
  listeners?: number;
  /** the server's --error-log file: its lines count as the server's logs (startTsgw waits for "Listening at:" there too) */
  logFile?: string;
}

const live = new Set<ChildProcess>();
const killAll = () => {
  for (const p of live) p.kill("SIGKILL");
};
process.on("exit", killAll);
// a test file stopped by a signal (a runner timeout, ^C) must not leave servers behind either
for (const sig of ["SIGTERM", "SIGINT"] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(1);
  });
}

/** A runtime of the matrix, or a command line that runs tsgw (an installed package, one of the binaries). */
export type Target = RuntimeName | string[];

function spawnTsgw(rt: Target, args: string[], opts: RunOptions): ChildProcess {
  const [cmd, ...pre] = Array.isArray(rt) ? rt : commandFor(rt);
  const env: Record<string, string | undefined> = {
    ...process.env,
    TSGW_CMD_ARGS: undefined,
    WEB_CONCURRENCY: undefined,
    PORT: undefined,
    NO_COLOR: "1",
    ...opts.env,
  };
  const child = spawn(cmd!, [...pre, ...args], { cwd: opts.cwd ?? ROOT, env: env as NodeJS.ProcessEnv, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run tsgw to completion (errors, --print-config, --check-config). */
export function runTsgw(rt: Target, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = spawnTsgw(rt, args, opts);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tsgw ${args.join(" ")} did not exit within ${opts.timeoutMs ?? 20000} ms\n${stderr}`));
    }, opts.timeoutMs ?? 20000);
    // "close", not "exit": the output is read whole only once the pipes closed (a busy machine reads them late)
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Server {
  /** http://127.0.0.1:PORT, or unix:/path */
  url: string;
  port: number;
  socketPath?: string;
  child: ChildProcess;
  logs(): string;
  /** signal the server and wait for it to exit; resolves to the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Start a server and wait until it listens (its "Listening at:" line). */
export function startTsgw(rt: Target, args: string[], opts: RunOptions = {}): Promise<Server> {
  const child = spawnTsgw(rt, args, opts);
  let piped = "";
  child.stdout!.on("data", (d) => (piped += d));
  child.stderr!.on("data", (d) => (piped += d));
  const fromFile = () => {
    try {
      return opts.logFile ? readFileSync(opts.logFile, "utf8") : "";
    } catch {
      return "";
    }
  };
  const logs = () => piped + fromFile();
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return new Promise((resolve, reject) => {
    const early = (code: number | null) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`tsgw exited with ${code} before listening:\n${logs()}`));
    };
    const timer = setTimeout(() => {
      clearInterval(poll);
      child.off("exit", early);
      child.kill("SIGKILL");
      reject(new Error(`tsgw did not start within ${opts.timeoutMs ?? 20000} ms:\n${logs()}`));
    }, opts.timeoutMs ?? 20000);
    child.once("exit", early);
    const check = () => {
      const all = [...logs().matchAll(/Listening at: (\S+)/g)];
      const m = all[0];
      if (!m || all.length < (opts.listeners ?? 1)) return;
      clearInterval(poll);
      clearTimeout(timer);
      child.off("exit", early);
      const url = m[1]!;
      const socketPath = url.startsWith("unix:") ? url.slice(5) : undefined;
      resolve({
        url,
        port: socketPath ? 0 : Number(new URL(url).port),
        socketPath,
        child,
        logs,
        stop(signal = "SIGTERM") {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          return exited;
        },
      });
    };
    const poll = setInterval(check, 20);
  });
}

/**
 * Start a server, run `fn` with it, and stop it whatever happens (SIGTERM;
 * `opts.stopWith` for another signal): the start/try/finally/stop every
 * serving test needs, in one place.
 */
export async function withTsgw<T>(
  rt: Target,
  args: string[],
  fn: (server: Server) => Promise<T>,
  opts: RunOptions & { stopWith?: NodeJS.Signals } = {},
): Promise<T> {
  const server = await startTsgw(rt, args, opts);
  try {
    return await fn(server);
  } finally {
    await server.stop(opts.stopWith);
  }
}

/** The pids of the workers a master booted, in order, from its log's "Booting worker" lines. */
export function workerPids(server: Pick<Server, "logs">): number[] {
  return [...server.logs().matchAll(/Booting worker with pid: (\d+)/g)].map((m) => Number(m[1]));
}

/** Log lines travel through a pipe and may land after the response that caused them: wait a little. */
export async function waitForLog(server: Pick<Server, "logs">, pattern: RegExp, ms = 5000): Promise<string> {
  for (const start = Date.now(); Date.now() - start < ms; await new Promise((r) => setTimeout(r, 20))) {
    const m = pattern.exec(server.logs());
    if (m) return m[0];
  }
  throw new Error(`no log line matching ${pattern} within ${ms} ms:\n${server.logs()}`);
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
}

export interface Ask {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: Buffer | string | AsyncIterable<Buffer | string>;
  /** a keep-alive agent, to send several requests on one connection (default: a fresh connection) */
  agent?: Agent;
}

/** One request on a fresh connection (no keep-alive pool to leak between tests), or on the agent's. */
export function ask(server: Pick<Server, "port" | "socketPath">, what: Ask = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        ...(server.socketPath ? { socketPath: server.socketPath } : { host: "127.0.0.1", port: server.port }),
        method: what.method ?? "GET",
        path: what.path ?? "/",
        headers: what.headers,
        agent: what.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body, text: body.toString() });
        });
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(15000, () => req.destroy(new Error(`request ${what.path} timed out`)));
    const body = what.body;
    if (body === undefined || typeof body === "string" || Buffer.isBuffer(body)) return void req.end(body);
    (async () => {
      for await (const chunk of body) if (!req.write(chunk)) await new Promise((r) => req.once("drain", r));
      req.end();
    })().catch(reject);
  });
}

/** Raw bytes to a TCP port; `reply` is all the server sent before the connection closed (bounded). */
export function rawSend(port: number, ...chunks: (Uint8Array | string)[]): { reply: Promise<string>; sock: Socket } {
  const sock = connect(port, "127.0.0.1", () => {
    for (const c of chunks) sock.write(c);
  });
  const reply = new Promise<string>((resolve) => {
    let text = "";
    sock.on("data", (d) => (text += d));
    sock.on("close", () => resolve(text));
    sock.on("error", () => {});
    sock.setTimeout(15000, () => sock.destroy());
  });
  return { reply, sock };
}

const made: string[] = [];
// every temporary folder a test made goes when its test file ends
process.on("exit", () => {
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // still in use (a mount a failed test left): not worth failing the run for
    }
  }
});

/**
 * A tool from the system's packages (nginx, openssl, prometheus...): its
 * path, or why the tests that need it skip, said once on the output, as a
 * test may skip only when its tool is absent and must say so.
 */
export function systemTool(paths: string[], pkg: string, what: string): { path?: string; skip?: string } {
  const path = paths.find((p) => existsSync(p));
  const skip = path ? undefined : `${basename(paths[0]!)} is not installed (apt-get install -y ${pkg}; .ci/run installs it)`;
  if (skip) console.log(`# ${what} skipped: ${skip}`);
  return { path, skip };
}

/** A loopback port free a moment ago (for what must be told its port: nginx, a metrics endpoint). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createNetServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "tsgw-test-"));
  made.push(dir);
  return dir;
}

/** The error contract: one "tsgw: error:" line on stderr (log lines aside), no stack trace. */
export function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n").filter((l) => !/^\[[^\]]+\] \[\d+\] \[(INFO|DEBUG|WARNING)\]/.test(l));
  if (lines.length !== 1 || !lines[0]!.startsWith("tsgw: error: ") || /^\s+at /m.test(stderr)) {
    throw new Error(`expected one error line, got:\n${stderr}`);
  }
  return lines[0]!.slice("tsgw: error: ".length);
}
