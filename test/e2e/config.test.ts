/** Config sources on every runtime: INI, TS config, TSGW_CMD_ARGS, precedence, --print-config, --check-config. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ask, engineOf, FIXTURES, oneLine, ROOT, RUNTIMES, runTsgw, startTsgw, tempDir, withTsgw } from "../helpers/tsgw.ts";

function iniFile(body: string): string {
  const dir = tempDir();
  const file = join(dir, "app.ini");
  writeFileSync(file, body);
  return file;
}

for (const rt of RUNTIMES) {
  describe(`config on ${rt}`, () => {
    test("INI: [tsgw] section, module, %d, repeated env keys, comments", async () => {
      const dir = tempDir();
      writeFileSync(join(dir, "app.ts"), `export default (req: Request) => new Response(process.env.A + "," + process.env.B + "," + process.cwd());\n`);
      writeFileSync(
        join(dir, "app.ini"),
        [
          "; an operator's file",
          "[tsgw]",
          "chdir = %d",
          "module = app",
          "# listen anywhere on loopback",
          "http = 127.0.0.1:0",
          "env = A=one",
          "env = B=two",
          "",
        ].join("\n"),
      );
      await withTsgw(rt, ["--ini", join(dir, "app.ini")], async (server) => {
        assert.equal((await ask(server)).text, `one,two,${dir}`);
      });
    });

    test("INI: [uwsgi] section is read, uWSGI-only options warn, %(key) expands", async () => {
      const file = iniFile(
        [
          "[uwsgi]",
          `base = ${FIXTURES}`,
          "module = %(base)/fetch",
          "http = 127.0.0.1:0",
          "master = true",
          "processes = 1",
          "plugins = python3",
          "vacuum = true",
          "die-on-term = true",
        ].join("\n"),
      );
      // "base" is no tsgw setting but a placeholder used as %(base), as uWSGI allows
      const r = await runTsgw(rt, ["--ini", file, "--check-config"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /app\.ini:7: uWSGI option "plugins" has no meaning in tsgw; ignored/);
      assert.match(r.stderr, /app\.ini:8: vacuum has no effect/);
    });

    test("INI: app.ini:section picks another section", async () => {
      const file = iniFile(
        ["[tsgw]", "workers = lots", "", "[staging]", `module = ${FIXTURES}/fetch`, "http = 127.0.0.1:0", "env = GREETING=staging"].join("\n"),
      );
      const server = await startTsgw(rt, ["--ini", `${file}:staging`]);
      try {
        assert.equal((await ask(server)).text, "hello staging");
      } finally {
        await server.stop();
      }
    });

    test("TS config: defineConfig with camelCase keys and computed values", async () => {
      const dir = tempDir();
      writeFileSync(
        join(dir, "tsgw.config.ts"),
        [
          `import { defineConfig } from ${JSON.stringify(join(ROOT, "src", "index.ts"))};`,
          `const greeting: string = ["from", "ts"].join("-");`,
          "export default defineConfig({",
          `  app: ${JSON.stringify(join(FIXTURES, "fetch"))},`,
          `  bind: ["127.0.0.1:0"],`,
          "  env: [`GREETING=${greeting}`],",
          "  gracefulTimeout: 5,",
          "});",
        ].join("\n"),
      );
      const server = await startTsgw(rt, ["-c", join(dir, "tsgw.config.ts")]);
      try {
        assert.equal((await ask(server)).text, "hello from-ts");
      } finally {
        await server.stop();
      }
    });

    test("TSGW_CMD_ARGS supplies settings", async () => {
      await withTsgw(rt, [], async (server) => {
        assert.equal((await ask(server)).text, "hello from env");
      }, { env: { TSGW_CMD_ARGS: `test/fixtures/fetch -b 127.0.0.1:0 --env "GREETING=from env"` } });
    });

    test("precedence: default < WEB_CONCURRENCY < INI < TSGW_CMD_ARGS < command line", async () => {
      const file = iniFile(
        ["[tsgw]", "module = test/fixtures/fetch", "env = GREETING=ini", "graceful-timeout = 7", "log-level = warning", "interface = node"].join("\n"),
      );
      const r = await runTsgw(rt, ["--ini", file, "--print-config", "--env", "GREETING=cli", "--interface", "fetch"], {
        env: { TSGW_CMD_ARGS: "--env GREETING=cmdargs --log-level error --interface auto", WEB_CONCURRENCY: "1" },
      });
      assert.equal(r.code, 0, r.stderr);
      const line = (name: string) => r.stdout.split("\n").find((l) => l.startsWith(name + " "))!;
      assert.match(line("env"), /= GREETING=cli\s+# command line$/);
      assert.match(line("interface"), /= fetch\s+# command line$/);
      assert.match(line("log-level"), /= error\s+# TSGW_CMD_ARGS$/);
      assert.match(line("graceful-timeout"), /= 7\s+# .*app\.ini:4$/);
      assert.match(line("workers"), /= 1\s+# env WEB_CONCURRENCY$/);
      assert.match(line("timeout"), /= 30\s+# default$/);
      assert.match(line("bind"), /= 127\.0\.0\.1:8000\s+# default$/);
    });

    test("PORT set and no listener given: served on 0.0.0.0:$PORT (Gunicorn's rule); a PORT that is no port is one line", async () => {
      await withTsgw(rt, ["test/fixtures/fetch"], async (server) => {
        assert.match(server.logs(), /Listening at: http:\/\/0\.0\.0\.0:\d+ /);
        assert.equal((await ask(server)).text, "hello world");
      }, { env: { PORT: "0" } });
      const r = await runTsgw(rt, ["test/fixtures/fetch"], { env: { PORT: "eighty" } });
      assert.equal(r.code, 1);
      assert.equal(oneLine(r.stderr), 'env PORT: "eighty" is not a port number (0-65535)');
    });

    test("--print-config lists every setting with value and source", async () => {
      const r = await runTsgw(rt, ["demo:app", "--print-config", "-b", ":9000", "-b", "unix:/tmp/x.sock"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^app\s+= demo:app\s+# command line$/m);
      assert.match(r.stdout, /^bind\s+= :9000, unix:\/tmp\/x\.sock\s+# command line$/m);
      assert.match(r.stdout, /^chmod-socket\s+= 660\s+# default$/m);
      assert.match(r.stdout, /^workers\s+= 1\s+# default$/m);
    });

    test("--check-config loads the app and exits 0 without serving", async () => {
      const r = await runTsgw(rt, ["test/fixtures/hono:app", "--check-config"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /configuration OK/);
      assert.doesNotMatch(r.stderr, /Listening at/);
    });

    test("--check-config fails (exit 4) when the app cannot load", async () => {
      const r = await runTsgw(rt, ["test/fixtures/throws", "--check-config"]);
      assert.equal(r.code, 4);
    });

    test("demo:app falls back to the bundled demo outside the checkout", async () => {
      const dir = tempDir();
      await withTsgw(rt, ["demo:app", "-b", "127.0.0.1:0"], async (server) => {
        assert.equal((await ask(server)).text, "Hello from tsgw\n");
        assert.match(server.logs(), /serving the demo bundled with tsgw/);
      }, { cwd: dir });
    });

    test("--version and --help", async () => {
      const v = await runTsgw(rt, ["--version"]);
      assert.equal(v.code, 0);
      assert.match(v.stdout, new RegExp(`^tsgw \\d+\\.\\d+\\.\\d+ \\(${engineOf(rt)} `));
      const h = await runTsgw(rt, ["--help"]);
      assert.equal(h.code, 0);
      for (const section of ["Server socket:", "Worker processes:", "Logging:", "Process management:", "Config:"]) {
        assert.ok(h.stdout.includes(section), section);
      }
    });
  });
}
