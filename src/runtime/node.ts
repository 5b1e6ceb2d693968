/** Node shim: processes, threads, jiti for TypeScript modules (its servers: runtime/node-servers.ts). */
import { pathToFileURL } from "node:url";
import { forkMaster, sendToMaster, spawnClusterWorker } from "./cluster.ts";
import { setGroupsProcess } from "./groups.ts";
import { holdNameNet, probePortNet, serveAnswersNet } from "./socket-files.ts";
import { dirname } from "node:path";
import { readFileSync } from "node:fs";
import { importFile, needsTransform } from "./modules.ts";
import { type ProjectTs, readProjectTs } from "./tsconfig.ts";
import { nodeThread } from "./threads.ts";
import type { RuntimeCore } from "./types.ts";
import { dynamicImport } from "../dynamic-import.ts";

type Jiti = ReturnType<typeof import("jiti").createJiti>;
let jiti: Jiti | undefined;

/** The Node single executable's own jiti (compile/embedded-jiti.ts): it has no node_modules to load jiti from. */
const EMBEDDED_JITI = Symbol.for("tsgw.jiti");

/**
 * jiti for TypeScript apps and configs, loaded on first use. From source or
 * the npm package, plain jiti loads its Babel transform lazily (not at all
 * when its file cache already holds the module: about 170 ms saved).
 */
async function loadJiti(file: string): Promise<Jiti> {
  const embedded = (globalThis as { [EMBEDDED_JITI]?: () => Promise<typeof import("jiti").createJiti> })[EMBEDDED_JITI];
  const createJiti = embedded ? await embedded() : (await dynamicImport<typeof import("jiti")>("jiti")).createJiti;
  const ts = readProjectTs(dirname(file));
  return createJiti(pathToFileURL(`${process.cwd()}/`).href, {
    interopDefault: false,
    jsx: jsxOptions(ts),
    extensions: [".js", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts", ".mtsx", ".ctsx", ".jsx"],
    // the project's `paths` aliases (jiti reads them, `extends` included)
    tsconfigPaths: ts?.file ?? false,
  });
}

/**
 * JSX as the project's tsconfig.json sets it; without a setting, the
 * automatic runtime (React's, as Bun does), which also honours a file's own
 * `@jsxImportSource` pragma.
 */
function jsxOptions(ts: ProjectTs | undefined): { runtime: "automatic" | "classic"; importSource?: string; pragma?: string; pragmaFrag?: string } {
  if (ts?.jsx === "react") return { runtime: "classic", pragma: ts.jsxFactory, pragmaFrag: ts.jsxFragmentFactory };
  return { runtime: "automatic", importSource: ts?.jsxImportSource };
}

/**
 * Node's ES module loader gives a syntax error no location (it prints one
 * only for an error nobody caught): parsing the module again with jiti's
 * parser finds it, where the error is in that module (not in one it imports).
 */
async function locateSyntaxError(err: unknown, file: string): Promise<unknown> {
  // (CommonJS's syntax errors start their stack with file:line already)
  if (!(err instanceof SyntaxError) || String(err.stack).includes(`${file}:`)) return err;
  try {
    jiti ??= await loadJiti(file);
    // jiti's transform gives a parse error as code that would throw it: `exports.__JITI_ERROR__ = {...}`
    const code = jiti.transform({ source: readFileSync(file, "utf8"), filename: file, ts: false });
    const found = /__JITI_ERROR__ = (\{.*\})/.exec(code)?.[1];
    const { line, column } = found ? (JSON.parse(found) as { line?: number; column?: number }) : {};
    if (line) err.stack = `${err.stack}\n    at ${file}:${line}${column !== undefined ? `:${column}` : ""}`;
  } catch {
    // no better place to point at
  }
  return err;
}

/**
 * Threads of one process share a port with SO_REUSEPORT; node:net has it
 * from Node 22.12 (`listen({ reusePort })`), and node:cluster's shared
 * sockets, which a worker's main thread serves, are not bound with it.
 */
function threadRefusal(): string {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  const why = major > 22 || (major === 22 && minor >= 12)
    ? "tsgw's threads on Node are not built yet (node:cluster's shared sockets are not bound with SO_REUSEPORT)"
    : `Node ${process.versions.node}'s node:net cannot bind with SO_REUSEPORT (Node 22.12 added it), which threads of one process need to share a port`;
  return `--threads is not available on Node: ${why}; use --workers, or run tsgw on bun or deno`;
}

export const runtime: RuntimeCore = {
  name: "node",
  version: process.versions.node,
  unixSharing: "cluster",
  tcpSharing: "cluster",
  threadRefusal: threadRefusal(),
  spawnWorker: spawnClusterWorker,
  spawnMaster: forkMaster,
  toMaster: sendToMaster,
  async importModule(file) {
    if (needsTransform(file)) {
      jiti ??= await loadJiti(file);
      return (await jiti.import(file)) as Record<string, unknown>;
    }
    try {
      return await importFile(file);
    } catch (err) {
      throw await locateSyntaxError(err, file);
    }
  },
  startThread: nodeThread,
  setGroups: setGroupsProcess,
  // node:https and node:http2 do all of it
  holdName: holdNameNet,
  serveAnswers: serveAnswersNet,
  probePort: probePortNet,
  tlsRefusal: () => undefined,
};
