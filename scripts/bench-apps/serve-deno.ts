// For `deno serve --parallel`: the benchmark workload as a default export with fetch.
import { handle } from "./workload.ts";

export default { fetch: handle };
