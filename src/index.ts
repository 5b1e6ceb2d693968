/** The library surface: `import { defineConfig } from "tsgw"` in tsgw.config.ts. */
export { defineConfig, type TsgwConfig } from "./config/define.ts";
export type { Config } from "./config/types.ts";
export type { FetchHandler, NodeListener, RemoteAddr, RequestInfo } from "./app/contract.ts";
export { VERSION } from "./version.ts";
