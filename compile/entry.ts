/**
 * Entry of the standalone executables. No top-level await, so the same file
 * bundles to the CommonJS a Node single executable needs. compile/build.ts
 * defines TSGW_BUILD as the kind of build; `deno compile` has no defines.
 */
import { main } from "../src/cli.ts";

declare const TSGW_BUILD: string | undefined;

void main(process.argv.slice(2), { build: typeof TSGW_BUILD === "string" ? TSGW_BUILD : "standalone binary: deno compile" });
