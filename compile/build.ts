/**
 * Builds the standalone executables into dist/ (README, Distributions):
 *
 *   dist/tsgw       bun build --compile, host target (the primary binary)
 *   dist/tsgw-node  Node single executable: one CommonJS bundle + postject
 *   dist/tsgw-deno  deno compile, only where a denort base is at hand
 *   dist/npm/tsgw.cjs  the npm package's prebuilt entry, one CommonJS file, so
 *                   npx needs no TypeScript loader and starts faster;
 *                   bin/tsgw.mjs runs it while no source is newer
 *   dist/npm/tsgw.bun.cjs (+ .jsc)  the same for Bun, with its bytecode
 *
 * `npm run compile` runs it; `npm test` runs it too and a build whose inputs
 * did not change is skipped (dist/.build-stamp). `npm install` in a checkout
 * builds the npm entry (prepare), `npm pack` builds it with --packed. Options:
 *   --target bun-linux-arm64   another bun target (needs that target's download)
 *   --only bun|node|deno|npm   build one kind
 *   --force                    ignore the stamp
 *   --packed                   the npm entry ships with its sources: mark it
 *                              current, so bin/tsgw.mjs does not compare them
 *   --if-bun                   skip, with a line, where bun is not installed
 *                              (npm install --omit=dev)
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "node_modules", ".bin");
const DIST = join(ROOT, "dist");
const ENTRY = join(ROOT, "compile", "entry.ts");
const SEA_ENTRY = join(ROOT, "compile", "sea-entry.ts");
/** the fuse postject flips so that node runs the injected blob (Node's documented constant) */
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";

type Kind = "bun" | "node" | "deno" | "npm";
const KINDS: Kind[] = ["bun", "node", "deno", "npm"];

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

function run(cmd: string, args: string[], what: string): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) {
    process.stderr.write(`compile: ${what} failed (${cmd} ${args.join(" ")}):\n${r.stderr || r.stdout || r.error?.message}\n`);
    process.exit(1);
  }
}

/** Every file whose change changes a binary: sources, this folder, the lockfile and the toolchain versions. */
function inputsHash(kinds: Kind[], target: string | undefined): string {
  const hash = createHash("sha256");
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else hash.update(relative(ROOT, path)).update(readFileSync(path));
    }
  };
  for (const dir of ["src", "demo", "compile"]) walk(join(ROOT, dir));
  for (const file of ["package.json", "package-lock.json"]) if (existsSync(join(ROOT, file))) hash.update(readFileSync(join(ROOT, file)));
  hash.update(JSON.stringify({ kinds, target, node: process.version }));
  return hash.digest("hex");
}

/**
 * bun build of compile/entry.ts (or `entry`). `build` is what --version reports. import.meta.main is defined false because a
 * bundle would otherwise run src/cli.ts's own self-start as well.
 */
function bunBuild(args: string[], out: string, build: string, what: string, entry = ENTRY): string {
  const defines = ["--define", `TSGW_BUILD=${JSON.stringify(build)}`, "--define", "import.meta.main=false"];
  // (bytecode beside a bundle is a second file, which --outfile refuses: a folder and the entry's name instead)
  const to = args.includes("--bytecode") && !args.includes("--compile") ? ["--outdir", dirname(out), "--entry-naming", basename(out)] : ["--outfile", out];
  run(join(BIN, "bun"), ["build", entry, ...to, ...defines, ...args], what);
  return out;
}

function buildBun(target: string | undefined): string {
  // --compile-autoload-package-json lets the binary resolve an app's own packages from the app's node_modules;
  // --compile-autoload-tsconfig lets it compile the app as its tsconfig.json says (JSX runtime, paths)
  // --bytecode: the binary carries its modules compiled, and starts in about a third of the time (44 vs 130 ms to a first response, measured)
  const args = [
    "--compile",
    "--compile-autoload-package-json",
    "--compile-autoload-tsconfig",
    "--minify-syntax",
    "--bytecode",
    ...(target ? ["--target", target] : []),
  ];
  return bunBuild(args, join(DIST, target ? `tsgw-${target}` : "tsgw"), "standalone binary: bun build --compile", "bun build --compile");
}

function buildNpmEntry(): string[] {
  // jiti stays a dependency of the package: loaded from node_modules only for TypeScript apps and configs.
  // One CommonJS file: Node 20's ES module loader costs about 0.45 ms a module, and a worker of the split ES bundle
  // loaded 20 chunks; as CommonJS, a module the sources import lazily is still initialised (and its node:* modules
  // required) only when first imported. Measured, exec to a first response: 110-114 ms against 123-125 ms with
  // --no-master, the same with a master, whose memory stays under a bare node:http server's.
  rmSync(join(DIST, "npm"), { recursive: true, force: true });
  const args = ["--target", "node", "--format", "cjs", "--external", "jiti"];
  const entry = bunBuild(args, join(DIST, "npm", "tsgw.cjs"), "prebuilt bundle", "bundling the npm entry");
  // bin/tsgw.mjs runs this file from V8's code cache on Node, where an import() of its own fails on Node 20
  // (src/dynamic-import.ts, whose own import(specifier) runs elsewhere); `import(${` is the source of a thread
  const own = /(?<![\w$.])import\((?!\$\{|specifier\))/.exec(readFileSync(entry, "utf8"));
  if (own) {
    rmSync(entry);
    process.stderr.write(
      `compile: the npm bundle has an import() of its own: "${
        own.input.slice(Math.max(0, own.index - 60), own.index + 40)
      }"; import through src/dynamic-import.ts\n`,
    );
    process.exit(1);
  }
  // Bun runs a bundle of its own, with the bytecode --bytecode writes beside it (tsgw.bun.cjs.jsc): Bun checks that
  // bytecode against the file and its own version and parses the file instead where it does not match. Measured
  // (2026-12-07, hello world, exec to a first response, --no-master): 50-58 ms with tsgw.cjs, 36 ms with this one.
  const forBun = bunBuild(
    ["--target", "bun", "--format", "cjs", "--bytecode", "--external", "jiti"],
    join(DIST, "npm", "tsgw.bun.cjs"),
    "prebuilt bundle, Bun bytecode",
    "bundling the npm entry for Bun",
  );
  if (process.argv.includes("--packed")) {
    writeFileSync(join(DIST, "npm", "packed.txt"), "This bundle was packed with its sources: bin/tsgw.mjs runs it without comparing them.\n");
  }
  return [entry, forBun, `${forBun}.jsc`];
}

function buildNodeSea(): string {
  const work = join(DIST, "sea");
  mkdirSync(work, { recursive: true });
  // a single executable runs one CommonJS script: bundle everything into it, jiti as text (compile/embedded-jiti.ts),
  // each file the string a function returns: a string at the script's top level would be made at every start (6 MB a process)
  const jitiText = (file: string) => `() => ${JSON.stringify(readFileSync(join(ROOT, "node_modules", "jiti", "dist", file), "utf8"))}`;
  writeFileSync(join(work, "jiti-text.cjs"), `exports.jiti = ${jitiText("jiti.cjs")};\nexports.babel = ${jitiText("babel.cjs")};\n`);
  const args = ["--target", "node", "--format", "cjs"];
  const bundle = bunBuild(args, join(work, "tsgw.cjs"), "standalone binary: node single executable", "bundling for Node", SEA_ENTRY);
  // every character in ASCII: V8 holds a script with any character past Latin-1 at two bytes each (4.3 MB, not 2.2), and
  // bun build leaves jiti's text as it is; \uXXXX means the same in a string, a template, a regular expression and a name
  const text = readFileSync(bundle, "utf8");
  writeFileSync(bundle, text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`));
  const config = join(work, "sea-config.json");
  const blob = join(work, "sea.blob");
  // (no useCodeCache: on Node 20 a blob with V8's code cache fails every dynamic import(), "A dynamic import callback was not specified")
  writeFileSync(config, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }));
  run(process.execPath, ["--experimental-sea-config", config], "node --experimental-sea-config");
  const out = join(DIST, "tsgw-node");
  rmSync(out, { force: true });
  copyFileSync(process.execPath, out);
  run(join(BIN, "postject"), [out, "NODE_SEA_BLOB", blob, "--sentinel-fuse", SEA_FUSE], "postject");
  return out;
}

/** deno compile needs a denort base, which it downloads; we only try where one is already at hand. */
function denortAvailable(): string | undefined {
  if (process.env.DENORT_BIN) return existsSync(process.env.DENORT_BIN) ? `DENORT_BIN=${process.env.DENORT_BIN}` : undefined;
  const r = spawnSync(join(BIN, "deno"), ["--version"], { encoding: "utf8" });
  const version = /deno (\S+)/.exec(r.stdout ?? "")?.[1];
  const denoDir = process.env.DENO_DIR ?? join(homedir(), ".cache", "deno");
  const cached = join(denoDir, "dl", "release", `v${version}`);
  return version && existsSync(cached) && readdirSync(cached).some((f) => f.startsWith("denort")) ? cached : undefined;
}

function buildDeno(): string | undefined {
  const base = denortAvailable();
  if (!base) {
    process.stderr.write(
      "compile: deno compile skipped: it needs a denort base that cannot be downloaded here; set DENORT_BIN=/path/to/denort to build dist/tsgw-deno\n",
    );
    return undefined;
  }
  const out = join(DIST, "tsgw-deno");
  run(join(BIN, "deno"), ["compile", "-A", "--unstable-net", "--no-check", "--output", out, ENTRY], "deno compile");
  return out;
}

function main(): void {
  const only = option("--only") as Kind | undefined;
  if (only && !KINDS.includes(only)) {
    process.stderr.write(`compile: --only must be one of ${KINDS.join(", ")}, not "${only}"\n`);
    process.exit(2);
  }
  const target = option("--target");
  if (process.argv.includes("--if-bun") && !existsSync(join(BIN, "bun"))) {
    process.stderr.write("compile: skipped: bun is not installed (devDependencies); bin/tsgw.mjs runs the sources\n");
    return;
  }
  const kinds: Kind[] = only ? [only] : ["bun", "node", "npm", "deno"];
  mkdirSync(DIST, { recursive: true });
  const stampFile = join(DIST, `.build-stamp-${kinds.join("-")}${target ? `-${target}` : ""}`);
  const stamp = inputsHash(kinds, target);
  // the stamp: the inputs' hash, then the files built from them (all must still be there)
  const [hash, ...outputs] = existsSync(stampFile) ? readFileSync(stampFile, "utf8").split("\n") : [];
  if (!process.argv.includes("--force") && hash === stamp && outputs.every((f) => existsSync(join(ROOT, f)))) {
    // (touched: a source saved again unchanged is newer than the bundle, and bin/tsgw.mjs would pass it over)
    const now = new Date();
    for (const f of outputs) utimesSync(join(ROOT, f), now, now);
    process.stderr.write("compile: dist/ is up to date\n");
    return;
  }
  const built: string[] = [];
  if (kinds.includes("bun")) built.push(buildBun(target));
  if (kinds.includes("node") && !target) built.push(buildNodeSea());
  if (kinds.includes("npm")) built.push(...buildNpmEntry());
  if (kinds.includes("deno") && !target) {
    const deno = buildDeno();
    if (deno) built.push(deno);
  }
  for (const file of built) process.stderr.write(`compile: ${relative(ROOT, file)} ${(statSync(file).size / 1048576).toFixed(1)} MB\n`);
  const names = built.map((f) => relative(ROOT, f));
  writeFileSync(stampFile, [stamp, ...names].join("\n"));
  // another set of kinds' stamp that lists a file built now vouches for sources it was not built from
  for (const other of readdirSync(DIST).filter((f) => f.startsWith(".build-stamp-")).map((f) => join(DIST, f))) {
    if (other !== stampFile && readFileSync(other, "utf8").split("\n").slice(1).some((f) => names.includes(f))) rmSync(other);
  }
}

main();
