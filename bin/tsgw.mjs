#!/usr/bin/env node
// Entry for npx/bunx. Bun and Deno import the TypeScript sources natively;
// Node 20 cannot, so there the sources go through jiti.
let cli;
try {
  cli = await import("../src/cli.ts");
} catch (err) {
  if (err?.code !== "ERR_UNKNOWN_FILE_EXTENSION") throw err;
  const { createJiti } = await import("jiti");
  cli = await createJiti(import.meta.url).import("../src/cli.ts");
}
await cli.main(process.argv.slice(2));
