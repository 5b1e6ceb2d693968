// express.static serving the same file, for the static-file benchmark (on the runtime's node:http).
import express from "express";
import { join } from "node:path";

const port = Number(process.argv[2] ?? globalThis.Deno?.args[0]);
const app = express();
app.use("/static", express.static(join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "public")));
app.get("/", (_req, res) => res.send("ok"));
app.listen(port, "127.0.0.1");
