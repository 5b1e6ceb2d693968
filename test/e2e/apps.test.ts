/**
 * Real apps as their authors wrote them, on every runtime: scripts that
 * listen themselves (adopted), framework instances that must be made ready,
 * Node listeners of unusual shapes, and the runtime's own second argument.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ask, commandFor, engineOf, FIXTURES, oneLine, RUNTIMES, runTsgw, startTsgw, tempDir, waitForLog, withTsgw } from "../helpers/tsgw.ts";

const LOCAL = ["-b", "127.0.0.1:0"];
const APPS = "test/fixtures/listen";

/** Whether something accepts connections on 127.0.0.1:port (the port an app asked for must stay free). */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    sock.once("connect", () => {
      sock.destroy();
      resolve(true);
    });
    sock.once("error", () => resolve(false));
  });
}

for (const rt of RUNTIMES) {
  const engine = engineOf(rt);
  describe(`real apps on ${rt}`, () => {
    describe("scripts that listen themselves are adopted", () => {
      test("an Express script (app.listen(3000), exports nothing): served on tsgw's listener, its port left alone", async () => {
        await withTsgw(rt, [`${APPS}/express.cjs`, ...LOCAL], async (server) => {
          assert.equal((await ask(server)).text, "express listens");
          const echo = await ask(server, { method: "POST", path: "/echo", headers: { "content-type": "application/json" }, body: '{"a":1}' });
          assert.deepEqual(JSON.parse(echo.text), { a: 1 });
          const where = JSON.parse((await ask(server, { path: "/address" })).text);
          assert.deepEqual(where, { address: { address: "127.0.0.1", family: "IPv4", port: server.port }, listening: true });
          assert.equal(await listening(3000), false);
          assert.match(server.logs(), /loaded as Node listener \(the server it started while loading, with node:http listen\(\)\)/);
          assert.match(server.logs(), new RegExp(`app asked for :3000; serving on http://127.0.0.1:${server.port} instead`));
          // the app's listen callback ran, and saw tsgw's address (its stdout line may come after the requests' answers)
          await waitForLog(server, new RegExp(`express ready at ${server.port}`));
        });
      });

      test("a Koa script, on a unix socket and with two workers (one on Bun, which cannot share a unix socket)", async () => {
        const sock = join(tempDir(), "koa.sock");
        await withTsgw(rt, [`${APPS}/koa.mjs`, "-b", `unix:${sock}`, "-w", engine === "bun" ? "1" : "2"], async (server) => {
          assert.equal((await ask(server, { path: "/k" })).text, "koa listens /k");
          assert.equal(await listening(3001), false);
        }, { listeners: 1 });
      });

      test("node:http by hand: a request listener added after createServer; the app's own SIGTERM close callback runs", async () => {
        const server = await startTsgw(rt, [`${APPS}/http.mjs`, ...LOCAL, "-w", "1"]);
        try {
          assert.equal((await ask(server, { path: "/p" })).text, "plain listens /p");
        } finally {
          assert.equal(await server.stop(), 0);
        }
        assert.match(server.logs(), /app close callback ran/);
      });

      test("node:https by hand (https.createServer(...).listen(3013)): adopted, served on tsgw's listener, its port left alone", async () => {
        await withTsgw(rt, [`${APPS}/https.mjs`, ...LOCAL], async (server) => {
          assert.equal((await ask(server, { path: "/s" })).text, "https listens /s");
          assert.equal(await listening(3013), false);
        });
      });

      test("an async bootstrap() nobody awaits (NestJS's and Fastify's usual shape) is waited for", async () => {
        await withTsgw(rt, [`${APPS}/bootstrap.mjs`, ...LOCAL], async (server) => {
          assert.equal((await ask(server)).text, "bootstrapped");
        });
      });

      test("a Fastify script (fastify.listen({ port, host: 'localhost' }))", async () => {
        await withTsgw(rt, [`${APPS}/fastify-script.mjs`, ...LOCAL], async (server) => {
          assert.deepEqual(JSON.parse((await ask(server)).text), { fastify: "listens" });
          const echo = await ask(server, { method: "POST", path: "/echo", headers: { "content-type": "application/json" }, body: '{"b":2}' });
          assert.deepEqual(JSON.parse(echo.text), { b: 2 });
          assert.equal(await listening(3004), false);
        });
      });

      test("a second, different server is not bound, with a warning; the first serves", async () => {
        await withTsgw(rt, [`${APPS}/two-servers.mjs`, ...LOCAL], async (server) => {
          assert.equal((await ask(server)).text, "first");
          assert.equal(await listening(3011), false);
          assert.match(
            server.logs(),
            /the app started another server \(node:http listen\(\), asking for :3011\); tsgw serves only the first, so this one is not bound/,
          );
        });
      });

      test("a module that exports its app and also listens: the export is served, the server not bound", async () => {
        await withTsgw(rt, [`${APPS}/export-and-listen.mjs`, ...LOCAL], async (server) => {
          assert.equal((await ask(server)).text, "exported");
          assert.equal(await listening(3012), false);
        });
      });

      test("--interface listen serves the server the module starts, even beside an export", async () => {
        await withTsgw(rt, [`${APPS}/export-and-listen.mjs`, ...LOCAL, "--interface", "listen"], async (server) => {
          assert.equal((await ask(server)).text, "listened");
        });
      });

      test("--check-config loads a listening script without binding its port", async () => {
        const r = await runTsgw(rt, [`${APPS}/express.cjs`, "--check-config"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr + r.stdout, /configuration OK/);
      });

      test("a module that exports nothing and starts no server: one line with what to do", async () => {
        const r = await runTsgw(rt, [`${APPS}/nothing.mjs`, ...LOCAL, "--timeout", "1", "--check-config"]);
        assert.equal(r.code, 4);
        assert.match(
          oneLine(r.stderr),
          /has no default export, "app" or "application" and started no server within 1s; its exports: \(none\); export a fetch handler/,
        );
      });

      test("Bun.serve() scripts: served with their own routes on Bun; elsewhere Bun is missing, and the error says so", async () => {
        if (engine === "bun") {
          await withTsgw(rt, [`${APPS}/bun-serve.ts`, ...LOCAL], async (server) => {
            assert.equal((await ask(server, { path: "/x" })).text, "bun listens /x");
            assert.equal((await ask(server, { path: "/route/42" })).text, "route 42");
            assert.equal((await ask(server, { path: "/static" })).text, "static route");
            const ip = JSON.parse((await ask(server, { path: "/ip" })).text);
            assert.deepEqual(ip, { ip: "127.0.0.1", port: server.port, url: `http://127.0.0.1:${server.port}/` });
            assert.equal(await listening(3005), false);
            assert.match(server.logs(), /app asked for :3005; serving on/);
          });
        } else {
          const r = await runTsgw(rt, [`${APPS}/bun-serve.ts`, "--check-config"]);
          assert.equal(r.code, 4);
          assert.match(oneLine(r.stderr), /bun-serve\.ts failed to load: .*Bun is not defined/);
        }
      });

      test("Deno.serve() scripts: served on Deno (its onListen told tsgw's address); elsewhere Deno is missing, and the error says so", async () => {
        if (engine === "deno") {
          await withTsgw(rt, [`${APPS}/deno-serve.ts`, ...LOCAL], async (server) => {
            assert.equal((await ask(server, { path: "/x" })).text, "deno listens /x");
            const ip = JSON.parse((await ask(server, { path: "/ip" })).text);
            assert.deepEqual(ip, { ip: "127.0.0.1", completed: "function", port: server.port });
            assert.match(server.logs(), new RegExp(`deno ready on ${server.port}`));
            assert.equal(await listening(3006), false);
          });
        } else {
          const r = await runTsgw(rt, [`${APPS}/deno-serve.ts`, "--check-config"]);
          assert.equal(r.code, 4);
          assert.match(oneLine(r.stderr), /deno-serve\.ts failed to load: .*Deno is not defined/);
        }
      });
    });

    describe("instances and shapes auto-detection must get right", () => {
      test("a Fastify instance export: ready(), then its router; POST bodies arrive", async () => {
        await withTsgw(rt, [`${APPS}/fastify-instance.mjs`, ...LOCAL], async (server) => {
          assert.deepEqual(JSON.parse((await ask(server)).text), { fastify: "instance" });
          const echo = await ask(server, { method: "POST", path: "/echo", headers: { "content-type": "application/json" }, body: '{"c":3}' });
          assert.deepEqual(JSON.parse(echo.text), { c: 3 });
          assert.match(server.logs(), /loaded as Node listener \(Fastify instance: ready\(\), then its router\)/);
        });
      });

      test("an (nodeReq, nodeRes) export is a Node listener", async () => {
        await withTsgw(rt, [`${APPS}/node-res.mjs`, ...LOCAL], async (server) => {
          assert.equal((await ask(server, { path: "/n" })).text, "nodeRes /n");
        });
      });

      test("a (...args) export that takes [req, res] from its arguments is a Node listener", async () => {
        await withTsgw(rt, [`${APPS}/rest-args.mjs:handler`, ...LOCAL], async (server) => {
          assert.equal((await ask(server, { path: "/r" })).text, "rest args /r");
          assert.match(server.logs(), /loaded as Node listener \(function \(req, res\) looks like a Node listener\)/);
        });
      });

      test("a Node listener taken for a fetch handler fails with a hint, once, naming --interface node", async () => {
        await withTsgw(rt, [`${APPS}/hidden-listener.mjs`, ...LOCAL], async (server) => {
          assert.equal((await ask(server)).status, 500);
          assert.equal((await ask(server)).status, 500);
          await waitForLog(server, /start tsgw with --interface node/);
          assert.equal(server.logs().match(/start tsgw with --interface node/g)!.length, 1);
        });
        await withTsgw(rt, [`${APPS}/hidden-listener.mjs`, ...LOCAL, "--interface", "node"], async (server) => {
          assert.equal((await ask(server, { path: "/h" })).text, "hidden /h");
        });
      });

      test("srvx's toNodeHandler (Nitro 3, h3 v2) gets its POST bodies", async () => {
        await withTsgw(rt, [`${APPS}/srvx-node.mjs`, ...LOCAL], async (server) => {
          assert.equal((await ask(server, { method: "POST", body: "posted" })).text, "srvx POST posted");
        });
      });
    });

    test("the runtime's flags reach every worker (--conditions=custom picks a package's conditional export)", async () => {
      if (rt === "binary") return; // a compiled binary takes no runtime flags: nothing to pass on (README, Distributions)
      const [exe, ...rest] = commandFor(rt);
      const at = rt === "deno" ? 2 : 0; // after `deno run -A`
      const cmd = [exe!, ...rest.slice(0, at), "--conditions=custom", ...rest.slice(at)];
      await withTsgw(cmd, ["app.mjs", ...LOCAL, "-w", "2"], async (server) => {
        for (let i = 0; i < 4; i++) assert.equal((await ask(server)).text, "custom condition");
      }, { cwd: join(FIXTURES, "conditions") });
    });

    describe("TypeScript and JSX as the project configures them", () => {
      const project = { cwd: join(FIXTURES, "jsx") };
      test("a .tsx Hono JSX page: tsconfig.json's jsx and jsxImportSource, and an import through its `paths`", async () => {
        await withTsgw(rt, ["page.tsx", ...LOCAL], async (server) => {
          const r = await ask(server);
          assert.equal(r.status, 200, r.text);
          assert.equal(r.text, '<h1 class="t">hello tsx</h1>');
        }, project);
      });

      test("a .jsx file naming its JSX runtime with the @jsxImportSource pragma", async () => {
        await withTsgw(rt, ["pragma.jsx", ...LOCAL], async (server) => {
          assert.equal((await ask(server)).text, "<p>hello jsx</p>");
        }, project);
      });
    });

    describe("the runtime's own objects", () => {
      test("the global Request is indistinguishable from the native class to prototype inspection", async () => {
        await withTsgw(rt, [`${APPS}/request-proto.mjs`, ...LOCAL], async (server) => {
          const seen = JSON.parse((await ask(server)).text);
          for (const member of ["arrayBuffer", "blob", "body", "bodyUsed", "clone", "formData", "headers", "json", "method", "text", "url"]) {
            assert.ok(seen.names.split(",").includes(member), `Request.prototype owns ${member}: ${seen.names}`);
          }
          assert.deepEqual({ ...seen, names: undefined }, {
            names: undefined,
            ctor: true,
            inst: true,
            reqInst: true,
            native: seen.native,
            body: "b",
            mine: true,
            copy: `http://127.0.0.1:${server.port}/`,
            rctor: true,
          });
        });
      });

      test("Hono's getConnInfo from the runtime's own helper", async () => {
        await withTsgw(rt, [`${APPS}/hono-conninfo.mjs`, ...LOCAL], async (server) => {
          const r = await ask(server, { path: "/conn" });
          assert.equal(r.status, 200, r.text);
          const remote = JSON.parse(r.text);
          assert.equal(remote.address, "127.0.0.1");
          assert.ok(remote.port > 0);
        });
      });
    });
  });
}
