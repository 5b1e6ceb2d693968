/** The settings table and the loaders built from it. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseAddress } from "../../src/config/address.ts";
import { parseArgv } from "../../src/config/cli.ts";
import { splitWords } from "../../src/config/env.ts";
import { loadIni, splitIniSpec } from "../../src/config/ini.ts";
import { resolveConfig } from "../../src/config/load.ts";
import { renderHelp, renderSettingsDoc } from "../../src/config/render.ts";
import { cliFlags, iniKeys, type SettingDef, SETTINGS } from "../../src/config/settings.ts";
import { VERSION } from "../../src/version.ts";
import { ROOT, tempDir } from "../helpers/tsgw.ts";

const ALL = SETTINGS as readonly SettingDef[];
const values = (argv: string[]) => Object.fromEntries(parseArgv(argv, "cli").entries.map((e) => [e.setting.name, e.value]));

describe("settings table", () => {
  test("no CLI flag or INI key belongs to two settings", () => {
    for (const keysOf of [cliFlags, iniKeys]) {
      const seen = new Map<string, string>();
      for (const s of ALL) {
        for (const k of keysOf(s)) {
          assert.equal(seen.get(k), undefined, `${k} is used by ${seen.get(k)} and ${s.name}`);
          seen.set(k, s.name);
        }
      }
    }
  });

  test("every setting Gunicorn and uWSGI operators expect is in the table", () => {
    const names = new Set(ALL.map((s) => s.name));
    for (
      const n of [
        "workers",
        "timeout",
        "graceful-timeout",
        "max-requests",
        "max-requests-jitter",
        "reload-on-rss",
        "pidfile",
        "daemonize",
        "socket",
        "http-socket",
        "chmod-socket",
        "buffer-size",
        "access-log",
        "error-log",
        "log-level",
        "env",
        "chdir",
        "bind",
        "master",
        "vacuum",
        "die-on-term",
        "home",
        "user",
        "group",
      ]
    ) {
      assert.ok(names.has(n), n);
    }
  });

  test("docs/settings.md is generated from the table and up to date (npm run docs)", () => {
    assert.equal(readFileSync(join(ROOT, "docs", "settings.md"), "utf8"), renderSettingsDoc());
  });

  test("--help names every command-line setting", () => {
    const help = renderHelp(VERSION);
    for (const s of ALL) if (!s.sources || s.sources.includes("cli")) assert.ok(help.includes(`--${s.name}`), s.name);
  });

  test("package.json, deno.json and src/version.ts agree on the version", () => {
    for (const f of ["package.json", "deno.json"]) assert.equal(JSON.parse(readFileSync(join(ROOT, f), "utf8")).version, VERSION, f);
  });
});

describe("command line", () => {
  test("Gunicorn forms all parse: --workers=3, -w 3, -w3", () => {
    assert.equal(values(["--workers=3"]).workers, 3);
    assert.equal(values(["-w", "3"]).workers, 3);
    assert.equal(values(["-w3"]).workers, 3);
    assert.equal(values(["--processes", "2"]).workers, 2);
  });

  test("-w auto is one per CPU", async () => {
    const { availableParallelism } = await import("node:os");
    assert.equal(values(["-w", "auto"]).workers, availableParallelism());
  });

  test("repeated list flags accumulate; --http is bind", () => {
    const layer = parseArgv(["-b", "a:1", "--bind=b:2", "--http", ":3"], "cli");
    assert.deepEqual(layer.entries.map((e) => e.value), [["a:1"], ["b:2"], [":3"]]);
  });

  test("booleans: --no-master, --master=false, --daemon", () => {
    assert.equal(values(["--no-master"]).master, false);
    assert.equal(values(["--master=no"]).master, false);
    assert.equal(values(["--master"]).master, true);
  });

  test("positional APP, also after --, and --file (uWSGI)", () => {
    assert.equal(values(["demo:app"]).app, "demo:app");
    assert.equal(values(["--", "-odd:app"]).app, "-odd:app");
    assert.equal(values(["--file", "demo/app.ts"]).app, "demo/app.ts");
  });

  test("unknown flags suggest the nearest", () => {
    assert.throws(() => parseArgv(["--graceful-timout", "3"], "cli"), /unknown option --graceful-timout \(did you mean --graceful-timeout\?\)/);
  });

  test("TSGW_CMD_ARGS splits like a shell", () => {
    assert.deepEqual(splitWords(`a "b c" 'd e' f\\ g ""`, "x"), ["a", "b c", "d e", "f g", ""]);
    assert.throws(() => splitWords(`a "b`, "TSGW_CMD_ARGS"), /TSGW_CMD_ARGS: unclosed " quote/);
  });
});

describe("INI files", () => {
  function ini(text: string, spec = ""): ReturnType<typeof loadIni> {
    const dir = tempDir();
    writeFileSync(join(dir, "app.ini"), text);
    return loadIni(join(dir, "app.ini") + spec, dir);
  }
  const byName = (layer: ReturnType<typeof loadIni>) => Object.fromEntries(layer.entries.map((e) => [e.setting.name, e]));

  test("booleans in every spelling", () => {
    for (
      const [word, expected] of [["true", true], ["True", true], ["1", true], ["yes", true], ["on", true], ["false", false], ["0", false], ["no", false], [
        "off",
        false,
      ]] as const
    ) {
      assert.equal(byName(ini(`[tsgw]\nmaster = ${word}\n`)).master!.value, expected, word);
    }
  });

  test("snake_case keys, uWSGI aliases, comments, line numbers", () => {
    const layer = byName(ini("; c\n# c\n[tsgw]\ngraceful_timeout = 5\nprocesses = 1\nharakiri = 9\n"));
    assert.equal(layer["graceful-timeout"]!.value, 5);
    assert.match(layer["graceful-timeout"]!.where, /app\.ini:4$/);
    assert.equal(layer.workers!.value, 1);
    assert.equal(layer.timeout!.value, 9);
  });

  test("threads, which uWSGI files carry, is tsgw's serving threads per worker", () => {
    const layer = ini("[uwsgi]\nprocesses = 2\nthreads = 4\n");
    assert.equal(byName(layer).threads!.value, 4);
    assert.equal(layer.warnings?.length ?? 0, 0);
  });

  test("repeated keys accumulate, each with its own line", () => {
    const layer = ini("[tsgw]\nsocket = /a.sock\nenv = A=1\nsocket = /b.sock\n");
    const sockets = layer.entries.filter((e) => e.setting.name === "socket");
    assert.deepEqual(sockets.map((e) => e.value), [["/a.sock"], ["/b.sock"]]);
    assert.deepEqual(sockets.map((e) => e.where.split(":").at(-1)), ["2", "4"]);
  });

  test("%d, %n, %(key) and $(ENV) expand", () => {
    process.env.TSGW_TEST_VAR = "fromenv";
    const dir = tempDir();
    writeFileSync(join(dir, "site.ini"), "[tsgw]\nbase = /srv\nchdir = %(base)/app\npidfile = %d%n.pid\nenv = X=$(TSGW_TEST_VAR)\n");
    const layer = byName(loadIni(join(dir, "site.ini"), dir));
    assert.equal(layer.chdir!.value, "/srv/app");
    assert.equal(layer.pidfile!.value, `${dir}/site.pid`);
    assert.deepEqual(layer.env!.value, ["X=fromenv"]);
  });

  test("a %(key) loop is an error, not a hang", () => {
    assert.throws(() => ini("[tsgw]\nchdir = %(pidfile)\npidfile = %(chdir)\n"), /nest too deeply/);
  });

  test("file:section specs", () => {
    assert.deepEqual(splitIniSpec("app.ini:prod"), { file: "app.ini", section: "prod" });
    assert.deepEqual(splitIniSpec("/etc/app.ini"), { file: "/etc/app.ini" });
  });

  test("a key with no value is an error naming the line", () => {
    assert.throws(() => ini("[tsgw]\n\nbind\n"), /app\.ini:3: bind needs a value/);
  });
});

describe("addresses", () => {
  test("forms", () => {
    assert.deepEqual(parseAddress("127.0.0.1:8000", "/"), { kind: "tcp", host: "127.0.0.1", port: 8000 });
    assert.deepEqual(parseAddress(":9000", "/"), { kind: "tcp", host: "0.0.0.0", port: 9000 });
    assert.deepEqual(parseAddress("[::1]:8080", "/"), { kind: "tcp", host: "::1", port: 8080 });
    assert.deepEqual(parseAddress("localhost", "/"), { kind: "tcp", host: "localhost", port: 8000 });
    assert.deepEqual(parseAddress("unix:/run/app.sock", "/"), { kind: "unix", path: "/run/app.sock" });
    assert.deepEqual(parseAddress("unix:app.sock", "/srv"), { kind: "unix", path: "/srv/app.sock" });
  });

  test("bad ones say why", () => {
    assert.match(parseAddress("::1:80", "/") as string, /IPv6 addresses in brackets/);
    assert.match(parseAddress("host:http", "/") as string, /invalid port "http"/);
    assert.match(parseAddress("unix:", "/") as string, /no socket path/);
    assert.match(parseAddress("a b:1", "/") as string, /invalid host/);
  });
});

describe("resolving", () => {
  const base = { cwd: ROOT, importModule: (f: string) => import(f) };

  test("no listener at all means 127.0.0.1:8000", async () => {
    const r = await resolveConfig({ ...base, argv: ["demo:app"], env: {} });
    assert.deepEqual(r.listeners, [{ protocol: "http", address: { kind: "tcp", host: "127.0.0.1", port: 8000 } }]);
  });

  test("PORT in the environment (platforms that assign the port): 0.0.0.0:$PORT when no listener is given, as Gunicorn does", async () => {
    const r = await resolveConfig({ ...base, argv: ["demo:app"], env: { PORT: "5000" } });
    assert.deepEqual(r.listeners, [{ protocol: "http", address: { kind: "tcp", host: "0.0.0.0", port: 5000 } }]);
    assert.equal(r.sources.bind, "env PORT");
    // any listener given wins, a uwsgi socket alone too
    const given = await resolveConfig({ ...base, argv: ["demo:app", "-b", "127.0.0.1:7000"], env: { PORT: "5000" } });
    assert.deepEqual(given.listeners.map((l) => l.address), [{ kind: "tcp", host: "127.0.0.1", port: 7000 }]);
    const uwsgi = await resolveConfig({ ...base, argv: ["demo:app", "--socket", "/tmp/x.sock"], env: { PORT: "5000" } });
    assert.deepEqual(uwsgi.listeners.map((l) => l.protocol), ["uwsgi"]);
    for (const bad of ["http", "70000", "-1", "80 81"]) {
      const err = await resolveConfig({ ...base, argv: ["demo:app"], env: { PORT: bad } }).catch((e: Error) => e);
      assert.ok(err instanceof Error);
      assert.equal(err.message, `env PORT: ${JSON.stringify(bad)} is not a port number (0-65535)`);
    }
  });

  test("a higher source replaces a list wholesale", async () => {
    const r = await resolveConfig({ ...base, argv: ["demo:app", "-b", ":1"], env: { TSGW_CMD_ARGS: "-b :2 -b :3" } });
    assert.deepEqual(r.config.bind, [":1"]);
    assert.equal(r.sources.bind, "command line");
  });

  test("--help wins over other mistakes", async () => {
    const r = await resolveConfig({ ...base, argv: ["--help", "-w", "lots"], env: {} }).catch((e) => e);
    assert.ok(r instanceof Error); // a bad value is still reported while parsing
    const ok = await resolveConfig({ ...base, argv: ["--help", "--timeout", "5"], env: {} });
    assert.equal(ok.action, "help");
  });

  test("settings with no effect warn; home explains itself", async () => {
    const r = await resolveConfig({ ...base, argv: ["demo:app", "--home", "/venv"], env: {} });
    assert.match(r.warnings.join("\n"), /home has no effect: a Python virtualenv has no meaning/);
  });
});
