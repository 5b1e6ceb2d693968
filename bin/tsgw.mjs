#!/usr/bin/env node
// Entry for npx/bunx. It runs the prebuilt bundle (dist/npm): no TypeScript
// loader, and a Node process that starts in about 60% of the time the
// sources take through jiti. An installed package carries the bundle as
// packed; a checkout builds it on `npm install` and `npm test`, and runs the
// sources instead once one of them is newer than the bundle. Bun and Deno
// import the TypeScript sources natively; Node 20 cannot, so there the
// sources go through jiti.
import { createRequire } from "node:module";

// node:fs through require: its ES module face would read every export, ReadStream's too, which loads fs streams (2 ms)
const require = createRequire(import.meta.url);
const { existsSync, readdirSync, statSync } = require("node:fs");
const { fileURLToPath } = require("node:url");

const bundle = new URL("../dist/npm/tsgw.cjs", import.meta.url);
const forBun = new URL("../dist/npm/tsgw.bun.cjs", import.meta.url);
const current = currentBundle();
if (current) {
  // runs itself; required, not imported: import() of CommonJS first scans all 0.4 MB of it for its exports (30-40 ms).
  // Bun runs its own build of it, whose bytecode lies beside it (compile/build.ts); Deno's node:vm was not measured.
  if (process.versions.bun) require(fileURLToPath(existsSync(forBun) ? forBun : bundle));
  else if (globalThis.Deno) require(fileURLToPath(bundle));
  else runFromCodeCache(fileURLToPath(bundle), current);
} else {
  let cli;
  try {
    cli = await import("../src/cli.ts");
  } catch (err) {
    if (err?.code !== "ERR_UNKNOWN_FILE_EXTENSION") throw err;
    const { createJiti } = await import("jiti");
    cli = await createJiti(import.meta.url).import("../src/cli.ts");
  }
  await cli.main(process.argv.slice(2));
}

/**
 * The bundle's stat, if it is there and no source it was built from changed since (a packed bundle is current by
 * definition); else undefined.
 */
function currentBundle() {
  let stat;
  try {
    stat = statSync(bundle);
  } catch {
    return undefined;
  }
  const built = stat.mtimeMs;
  // (about 100 stat calls, 1.2-1.4 ms measured, on paths as strings: URLs took 2 ms more; a stale bundle would run code that is no longer in src/)
  if (existsSync(new URL("../dist/npm/packed.txt", import.meta.url))) return stat;
  const newer = (dir) =>
    readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() ? newer(`${dir}/${e.name}`) : statSync(`${dir}/${e.name}`).mtimeMs > built);
  const root = fileURLToPath(new URL("..", import.meta.url));
  return ["src", "demo"].some((dir) => newer(`${root}${dir}`)) ? undefined : stat;
}

/**
 * Runs the bundle as require() would, but from V8's code cache, kept beside it as Python keeps __pycache__: V8 then
 * neither parses the 0.4 MB nor compiles the functions the cache holds. Measured, exec to a first response of a hello
 * world (3 alternating rounds of 9 starts): 94-99 ms before, 85-88 ms after with --no-master; 195-215 before,
 * 169-179 ms after with a master and a worker.
 * The cache is written once, a second into a process's life (so that it holds what a start compiles), when there was
 * none or V8 refused it (another Node, other flags). A folder that cannot be written, or a full disk, leaves it
 * unwritten and costs nothing else. Its first line names the bundle it was made from, which V8 does not check.
 */
function runFromCodeCache(file, { size, mtimeMs }) {
  const { closeSync, openSync, readFileSync, renameSync, rmSync, writeSync } = require("node:fs");
  const { Script } = require("node:vm");
  // a master and its workers run different parts of the bundle: one cache each (a worker's id, src/protocol/worker.ts)
  const cacheFile = `${file}.${process.env.TSGW_WORKER_ID === undefined ? "main" : "worker"}.v8cache`;
  const stamp = Buffer.from(`tsgw.cjs ${size} ${mtimeMs}\n`);
  let cachedData;
  try {
    const cache = readFileSync(cacheFile);
    if (cache.subarray(0, stamp.length).equals(stamp)) cachedData = cache.subarray(stamp.length);
  } catch {
    // none yet
  }
  // import() inside the script would fail on Node 20 once compiled from a cache: src/dynamic-import.ts takes this one
  globalThis[Symbol.for("tsgw.import")] = (specifier) => import(specifier);
  const wrapper = `(function (exports, require, module, __filename, __dirname) { ${readFileSync(file, "utf8")}\n})`;
  const script = new Script(wrapper, { filename: file, cachedData });
  if (!cachedData || script.cachedDataRejected) {
    setTimeout(() => {
      const partial = `${cacheFile}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      let fd;
      try {
        // opened before the cache is made: where it cannot be written, making it would be work thrown away
        fd = openSync(partial, "wx");
        try {
          writeSync(fd, Buffer.concat([stamp, script.createCachedData()]));
        } finally {
          closeSync(fd);
        }
        renameSync(partial, cacheFile);
      } catch {
        if (fd !== undefined) rmSync(partial, { force: true });
      }
    }, 1000).unref();
  }
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, file.slice(0, file.lastIndexOf("/")));
}
