// @hono/node-server running the benchmark workload's fetch handler (the Node fetch-adapter baseline).
import { serve } from "@hono/node-server";
import { createJiti } from "jiti";
const { handle } = await createJiti(import.meta.url).import("./workload.ts");
serve({ fetch: handle, port: Number(process.argv[2]), hostname: "127.0.0.1" });
