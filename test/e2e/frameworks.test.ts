/**
 * The recipes of docs/frameworks.md, each with the real framework from npm:
 * NestJS, Elysia, SvelteKit's adapter-node build, Nitro's presets, Astro's
 * @astrojs/node (middleware and standalone), React Router's server build
 * and a Next.js custom server (each built here in seconds: into a temporary
 * folder where the output is self-contained, else into the fixture's
 * git-ignored .build/ or .next/, since it imports the checkout's
 * node_modules), on every runtime. Express, Fastify, Koa and Hono are in
 * apps.test.ts and serve.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { ask, engineOf, FIXTURES, oneLine, ROOT, RUNTIMES, runTsgw, tempDir, withTsgw } from "../helpers/tsgw.ts";

const LOCAL = ["-b", "127.0.0.1:0"];
const FRAMEWORKS = join(FIXTURES, "frameworks");
const NODE_MODULES = join(ROOT, "node_modules");
const NITRO_PRESETS = ["node-server", "node-listener", "bun", "deno-server"] as const;

/** Run a framework's build in its fixture folder, output to `out`; a failed build fails the file with its output. */
function build(fixture: string, args: string[], out: string, env: Record<string, string> = {}): void {
  const r = spawnSync(process.execPath, args, {
    cwd: join(FRAMEWORKS, fixture),
    env: { ...process.env, ...env, ...(out ? { TSGW_BUILD_OUT: out } : {}) },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `${fixture} build failed:\n${r.stdout}\n${r.stderr}`);
}

const built = { sveltekit: "", nitro: {} as Record<(typeof NITRO_PRESETS)[number], string> };
before(() => {
  built.sveltekit = tempDir();
  build("sveltekit", [join(NODE_MODULES, "vite", "bin", "vite.js"), "build"], built.sveltekit);
  for (const preset of NITRO_PRESETS) {
    built.nitro[preset] = tempDir();
    build("nitro", [join(NODE_MODULES, "nitropack", "dist", "cli", "index.mjs"), "build"], built.nitro[preset], { NITRO_PRESET: preset });
  }
  for (const mode of ["middleware", "standalone"]) build("astro", [join(NODE_MODULES, "astro", "astro.js"), "build"], "", { ASTRO_MODE: mode });
  build("react-router", [join(NODE_MODULES, "@react-router", "dev", "bin.js"), "build"], "");
  build("next", [join(NODE_MODULES, "next", "dist", "bin", "next"), "build"], "", { NEXT_TELEMETRY_DISABLED: "1" });
});

for (const rt of RUNTIMES) {
  const engine = engineOf(rt);
  describe(`frameworks on ${rt}`, () => {
    test("NestJS: main.ts's bootstrap() (app.listen, not awaited) is adopted; decorators and @Param, @Body work", async () => {
      await withTsgw(rt, ["main.ts", ...LOCAL, "-w", "2"], async (server) => {
        assert.equal((await ask(server)).text, "nest serves");
        assert.deepEqual(JSON.parse((await ask(server, { path: "/items/7" })).text), { id: "7" });
        const echo = await ask(server, { method: "POST", path: "/echo", headers: { "content-type": "application/json" }, body: '{"n":1}' });
        assert.deepEqual(JSON.parse(echo.text), { n: 1 });
      }, { cwd: join(FRAMEWORKS, "nest") });
    });

    test("NestJS: an exported NestFactory.create() is made ready (init) and served", async () => {
      await withTsgw(rt, ["instance.ts", ...LOCAL], async (server) => {
        assert.deepEqual(JSON.parse((await ask(server, { path: "/items/8" })).text), { id: "8" });
        assert.match(server.logs(), /NestJS application: init\(\), then its HTTP adapter's instance/);
      }, { cwd: join(FRAMEWORKS, "nest") });
    });

    test("Elysia: an exported app on every runtime", async () => {
      await withTsgw(rt, ["app.ts", ...LOCAL], async (server) => {
        assert.equal((await ask(server)).text, "elysia serves");
        assert.deepEqual(JSON.parse((await ask(server, { path: "/items/3" })).text), { id: "3" });
        const echo = await ask(server, { method: "POST", path: "/echo", headers: { "content-type": "application/json" }, body: '{"e":1}' });
        assert.deepEqual(JSON.parse(echo.text), { e: 1 });
      }, { cwd: join(FRAMEWORKS, "elysia") });
    });

    test("Elysia: .listen() is adopted on Bun; elsewhere Elysia itself refuses, and the one line says so", async () => {
      if (engine === "bun") {
        await withTsgw(rt, ["listen.ts", ...LOCAL], async (server) => {
          assert.equal((await ask(server)).text, "elysia listens");
          assert.deepEqual(JSON.parse((await ask(server, { path: "/port" })).text), { port: server.port });
        }, { cwd: join(FRAMEWORKS, "elysia") });
      } else {
        const r = await runTsgw(rt, ["listen.ts", "--check-config"], { cwd: join(FRAMEWORKS, "elysia") });
        assert.equal(r.code, 4);
        assert.match(oneLine(r.stderr), /listen\.ts failed to load: WebStandard does not support listen/);
      }
    });

    test("SvelteKit adapter-node: build/index.js (it listens) is adopted, with ORIGIN; its client assets and POST endpoints work", async () => {
      await withTsgw(rt, ["build/index.js", ...LOCAL, "-w", "2"], async (server) => {
        const page = await ask(server);
        assert.equal(page.status, 200);
        assert.match(page.text, /<h1>svelte serves<\/h1>/);
        const asset = /\/_app\/immutable\/[^"]+\.js/.exec(page.text)?.[0];
        assert.ok(asset, page.text);
        assert.equal((await ask(server, { path: asset })).status, 200);
        const post = await ask(server, { method: "POST", path: "/api", headers: { "content-type": "application/json" }, body: "[1]" });
        assert.equal(post.text, "posted [1]");
      }, { cwd: built.sveltekit, env: { ORIGIN: "http://127.0.0.1" } });
    });

    test("SvelteKit adapter-node: build/handler.js:handler is a Node listener; its assets via --static-map", async () => {
      await withTsgw(
        rt,
        ["build/handler.js:handler", ...LOCAL, "--static-map", `/_app=${join(built.sveltekit, "build", "client", "_app")}`],
        async (server) => {
          const page = await ask(server);
          assert.match(page.text, /<h1>svelte serves<\/h1>/);
          const asset = /\/_app\/immutable\/[^"]+\.js/.exec(page.text)![0];
          const r = await ask(server, { path: asset, headers: { "accept-encoding": "br" } });
          assert.equal(r.status, 200);
          assert.equal(r.headers["content-encoding"], "br"); // SvelteKit's precompressed .br, sent by tsgw
        },
        { cwd: built.sveltekit },
      );
    });

    test("Nitro node-server preset (.output/server/index.mjs listens) and node-listener (its `listener` export)", async () => {
      await withTsgw(rt, [".output/server/index.mjs", ...LOCAL], async (server) => {
        assert.equal((await ask(server)).text, "nitro serves");
        assert.equal((await ask(server, { method: "POST", path: "/echo", body: "x" })).text, "posted x");
      }, { cwd: built.nitro["node-server"] });
      await withTsgw(rt, [".output/server/index.mjs:listener", ...LOCAL], async (server) => {
        assert.equal((await ask(server)).text, "nitro serves");
        assert.equal((await ask(server, { method: "POST", path: "/echo", body: "y" })).text, "posted y");
      }, { cwd: built.nitro["node-listener"] });
    });

    test("Astro @astrojs/node: the middleware `handler` ((...args) => [req, res]) with --static-map, and standalone's entry (it listens)", async () => {
      const astro = join(FRAMEWORKS, "astro", ".build");
      await withTsgw(
        rt,
        [".build/middleware/server/entry.mjs:handler", ...LOCAL, "--static-map", `/=${join(astro, "middleware", "client")}`],
        async (server) => {
          assert.match((await ask(server)).text, /<h1>astro serves<\/h1>/);
          const post = await ask(server, { method: "POST", path: "/api", headers: { "content-type": "application/json" }, body: "[2]" }); // a form-like type would meet Astro's origin check
          assert.equal(post.text, "posted [2]");
          assert.match(server.logs(), /loaded as Node listener/);
        },
        { cwd: join(FRAMEWORKS, "astro") },
      );
      await withTsgw(rt, [".build/standalone/server/entry.mjs", ...LOCAL], async (server) => {
        assert.match((await ask(server)).text, /<h1>astro serves<\/h1>/);
        assert.match(server.logs(), /the server it started while loading/);
      }, { cwd: join(FRAMEWORKS, "astro") });
    });

    test("React Router 7: createRequestHandler(build) as a fetch handler, its assets via --static-map", async () => {
      await withTsgw(rt, ["server.mjs", ...LOCAL, "--static-map", "/assets=.build/client/assets"], async (server) => {
        const page = await ask(server);
        assert.match(page.text, /<h1>react router serves<\/h1>/);
        const asset = /\/assets\/[^"]+\.js/.exec(page.text)![0];
        assert.equal((await ask(server, { path: asset })).status, 200);
        assert.equal((await ask(server, { method: "POST", path: "/api", body: "r" })).text, "posted r");
      }, { cwd: join(FRAMEWORKS, "react-router") });
    });

    test("Next.js: the documented custom server (listen after app.prepare()) is adopted; pages and route handlers", async () => {
      await withTsgw(rt, ["server.mjs", ...LOCAL], async (server) => {
        const page = await ask(server);
        assert.equal(page.status, 200);
        assert.match(page.text, /next serves/);
        assert.equal((await ask(server, { method: "POST", path: "/api", body: "n" })).text, "posted n");
      }, { cwd: join(FRAMEWORKS, "next"), env: { NEXT_TELEMETRY_DISABLED: "1" } });
    });

    test("Nitro's own runtime presets: bun (Bun.serve) on Bun, deno-server (Deno.serve) on Deno", async () => {
      const preset = engine === "bun" ? "bun" : engine === "deno" ? "deno-server" : undefined;
      if (!preset) return; // Node has no preset of its own beyond node-server (above)
      await withTsgw(rt, [".output/server/index.mjs", ...LOCAL], async (server) => {
        assert.equal((await ask(server)).text, "nitro serves");
        assert.match(server.logs(), engine === "bun" ? /with Bun\.serve\(\)/ : /with Deno\.serve\(\)/);
      }, { cwd: built.nitro[preset] });
    });
  });
}
