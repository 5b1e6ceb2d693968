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
if (bundleCurrent()) {
  // runs itself; required, not imported: import() of CommonJS first scans all 0.4 MB of it for its exports (30-40 ms)
  require(fileURLToPath(bundle));
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

/** The bundle is there, and no source it was built from changed since (a packed bundle is current by definition). */
function bundleCurrent() {
  let built;
  try {
    built = statSync(bundle).mtimeMs;
  } catch {
    return false;
  }
  // (about 100 stat calls, 1.2-1.4 ms measured, on paths as strings: URLs took 2 ms more; a stale bundle would run code that is no longer in src/)
  if (existsSync(new URL("../dist/npm/packed.txt", import.meta.url))) return true;
  const newer = (dir) =>
    readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory() ? newer(`${dir}/${e.name}`) : statSync(`${dir}/${e.name}`).mtimeMs > built);
  const root = fileURLToPath(new URL("..", import.meta.url));
  return !["src", "demo"].some((dir) => newer(`${root}${dir}`));
}
