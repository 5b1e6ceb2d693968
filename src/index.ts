/** The library surface: `import { defineConfig } from "tsgw"` in tsgw.config.ts. */
export { defineConfig, type TsgwConfig } from "./config/define.ts";
export type { Config } from "./config/types.ts";
export type { FetchHandler, NodeListener, RequestInfo, RemoteAddr } from "./app/contract.ts";
export { VERSION } from "./version.ts";
