const t0 = performance.now();
const { main } = await import("./src/cli.ts");
const t1 = performance.now();
const w = process.stdout.write.bind(process.stdout);
await main(["--version"]);
console.error("import", (t1 - t0).toFixed(1), "main", (performance.now() - t1).toFixed(1));
