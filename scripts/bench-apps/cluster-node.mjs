// Bare node:cluster: N workers each running hello-node.mjs on one shared port (the usual Node multi-process setup).
import cluster from "node:cluster";
import { fileURLToPath } from "node:url";
const [n, port] = process.argv.slice(2).map(Number);
cluster.setupPrimary({ exec: fileURLToPath(new URL("hello-node.mjs", import.meta.url)), args: [String(port)] });
for (let i = 0; i < n; i++) cluster.fork();
