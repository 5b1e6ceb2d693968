/**
 * The ways tsgw reaches users (README, Distributions): the package bin from a checkout,
 * deno task, the standalone binaries (built by `npm test` before the suite),
 * and the npm tarball installed into a fresh project and run with npx and bunx.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ask, BINARY, FIXTURES, NODE_BINARY, ROOT, runTsgw, type Server, startTsgw, type Target, tempDir, withTsgw } from "../helpers/tsgw.ts";

const BIN = join(ROOT, "node_modules", ".bin");
const PATH = `${BIN}:${process.env.PATH}`;

test("npx tsgw runs the package's bin on Node", () => {
  const r = spawnSync("npx", ["--no-install", "tsgw", "--version"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH }, timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tsgw \d+\.\d+\.\d+ \(node /);
});

test("a checkout's bin runs the prebuilt bundle while no source is newer, then the sources; a packed bundle always", () => {
  const copy = tempDir();
  for (const dir of ["bin", "src", "demo", "dist/npm"]) cpSync(join(ROOT, dir), join(copy, dir), { recursive: true });
  cpSync(join(ROOT, "package.json"), join(copy, "package.json"));
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  rmSync(join(copy, "dist", "npm", "packed.txt"), { force: true });
  const version = () => spawnSync(process.execPath, [join(copy, "bin", "tsgw.mjs"), "--version"], { encoding: "utf8", timeout: 30000 }).stdout;
  const past = new Date(Date.now() - 60_000);
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]);
  for (const file of [...walk(join(copy, "src")), ...walk(join(copy, "demo"))]) utimesSync(file, past, past);
  assert.match(version(), /^tsgw \S+ \(node [\d.]+, prebuilt bundle\)$/m);
  utimesSync(join(copy, "src", "version.ts"), new Date(), new Date());
  assert.match(version(), /^tsgw \S+ \(node [\d.]+\)$/m, "a source newer than the bundle: the sources run");
  writeFileSync(join(copy, "dist", "npm", "packed.txt"), "packed\n");
  assert.match(version(), /, prebuilt bundle\)$/m);
  // Bun runs its own build of the bundle, with the bytecode beside it; without that build, the one Node runs
  const onBun = () => spawnSync(join(BIN, "bun"), [join(copy, "bin", "tsgw.mjs"), "--version"], { encoding: "utf8", timeout: 30000 }).stdout;
  assert.match(onBun(), /^tsgw \S+ \(bun [\d.]+, prebuilt bundle, Bun bytecode\)$/m);
  rmSync(join(copy, "dist", "npm", "tsgw.bun.cjs"));
  assert.match(onBun(), /^tsgw \S+ \(bun [\d.]+, prebuilt bundle\)$/m);
});

test("on Node the bundle runs from V8's code cache kept beside it, one for a master and one for its workers; a cache it cannot use or write never stops a start", async () => {
  const copy = tempDir();
  for (const dir of ["bin", "dist/npm"]) cpSync(join(ROOT, dir), join(copy, dir), { recursive: true });
  for (const file of readdirSync(join(copy, "dist", "npm"))) if (file.endsWith(".v8cache")) rmSync(join(copy, "dist", "npm", file));
  cpSync(join(ROOT, "package.json"), join(copy, "package.json"));
  symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
  writeFileSync(join(copy, "dist", "npm", "packed.txt"), "packed\n");
  const caches = ["main", "worker"].map((role) => join(copy, "dist", "npm", `tsgw.cjs.${role}.v8cache`));
  const serve = (check: (server: Server) => Promise<void>) =>
    withTsgw([process.execPath, join(copy, "bin", "tsgw.mjs")], ["demo:app", "-b", "127.0.0.1:0", "-w", "1"], async (server) => {
      assert.equal((await ask(server)).text, "Hello from tsgw\n");
      await check(server);
      assert.doesNotMatch(server.logs(), /error|warning/i);
    });
  /** a cache is written a second into a process's life */
  const written = async (file: string, unlike?: string) => {
    for (let i = 0; i < 100 && (!existsSync(file) || readFileSync(file, "latin1") === unlike); i++) await sleep(100);
    const text = readFileSync(file, "latin1");
    assert.notEqual(text, unlike, `${file} was not written again`);
    return text;
  };

  await serve(async () => {
    for (const file of caches) await written(file);
  });
  const made = caches.map((file) => readFileSync(file, "latin1"));
  assert.notEqual(made[0], made[1], "the master's cache and the worker's hold different code");
  assert.match(made[0]!, /^tsgw\.cjs \d+ [\d.]+\n/, "its first line names the bundle");
  const mtimes = caches.map((file) => statSync(file).mtimeMs);
  await serve(async () => await sleep(1500));
  assert.deepEqual(caches.map((file) => statSync(file).mtimeMs), mtimes, "V8 took the caches: nothing was written again");

  // a cache V8 refuses (another Node, other flags; here garbage after the right first line) is written again
  const stamp = made[0]!.slice(0, made[0]!.indexOf("\n") + 1);
  for (const file of caches) writeFileSync(file, Buffer.from(`${stamp}${"x".repeat(4096)}`, "latin1"));
  await serve(async () => {
    for (const file of caches) await written(file, `${stamp}${"x".repeat(4096)}`);
  });
  // one a new bundle's first line does not name is passed over
  for (const file of caches) writeFileSync(file, Buffer.from(`tsgw.cjs 1 2\n${made[0]!.slice(stamp.length)}`, "latin1"));
  await serve(async () => {
    for (const file of caches) assert.match(await written(file, `tsgw.cjs 1 2\n${made[0]!.slice(stamp.length)}`), /^tsgw\.cjs \d+ [\d.]+\n/);
  });
  // a cache that cannot be read nor written (a folder in its place: as root, permissions would not stop a write)
  for (const file of caches) {
    rmSync(file);
    mkdirSync(file);
  }
  await serve(async () => await sleep(1500));
  assert.deepEqual(
    readdirSync(join(copy, "dist", "npm")).sort(),
    ["packed.txt", "tsgw.bun.cjs", "tsgw.bun.cjs.jsc", "tsgw.cjs", ...caches.map((f) => f.slice(f.lastIndexOf("/") + 1))].sort(),
    "no partial file is left",
  );
});

test("deno task serve runs src/cli.ts on Deno", () => {
  const r = spawnSync("deno", ["task", "-q", "serve", "--version"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH, NO_COLOR: "1" },
    timeout: 30000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tsgw \d+\.\d+\.\d+ \(deno /);
});

test("the JSR package @tsgw/cli passes deno publish --dry-run", () => {
  const r = spawnSync("deno", ["publish", "--dry-run", "--allow-dirty", "--allow-slow-types"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, PATH, NO_COLOR: "1" },
    timeout: 60000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr + r.stdout, /Success Dry run complete/);
});

/** A folder holding apps in every module format that import a package installed next to them. */
function appsWithOwnDependency(): string {
  const dir = tempDir();
  cpSync(join(ROOT, "node_modules", "hono"), join(dir, "node_modules", "hono"), { recursive: true });
  writeFileSync(
    join(dir, "ts-app.ts"),
    `import { Hono } from "hono";\nconst app: Hono = new Hono();\napp.get("/", (c) => c.text("ts"));\nexport default app;\n`,
  );
  writeFileSync(join(dir, "esm-app.mjs"), `import { Hono } from "hono";\nexport default new Hono().get("/", (c) => c.text("esm"));\n`);
  writeFileSync(join(dir, "cjs-app.cjs"), `const { Hono } = require("hono");\nmodule.exports = new Hono().get("/", (c) => c.text("cjs"));\n`);
  return dir;
}

const BINARIES: [string, string, RegExp][] = [
  ["dist/tsgw", BINARY, /^tsgw \d+\.\d+\.\d+ \(bun [\d.]+, standalone binary: bun build --compile\)$/],
  ["dist/tsgw-node", NODE_BINARY, /^tsgw \d+\.\d+\.\d+ \(node [\d.]+, standalone binary: node single executable\)$/],
];

for (const [name, binary, version] of BINARIES) {
  describe(`standalone ${name}`, () => {
    test("--version names the runtime inside and how it was built", async () => {
      const r = await runTsgw([binary], ["--version"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.trim(), version);
    });

    test("serves apps that import their own node_modules packages, workers included, with no node, bun or deno on PATH", async () => {
      const dir = appsWithOwnDependency();
      for (const [app, body] of [["ts-app", "ts"], ["esm-app.mjs", "esm"], ["cjs-app.cjs", "cjs"]] as const) {
        const server = await startTsgw([binary], [app, "-b", "127.0.0.1:0", "-w", "2"], { cwd: dir, env: { PATH: "/nonexistent" } });
        try {
          assert.equal((await ask(server)).text, body);
        } finally {
          assert.equal(await server.stop(), 0);
        }
      }
    });

    test("compiles .tsx and .jsx apps as their project's tsconfig.json says (JSX runtime, paths)", async () => {
      for (const [app, body] of [["page.tsx", '<h1 class="t">hello tsx</h1>'], ["pragma.jsx", "<p>hello jsx</p>"]] as const) {
        await withTsgw([binary], [app, "-b", "127.0.0.1:0", "-w", "1"], async (server) => {
          assert.equal((await ask(server)).text, body);
        }, { cwd: join(FIXTURES, "jsx"), env: { PATH: "/nonexistent" } });
      }
    });

    test("serves the bundled demo from any folder", async () => {
      await withTsgw([binary], ["demo:app", "-b", "127.0.0.1:0", "--no-master"], async (server) => {
        assert.equal((await ask(server)).text, "Hello from tsgw\n");
      }, { cwd: tempDir(), env: { PATH: "/nonexistent" } });
    });
  });
}

test("deno compile is skipped with one line when no denort base is at hand", () => {
  const r = spawnSync(process.execPath, ["--import", "jiti/register", "compile/build.ts", "--only", "deno", "--force"], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, DENORT_BIN: "", DENO_DIR: tempDir() },
    timeout: 30000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^compile: deno compile skipped: .*denort.*DENORT_BIN/m);
});

describe("npm package", () => {
  /** npm pack from a copy of the checkout, so packing (prepack builds dist/npm) never touches the tree under test. */
  function pack(dryRun: boolean): { tarball: string; files: string[] } {
    const copy = tempDir();
    for (const entry of readdirSync(ROOT)) {
      if (!["node_modules", "dist", ".git", "test", ".tmp"].includes(entry)) cpSync(join(ROOT, entry), join(copy, entry), { recursive: true });
    }
    symlinkSync(join(ROOT, "node_modules"), join(copy, "node_modules"));
    const out = tempDir();
    const r = spawnSync("npm", ["pack", "--json", "--pack-destination", out, ...(dryRun ? ["--dry-run"] : [])], {
      cwd: copy,
      encoding: "utf8",
      timeout: 60000,
    });
    assert.equal(r.status, 0, r.stderr);
    const [info] = JSON.parse(r.stdout) as { filename: string; files: { path: string }[] }[];
    return { tarball: join(out, info!.filename), files: info!.files.map((f) => f.path) };
  }

  test("the tarball ships the prebuilt entry, the sources Bun and Deno run, the demo and docs; no tests or tooling", () => {
    const { files } = pack(true);
    const entries = ["bin/tsgw.mjs", "dist/npm/tsgw.cjs", "dist/npm/tsgw.bun.cjs", "dist/npm/tsgw.bun.cjs.jsc"];
    for (const needed of [...entries, "src/cli.ts", "demo/index.ts", "package.json", "README.md"]) {
      assert.ok(files.includes(needed), `${needed} missing from the tarball`);
    }
    const junk = files.filter((f) => !/^(bin|dist\/npm|src|demo|docs)\/|^(package\.json|README\.md|deno\.json|LICENSE)$/.test(f));
    assert.deepEqual(junk, []);
  });

  test("installed in a fresh project: npx and bunx run tsgw, with a TS app and a TS config importing defineConfig", async () => {
    const { tarball } = pack(false);
    const project = tempDir();
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "fresh-project", private: true, type: "module" }));
    const install = spawnSync("npm", ["install", tarball, "--prefer-offline", "--no-audit", "--no-fund"], { cwd: project, encoding: "utf8", timeout: 120000 });
    assert.equal(install.status, 0, install.stderr);
    cpSync(join(FIXTURES, "fetch.ts"), join(project, "app.ts"));
    writeFileSync(join(project, "tsgw.config.ts"), `import { defineConfig } from "tsgw";\nexport default defineConfig({ workers: 2 });\n`);
    mkdirSync(join(project, "bin"));
    // bunx from the checkout's bun; node stays on PATH as a user would have it
    const env = { PATH: `${BIN}:${process.env.PATH}` };
    const cases: [string, Target, string[], string, string][] = [
      ["npx, bundled demo", ["npx", "--no-install", "tsgw"], ["demo:app"], "Hello from tsgw\n", "node"],
      ["npx, TS app + TS config", ["npx", "--no-install", "tsgw"], ["-c", "tsgw.config.ts", "app"], "hello world", "node"],
      ["bunx --bun, TS app + TS config", [join(BIN, "bunx"), "--bun", "tsgw"], ["-c", "tsgw.config.ts", "app"], "hello world", "bun"],
    ];
    for (const [what, cmd, args, body, runtime] of cases) {
      const server = await startTsgw(cmd, [...args, "-b", "127.0.0.1:0"], { cwd: project, env, timeoutMs: 40000 });
      try {
        assert.equal((await ask(server)).text, body, what);
        assert.match(server.logs(), new RegExp(`Starting tsgw \\S+ on ${runtime} `), what);
      } finally {
        // npx and bunx do not pass signals on: stop the master they started, then they exit
        process.kill(Number(/Listening at: \S+ \((\d+)\)/.exec(server.logs())![1]), "SIGTERM");
        await server.stop();
      }
    }
    const plainBunx = await runTsgw([join(BIN, "bunx"), "tsgw"], ["--version"], { cwd: project, env });
    assert.equal(plainBunx.code, 0, plainBunx.stderr);
    // bunx follows the bin's `#!/usr/bin/env node` when node is installed; --bun picks Bun (README)
    assert.match(plainBunx.stdout, /^tsgw \d+\.\d+\.\d+ \(node [\d.]+, prebuilt bundle\)/, "an installed package runs its bundle");
    const bunxBun = await runTsgw([join(BIN, "bunx"), "--bun", "tsgw"], ["--version"], { cwd: project, env });
    assert.match(bunxBun.stdout, /^tsgw \d+\.\d+\.\d+ \(bun [\d.]+, prebuilt bundle, Bun bytecode\)/, "on Bun, the bundle built for Bun");
  });
});
