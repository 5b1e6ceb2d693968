/** Every bad input with handling: one line naming the problem (file:line for configs), the right exit code, no stack. */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { oneLine, RUNTIMES, runTsgw, tempDir } from "../helpers/tsgw.ts";

function file(name: string, body: string): string {
  const path = join(tempDir(), name);
  writeFileSync(path, body);
  return path;
}

interface Case {
  name: string;
  args: () => string[] | Promise<string[]>;
  code: number;
  message: RegExp;
  env?: Record<string, string>;
}

const CASES: Case[] = [
  { name: "unknown flag", args: () => ["demo:app", "--wrkers", "2"], code: 1, message: /^command line: unknown option --wrkers \(did you mean --workers\?\)/ },
  { name: "flag without its value", args: () => ["demo:app", "--bind"], code: 1, message: /option --bind needs a value/ },
  { name: "two APPs", args: () => ["demo:app", "other:app"], code: 1, message: /unexpected argument "other:app"/ },
  {
    name: "wrong type on the command line",
    args: () => ["demo:app", "-w", "lots"],
    code: 1,
    message: /^command line: workers: expected a whole number or "auto", got "lots"$/,
  },
  {
    name: "bad enum value",
    args: () => ["demo:app", "--interface", "wsgi"],
    code: 1,
    message: /interface: expected one of auto, fetch, node, listen, got "wsgi"/,
  },
  {
    name: "a --static-map without /PREFIX=DIR",
    args: () => ["demo:app", "--static-map", "assets=public"],
    code: 1,
    message: /^command line: static-map: expected \/PREFIX=DIR, got "assets=public"$/,
  },
  {
    name: "unknown INI key, with a suggestion",
    args: () => ["--ini", file("app.ini", "[tsgw]\nmodule = demo\n\nwrkers = 2\n")],
    code: 1,
    message: /app\.ini:4: unknown key "wrkers" \(did you mean "workers"\?\)$/,
  },
  {
    name: "wrong type in INI",
    args: () => ["--ini", file("app.ini", "[tsgw]\nmodule = demo\nworkers = lots\n")],
    code: 1,
    message: /app\.ini:3: workers: expected a whole number or "auto", got "lots"$/,
  },
  {
    name: "missing INI section",
    args: () => ["--ini", file("app.ini", "[tsgw]\nmodule = demo\n") + ":production"],
    code: 1,
    message: /app\.ini: no section \[production\]; it has \[tsgw\]$/,
  },
  {
    name: "INI file with neither [tsgw] nor [uwsgi]",
    args: () => ["--ini", file("app.ini", "[other]\nx = 1\n")],
    code: 1,
    message: /no section \[tsgw\] or \[uwsgi\]; it has \[other\]/,
  },
  {
    name: "unreadable INI file",
    args: () => ["--ini", "/nonexistent/app.ini"],
    code: 1,
    message: /^\/nonexistent\/app\.ini: cannot read INI file: no such file$/,
  },
  { name: "unreadable TS config", args: () => ["-c", "/nonexistent/tsgw.config.ts"], code: 1, message: /cannot read config module: no such file/ },
  {
    name: "unknown TS config key, with a suggestion",
    args: () => ["-c", file("tsgw.config.ts", "export default {\n  app: 'demo',\n  wrokers: 2,\n};\n")],
    code: 1,
    message: /tsgw\.config\.ts:3: unknown key "wrokers" \(did you mean "workers"\?\)$/,
  },
  {
    name: "wrong type in TS config",
    args: () => ["-c", file("tsgw.config.ts", "export default {\n  app: 'demo',\n  workers: 'lots',\n};\n")],
    code: 1,
    message: /tsgw\.config\.ts:3: workers: expected a whole number or "auto", got "lots"$/,
  },
  {
    name: "TS config that throws",
    args: () => ["-c", file("tsgw.config.ts", "throw new Error('no secrets');\nexport default {};\n")],
    code: 1,
    message: /config module failed to load: .*no secrets/,
  },
  { name: "both -c and --ini", args: () => ["-c", "a.ts", "--ini", "b.ini"], code: 1, message: /either -c .* or --ini, not both/ },
  { name: "bad TSGW_CMD_ARGS", args: () => ["demo:app"], env: { TSGW_CMD_ARGS: "--wrokers 3" }, code: 1, message: /^TSGW_CMD_ARGS: unknown option --wrokers/ },
  { name: "no app at all", args: () => [], code: 1, message: /no app given/ },
  { name: "APP module not found", args: () => ["nosuchmodule:app"], code: 4, message: /app module "nosuchmodule" not found in / },
  {
    name: "export NAME missing lists the exports",
    args: () => ["test/fixtures/factory:nope"],
    code: 4,
    message: /has no export "nope"; its exports: create, createAsync$/,
  },
  {
    name: "no default/app/application export",
    args: () => ["test/fixtures/shapes"],
    code: 4,
    message: /has no default export, "app" or "application"; its exports: helper, notAnApp$/,
  },
  {
    name: "--interface listen on a module that starts no server",
    args: () => ["test/fixtures/fetch", "--interface", "listen", "--timeout", "1"],
    code: 4,
    message: /fetch\.ts started no server while loading within 1s \(--interface listen\)$/,
  },
  { name: "export of an unusable shape", args: () => ["test/fixtures/shapes:notAnApp"], code: 4, message: /a number \(42\) is not an app/ },
  { name: "object without fetch or callback", args: () => ["test/fixtures/shapes:helper"], code: 4, message: /an object with keys name is not an app/ },
  { name: "factory that is not a function", args: () => ["test/fixtures/shapes:notAnApp()"], code: 4, message: /not a factory function/ },
  {
    name: "app module that throws at import",
    args: () => ["test/fixtures/throws"],
    code: 4,
    message: /app module .*test\/fixtures\/throws\.ts failed to load: database unreachable at import$/,
  },
  {
    name: "app module with a syntax error: where it is",
    args: () => [file("broken.ts", 'export default (req: Request) => { return new Response("x" ; }\n')],
    code: 4,
    message: /app module .*broken\.ts failed to load: .+ at \/.*broken\.ts:1(:\d+)?$/,
  },
  {
    // Node's ES module loader gives no location: tsgw finds it
    name: "ES module with a syntax error: where it is",
    args: () => [file("broken.mjs", 'const a = 1;\nexport default { fetch() { return new Response("x") }\n')],
    code: 4,
    message: /app module .*broken\.mjs failed to load: .+ at \/.*broken\.mjs:\d+(:\d+)?$/,
  },
  {
    name: "CommonJS module with a syntax error: where it is",
    args: () => [file("broken.cjs", "const a = 1;\nconst b = ;\nmodule.exports = () => {};\n")],
    code: 4,
    message: /app module .*broken\.cjs failed to load: .+ at \/.*broken\.cjs:2(:\d+)?$/,
  },
  { name: "bad app spec", args: () => ["demo:not-a-name"], code: 4, message: /bad app spec: "demo:not-a-name": the part after ":" must be an export name/ },
  {
    name: "bad bind address",
    args: () => ["demo:app", "-b", "127.0.0.1:99999"],
    code: 1,
    message: /bad bind address "127\.0\.0\.1:99999" has an invalid port/,
  },
  { name: "bare number as bind address", args: () => ["demo:app", "-b", "8000"], code: 1, message: /is only a number: write :8000/ },
  {
    name: "unknown user",
    args: () => ["demo:app", "-b", "127.0.0.1:0", "--user", "no-such-user-here"],
    code: 1,
    message: /cannot switch to user no-such-user-here: /,
  },
  {
    name: "a master-only setting with --no-master",
    args: () => ["demo:app", "--no-master", "--max-requests", "10"],
    code: 1,
    message: /^command line: max-requests needs the master process, but master is off \(command line\)$/,
  },
  { name: "several workers with --no-master", args: () => ["demo:app", "--no-master", "-w", "3"], code: 1, message: /several workers need the master process/ },
  { name: "bad socket address", args: () => ["demo:app", "--socket", "host:http"], code: 1, message: /bad socket address "host:http" has an invalid port/ },
  { name: "zero workers", args: () => ["demo:app", "-w", "0"], code: 1, message: /^command line: workers: must be at least 1$/ },
  { name: "bad env entry", args: () => ["demo:app", "--env", "NOEQUALS"], code: 1, message: /env: expected KEY=VALUE, got "NOEQUALS"/ },
  {
    name: "port in use",
    args: async () => {
      const holder = createServer().listen(0, "127.0.0.1").unref();
      await new Promise((r) => holder.once("listening", r));
      const port = (holder.address() as { port: number }).port;
      setTimeout(() => holder.close(), 15000).unref();
      return ["demo:app", "-b", `127.0.0.1:${port}`];
    },
    code: 1,
    message: /cannot listen on http:\/\/127\.0\.0\.1:\d+: address already in use$/,
  },
];

for (const rt of RUNTIMES) {
  describe(`bad input on ${rt}`, () => {
    for (const c of CASES) {
      test(c.name, async () => {
        const r = await runTsgw(rt, await c.args(), { env: c.env });
        assert.equal(r.code, c.code, `exit code; stderr:\n${r.stderr}`);
        assert.match(oneLine(r.stderr), c.message);
      });
    }
  });
}
