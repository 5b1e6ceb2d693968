/** Serving apps of every interface, on every runtime, over TCP and unix sockets. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ask, engineOf, rawSend, RUNTIMES, type Server, startTsgw, tempDir, waitForLog, withTsgw } from "../helpers/tsgw.ts";

const LOCAL = ["-b", "127.0.0.1:0"];

for (const rt of RUNTIMES) {
  describe(`serving on ${rt}`, () => {
    describe("fetch handler app", () => {
      let server: Server;
      before(async () => {
        server = await startTsgw(rt, ["test/fixtures/fetch", ...LOCAL, "--env", "GREETING=e2e"]);
      });
      after(() => server.stop());

      test("answers, logs the interface it chose", async () => {
        const r = await ask(server);
        assert.equal(r.status, 200);
        assert.equal(r.text, "hello e2e");
        assert.match(server.logs(), /app test\/fixtures\/fetch:default loaded as fetch handler/);
      });

      test("a body of known length goes out with content-length", async () => {
        const r = await ask(server);
        assert.equal(r.headers["content-length"], "9");
        assert.equal(r.headers["transfer-encoding"], undefined);
      });

      test("passes method, url, headers and info.remoteAddr", async () => {
        const r = await ask(server, { path: "/info?x=1", headers: { "x-custom": "yes" } });
        const info = JSON.parse(r.text);
        assert.equal(info.method, "GET");
        assert.equal(new URL(info.url).pathname + new URL(info.url).search, "/info?x=1");
        assert.equal(info.headers["x-custom"], "yes");
        assert.equal(info.remoteAddr.hostname, "127.0.0.1");
        assert.ok(info.remoteAddr.port > 0);
        assert.equal(info.workerId, 1);
      });

      test("request.url is absolute for an HTTP/1.0 request without Host and for an absolute-form target", async () => {
        const urlOf = async (head: string) => {
          const reply = await rawSend(server.port, head).reply;
          assert.match(reply, /^HTTP\/1\.[01] 200/, reply);
          return JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4)).url as string;
        };
        // health checkers and old clients send no Host; Bun leaves such a URL relative
        const bare = new URL(await urlOf("GET /info?h=1 HTTP/1.0\r\n\r\n"));
        assert.equal(bare.pathname + bare.search, "/info?h=1");
        // proxies send the whole URL; its host wins over the Host header (RFC 9112 3.2.2), where the runtime follows it
        const proxied = new URL(await urlOf("GET http://ex.test/info?p=1 HTTP/1.1\r\nHost: ex.test\r\nConnection: close\r\n\r\n"));
        assert.equal(proxied.href, "http://ex.test/info?p=1");
      });

      test("X-Forwarded-Proto: https from this host's proxy (forwarded-allow-ips) makes request.url https://; from others it is ignored", async () => {
        const urlOf = async (headers: Record<string, string>) => JSON.parse((await ask(server, { path: "/info?f=1", headers })).text).url as string;
        assert.match(await urlOf({ "x-forwarded-proto": "https" }), /^https:\/\/127\.0\.0\.1:\d+\/info\?f=1$/);
        assert.match(await urlOf({ "x-forwarded-proto": "https, http" }), /^https:/, "the first proxy's scheme");
        assert.match(await urlOf({ "x-forwarded-ssl": "on" }), /^https:/);
        assert.match(await urlOf({ "x-forwarded-proto": "http" }), /^http:/);
        assert.match(await urlOf({}), /^http:/);
        await withTsgw(rt, ["test/fixtures/fetch", ...LOCAL, "--forwarded-allow-ips", "10.0.0.1"], async (other) => {
          const url = JSON.parse((await ask(other, { path: "/info", headers: { "x-forwarded-proto": "https" } })).text).url as string;
          assert.match(url, /^http:/, "a peer not in forwarded-allow-ips cannot claim https");
        });
        // nginx's proxy_pass to an --http-socket: its peer has no address, and reached the socket through the file's permissions
        const sock = join(tempDir(), "http.sock");
        await withTsgw(rt, ["test/fixtures/fetch", "--http-socket", sock, "--forwarded-allow-ips", "10.0.0.1"], async (proxied) => {
          const url = JSON.parse((await ask(proxied, { path: "/info", headers: { "x-forwarded-proto": "https" } })).text).url as string;
          assert.match(url, /^https:/, "a peer on a unix socket is trusted");
        }, { listeners: 1 });
      });

      test("HEAD gets headers and no body", async () => {
        const r = await ask(server, { method: "HEAD" });
        assert.equal(r.status, 200);
        assert.equal(r.body.length, 0);
      });

      test("several set-cookie headers and a custom status survive", async () => {
        const r = await ask(server, { path: "/cookies" });
        assert.equal(r.status, 201);
        assert.deepEqual(r.headers["set-cookie"], ["a=1; Path=/", "b=2; Path=/"]);
      });

      test("a streaming response is flushed as produced, not buffered", async () => {
        const { request } = await import("node:http");
        const got = await new Promise<string>((resolve, reject) => {
          const req = request({ host: "127.0.0.1", port: server.port, path: "/stream", agent: false }, (res) => {
            let text = "";
            res.on("data", (c) => {
              text += c;
              // the app sends "second;" only after /release: seeing "first;" alone proves streaming
              if (text === "first;") ask(server, { path: "/release" }).catch(reject);
            });
            res.on("end", () => resolve(text));
          });
          req.on("error", reject);
          req.end();
        });
        assert.equal(got, "first;second;");
      });

      test("a request body streams in while the upload is still open", async () => {
        let release!: () => void;
        const hold = new Promise<void>((r) => (release = r));
        async function* upload() {
          yield Buffer.alloc(1000, 97);
          await hold;
          yield Buffer.alloc(500, 98);
        }
        const reply = ask(server, { method: "POST", path: "/upload-probe", body: upload() });
        let state = "";
        for (let i = 0; i < 100 && !state.startsWith("first:"); i++) {
          state = (await ask(server, { path: "/upload-state" })).text;
          if (!state.startsWith("first:")) await new Promise((r) => setTimeout(r, 50));
        }
        release();
        assert.match(state, /^first:\d+$/);
        assert.equal((await reply).text, "total:1500");
      });

      test("a 10 MB upload echoes back intact", async () => {
        const big = Buffer.alloc(10 * 1024 * 1024);
        for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
        const r = await ask(server, { method: "POST", path: "/echo", body: big, headers: { "content-type": "application/octet-stream" } });
        assert.equal(r.status, 200);
        assert.equal(r.body.length, big.length);
        assert.equal(createHash("sha1").update(r.body).digest("hex"), createHash("sha1").update(big).digest("hex"));
      });

      test("a chunked upload (no content-length) is read whole", async () => {
        async function* chunks() {
          for (let i = 0; i < 20; i++) yield Buffer.alloc(10000, i);
        }
        const r = await ask(server, { method: "POST", path: "/count", body: chunks() });
        assert.equal(r.text, "200000");
      });

      test("a copied Request keeps method, url, headers and body", async () => {
        assert.equal((await ask(server, { path: "/copy", headers: { "x-copy": "h" } })).text, "GET /copy h ");
        assert.equal((await ask(server, { method: "POST", path: "/copy", headers: { "x-copy": "p" }, body: "payload" })).text, "POST /copy p payload");
      });

      test("bytes bodies, statusText, Response.json and headers set after construction", async () => {
        const bytes = await ask(server, { path: "/bytes" });
        assert.equal(bytes.status, 202);
        assert.equal(bytes.text, "hi");
        assert.equal(bytes.headers["content-length"], "2");
        const json = await ask(server, { path: "/json" });
        assert.deepEqual(JSON.parse(json.text), { ok: true });
        assert.match(String(json.headers["content-type"]), /^application\/json/);
        assert.equal(json.headers["x-extra"], "1");
        const late = await ask(server, { path: "/headers-after" });
        assert.equal(late.headers["x-late"], "yes");
        assert.deepEqual(late.headers["set-cookie"], ["c=3"]);
        assert.match(String(late.headers["content-type"]), /^text\/plain/);
      });

      test("request.signal aborts when the client goes away", async () => {
        const { request } = await import("node:http");
        const req = request({ host: "127.0.0.1", port: server.port, path: "/abort-watch", agent: false });
        req.on("error", () => {});
        req.end();
        let state = "";
        for (let i = 0; i < 100 && state !== "waiting"; i++) {
          state = (await ask(server, { path: "/abort-state" })).text;
          if (state !== "waiting") await new Promise((r) => setTimeout(r, 20));
        }
        req.destroy();
        for (let i = 0; i < 100 && state !== "aborted"; i++) {
          await new Promise((r) => setTimeout(r, 20));
          state = (await ask(server, { path: "/abort-state" })).text;
        }
        assert.equal(state, "aborted");
      });

      test("an app that throws gets a 500 and the worker keeps serving", async () => {
        const r = await ask(server, { path: "/throw" });
        assert.equal(r.status, 500);
        await waitForLog(server, /boom from the app/);
        assert.equal((await ask(server)).status, 200);
      });

      test("a malformed HTTP request gets 400 and the worker keeps serving", async () => {
        assert.match(await rawSend(server.port, "GARBAGE\r\n\r\n").reply, /^HTTP\/1\.[01] 400/);
        assert.equal((await ask(server)).status, 200);
      });

      test("oversized headers, bad or doubled Content-Length: 431/400 or a closed connection, and serving goes on", async () => {
        const send = (data: string) => rawSend(server.port, data).reply;
        // Deno answers 400 or resets the connection where Node and Bun answer 431
        assert.match(await send(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(100_000)}\r\n\r\n`), /^(HTTP\/1\.1 (431|400) |$)/);
        assert.match(await send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"), /^HTTP\/1\.1 400 /);
        assert.match(await send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"), /^HTTP\/1\.1 400 /);
        assert.equal((await ask(server)).status, 200);
      });

      test("TERM stops it with exit code 0", async () => {
        assert.equal(await server.stop("SIGTERM"), 0);
      });
    });

    test("Hono app (object with fetch)", async () => {
      const server = await startTsgw(rt, ["test/fixtures/hono:app", ...LOCAL]);
      try {
        const hello = await ask(server);
        assert.equal(hello.text, "hello from hono");
        assert.equal(hello.headers["x-middleware"], "ran");
        const r = await ask(server, { method: "POST", path: "/json", body: '{"a":1}', headers: { "content-type": "application/json" } });
        assert.deepEqual(JSON.parse(r.text), { got: { a: 1 } });
        assert.match(server.logs(), /loaded as fetch handler \(object with fetch\(\)\)/);
      } finally {
        await server.stop();
      }
    });

    test("Express app (Node listener)", async () => {
      const server = await startTsgw(rt, ["test/fixtures/express.cjs", ...LOCAL]);
      try {
        assert.equal((await ask(server)).text, "hello from express");
        const r = await ask(server, { method: "POST", path: "/json", body: '{"a":2}', headers: { "content-type": "application/json" } });
        assert.deepEqual(JSON.parse(r.text), { got: { a: 2 } });
        assert.match(server.logs(), /loaded as Node listener/);
      } finally {
        await server.stop();
      }
    });

    test("Koa app (object with callback())", async () => {
      const server = await startTsgw(rt, ["test/fixtures/koa.mjs", ...LOCAL]);
      try {
        assert.equal((await ask(server, { path: "/k" })).text, "hello from koa /k");
        assert.match(server.logs(), /loaded as Node listener \(object with callback\(\), Koa style\)/);
      } finally {
        await server.stop();
      }
    });

    test("plain Node listener (req, res), streaming with res.write", async () => {
      await withTsgw(rt, ["test/fixtures/node-plain", ...LOCAL], async (server) => {
        assert.equal((await ask(server, { path: "/p" })).text, "node listener /p");
      });
    });

    test("factory create() and async factory createAsync()", async () => {
      const a = await startTsgw(rt, ["test/fixtures/factory:create()", ...LOCAL]);
      const b = await startTsgw(rt, ["test/fixtures/factory:createAsync()", ...LOCAL]);
      try {
        assert.equal((await ask(a)).text, "made by factory");
        assert.equal((await ask(b, { path: "/z" })).text, "made by async factory /z");
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    test("--interface node serves a 2-parameter function as a Node listener", async () => {
      const server = await startTsgw(rt, ["test/fixtures/node-plain", "--interface", "node", ...LOCAL]);
      try {
        assert.equal((await ask(server, { path: "/f" })).text, "node listener /f");
        assert.match(server.logs(), /loaded as Node listener \(--interface node\)/);
      } finally {
        await server.stop();
      }
    });

    test("HTTP on a unix socket, permissions from --chmod-socket, removed on stop", async () => {
      const dir = tempDir();
      const path = join(dir, "app.sock");
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", `unix:${path}`]);
      try {
        assert.equal(server.socketPath, path);
        assert.equal(statSync(path).mode & 0o777, 0o660);
        assert.equal((await ask(server)).text, "hello world");
      } finally {
        assert.equal(await server.stop(), 0);
      }
      assert.throws(() => statSync(path), "the socket file is removed on a clean stop");
      await withTsgw(rt, ["test/fixtures/fetch", "-b", `unix:${path}`, "--chmod-socket", "600"], async () => {
        assert.equal(statSync(path).mode & 0o777, 0o600);
      });
    });

    test("a stale socket file is replaced; a live one is not stolen", async () => {
      const dir = tempDir();
      const path = join(dir, "app.sock");
      const { createServer } = await import("node:net");
      // a socket file whose server is gone (closing a node:net server unlinks it, so leave it behind)
      const { spawnSync } = await import("node:child_process");
      spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`]);
      assert.ok(statSync(path).isSocket());
      await withTsgw(rt, ["test/fixtures/fetch", "-b", `unix:${path}`], async (server) => {
        assert.equal((await ask(server)).text, "hello world");
      });
      const holder = createServer().listen(path);
      await new Promise((r) => holder.once("listening", r));
      try {
        const { runTsgw, oneLine } = await import("../helpers/tsgw.ts");
        const r = await runTsgw(rt, ["test/fixtures/fetch", "-b", `unix:${path}`]);
        assert.notEqual(r.code, 0);
        assert.match(oneLine(r.stderr), /another process is serving on it/);
      } finally {
        holder.close();
      }
    });

    test("several binds at once, IPv6 loopback included", async () => {
      const server = await startTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--bind=[::1]:0"], { listeners: 2 });
      try {
        const urls = [...server.logs().matchAll(/Listening at: (\S+)/g)].map((m) => m[1]!);
        assert.equal(urls.length, 2);
        const v6 = new URL(urls[1]!);
        assert.equal(v6.hostname, "[::1]");
        const r = await fetch(`http://[::1]:${v6.port}/`);
        assert.equal(await r.text(), "hello world");
      } finally {
        await server.stop();
      }
    });
  });
}

for (const rt of RUNTIMES) {
  for (const [kind, app] of [["fetch app", "test/fixtures/fetch"], ["Node listener", "test/fixtures/express.cjs"]] as const) {
    // Deno.serve has no limit on a request head's arrival; Bun.serve has its own, about 10 s (README, Known limits)
    const todo = rt === "deno" && kind === "fetch app" ? "Deno.serve has no header timeout" : undefined;
    const bunServe = engineOf(rt) === "bun" && kind === "fetch app";
    test(`a client that never finishes its request head is cut off after header-timeout (${kind}, ${rt})`, { todo }, async () => {
      await withTsgw(rt, [app, "-b", "127.0.0.1:0", "--header-timeout", "1"], async (server) => {
        const start = Date.now();
        const slow = rawSend(server.port, "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        const limit = bunServe ? 16000 : 6000;
        const closed = await Promise.race([slow.reply.then(() => true), new Promise((r) => setTimeout(() => r(false), limit))]);
        slow.sock.destroy();
        assert.equal(closed, true, `the connection was still open after ${limit / 1000} s`);
        assert.ok(Date.now() - start >= 900, "closed before the timeout");
        assert.equal((await ask(server)).status, 200);
      });
    });
  }
}
