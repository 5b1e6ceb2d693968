#!/usr/bin/env node
// Entry for npx/bunx. An installed package carries a prebuilt bundle
// (dist/npm, made when the package is packed): no TypeScript loader, a faster
// start. From a checkout, Bun and Deno import the TypeScript sources natively;
// Node 20 cannot, so there the sources go through jiti.
import { existsSync } from "node:fs";

const bundle = new URL("../dist/npm/tsgw.mjs", import.meta.url);
if (existsSync(bundle)) {
  await import(bundle.href); // runs itself
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
