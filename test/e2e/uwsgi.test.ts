/** The uwsgi protocol spoken directly (as nginx would), and hostile input that must never cost a worker. */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { encodeRequest } from "../../src/protocol/uwsgi.ts";
import { join } from "node:path";
import { rawSend, RUNTIMES, type Server, startTsgw, tempDir, waitForLog } from "../helpers/tsgw.ts";

const GET = (uri: string, extra: Record<string, string> = {}) =>
  encodeRequest({ REQUEST_METHOD: "GET", REQUEST_URI: uri, HTTP_HOST: "t.test", REMOTE_ADDR: "10.9.8.7", REMOTE_PORT: "4242", ...extra });

for (const rt of RUNTIMES) {
  describe(`uwsgi protocol on ${rt}`, () => {
    let server: Server;
    let port: number;
    before(async () => {
      // one worker: /stream and /release must meet in the same process
      server = await startTsgw(rt, ["test/fixtures/fetch", "--socket", "127.0.0.1:0", "--socket-timeout", "1"]);
      port = Number(new URL(server.url.replace(/^uwsgi:/, "http:")).port);
    });
    after(() => server.stop());

    const healthy = async () => {
      const r = await rawSend(port, GET("/")).reply;
      assert.match(r, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(r, /\r\n\r\nhello world$/);
    };

    test("a request becomes the Request an HTTP client would have made", async () => {
      const r = await rawSend(port, GET("/info?q=1", { HTTP_X_CUSTOM: "yes", HTTPS: "on" })).reply;
      const info = JSON.parse(r.slice(r.indexOf("\r\n\r\n") + 4));
      assert.equal(info.url, "https://t.test/info?q=1");
      assert.equal(info.headers["x-custom"], "yes");
      assert.deepEqual(info.remoteAddr, { hostname: "10.9.8.7", port: 4242 });
    });

    test("the body streams in, sent in pieces after the vars", async () => {
      const body = "x".repeat(100_000);
      const head = encodeRequest({ REQUEST_METHOD: "POST", REQUEST_URI: "/count", CONTENT_LENGTH: String(body.length) });
      const r = await rawSend(port, head, body.slice(0, 1000), body.slice(1000)).reply;
      assert.match(r, /\r\n\r\n100000$/);
    });

    test("a body the app never reads: the answer arrives and the connection closes", async () => {
      const head = encodeRequest({ REQUEST_METHOD: "POST", REQUEST_URI: "/", CONTENT_LENGTH: "100000", HTTP_HOST: "t.test" });
      const r = await rawSend(port, head, "x".repeat(10)).reply;
      assert.match(r, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nhello world$/);
      await healthy();
    });

    test("a streaming response is flushed as produced", async () => {
      const raw = rawSend(port, GET("/stream"));
      let seen = "";
      await new Promise<void>((resolve) => raw.sock.on("data", (d) => ((seen += d), seen.endsWith("first;") && resolve())));
      await rawSend(port, GET("/release")).reply;
      assert.match(await raw.reply, /first;second;$/);
    });

    const hostile: [string, () => (Uint8Array | string)[], RegExp][] = [
      ["non-zero modifier1", () => [encodeRequest({ REQUEST_METHOD: "GET" }, 9)], /unsupported modifier1 9/],
      ["vars block above buffer-size", () => [new Uint8Array([0, 0xff, 0xff, 0])], /exceeds buffer-size 4096/],
      ["a var length pointing past the block", () => [new Uint8Array([0, 4, 0, 0, 90, 0, 65, 65])], /points past the vars block/],
      ["missing REQUEST_METHOD", () => [encodeRequest({ REQUEST_URI: "/" })], /missing REQUEST_METHOD/],
      ["non-numeric CONTENT_LENGTH", () => [encodeRequest({ REQUEST_METHOD: "POST", CONTENT_LENGTH: "lots" })], /invalid CONTENT_LENGTH/],
      ["random bytes", () => [new Uint8Array([7, 3, 200, 1, 99, 98, 97, 0, 255])], /unsupported modifier1 7/],
    ];
    for (const [name, bytes, logged] of hostile) {
      test(`hostile: ${name} closes the connection with a log line; the worker serves on`, async () => {
        assert.equal(await rawSend(port, ...bytes()).reply, "");
        await waitForLog(server, logged);
        await healthy();
      });
    }

    test("hostile: half a header, then silence: closed after socket-timeout", async () => {
      const started = Date.now();
      assert.equal(await rawSend(port, new Uint8Array([0, 20])).reply, "");
      assert.ok(Date.now() - started < 10_000);
      await waitForLog(server, /no complete request within socket-timeout/);
      await healthy();
    });

    test("hostile: the peer closes mid-body: no crash, the worker serves on", async () => {
      const raw = rawSend(port, encodeRequest({ REQUEST_METHOD: "POST", REQUEST_URI: "/count", CONTENT_LENGTH: "1000" }), "only-a-little");
      setTimeout(() => raw.sock.end(), 100);
      await raw.reply;
      await healthy();
    });

    test("hostile: 1000 idle connections while normal requests are served", async () => {
      const idle: Socket[] = [];
      await Promise.all(
        Array.from({ length: 1000 }, () =>
          new Promise<void>((resolve) => {
            const s = connect(port, "127.0.0.1", () => resolve());
            s.on("error", () => resolve());
            idle.push(s);
          })),
      );
      try {
        for (let i = 0; i < 5; i++) await healthy();
      } finally {
        for (const s of idle) s.destroy();
      }
    });
  });
}

for (const rt of RUNTIMES) {
  for (const [kind, app] of [["fetch app", "test/fixtures/fetch"], ["Node listener", "test/fixtures/node-info.mjs"]]) {
    test(`over a unix socket, answers to peers already gone (EPIPE) cost nothing (${kind}, ${rt})`, async () => {
      const path = join(tempDir(), "app.sock");
      const server = await startTsgw(rt, [app!, "--socket", path]);
      try {
        const ask = (then: (s: Socket) => void) =>
          new Promise<string>((resolve) => {
            const s = connect(path, () => then(s));
            let text = "";
            s.on("data", (d) => (text += d));
            s.on("error", () => {});
            s.on("close", () => resolve(text));
          });
        // the request, then gone at once: the answer is written into a closed unix socket
        await Promise.all(Array.from({ length: 100 }, () => ask((s) => s.end(GET("/"), () => s.destroy()))));
        assert.match(await ask((s) => s.write(GET("/"))), /^HTTP\/1\.1 200 OK\r\n/);
      } finally {
        await server.stop();
      }
    });
  }

  describe(`uwsgi protocol for Express on ${rt}`, () => {
    let server: Server;
    let port: number;
    before(async () => {
      server = await startTsgw(rt, ["test/fixtures/express.cjs", "--socket", "127.0.0.1:0"]);
      port = Number(new URL(server.url.replace(/^uwsgi:/, "http:")).port);
    });
    after(() => server.stop());
    const json = (reply: string) => JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4));

    test("express.json() reads the body; req.ip, req.protocol and repeated headers are as over HTTP", async () => {
      const payload = JSON.stringify({ a: [1, 2, 3], s: "é" });
      const length = String(Buffer.byteLength(payload));
      const head = encodeRequest({
        REQUEST_METHOD: "POST",
        REQUEST_URI: "/json",
        CONTENT_LENGTH: length,
        CONTENT_TYPE: "application/json",
        HTTP_HOST: "t.test",
      });
      const posted = await rawSend(port, head, Buffer.from(payload)).reply;
      assert.match(posted, /^HTTP\/1\.1 200 OK\r\n/);
      assert.deepEqual(json(posted), { got: { a: [1, 2, 3], s: "é" } });

      // nginx passes a header the client repeated as one var each: node:http's rules join or drop them
      const vars: [string, string][] = [
        ["REQUEST_METHOD", "GET"],
        ["REQUEST_URI", "/who?x=1"],
        ["HTTP_HOST", "t.test"],
        ["REMOTE_ADDR", "10.9.8.7"],
        ["HTTPS", "on"],
        ["HTTP_COOKIE", "a=1"],
        ["HTTP_COOKIE", "b=2"],
        ["HTTP_ACCEPT", "text/html"],
        ["HTTP_ACCEPT", "application/json"],
      ];
      const blocks = vars.map(([k, v]) => encodeRequest({ [k]: v }).subarray(4));
      const size = blocks.reduce((n, b) => n + b.length, 0);
      const who = await rawSend(port, Buffer.concat([Buffer.from([0, size & 0xff, size >> 8, 0]), ...blocks])).reply;
      assert.deepEqual(json(who), {
        ip: "10.9.8.7",
        protocol: "https",
        secure: true,
        hostname: "t.test",
        cookie: "a=1; b=2",
        accept: "text/html, application/json",
        query: { x: "1" },
      });
    });
  });
}

for (const rt of RUNTIMES) {
  test(`socket-allow-from refuses other TCP peers (${rt})`, async () => {
    const server = await startTsgw(rt, ["test/fixtures/fetch", "--socket", "127.0.0.1:0", "--socket-allow-from", "10.0.0.1"]);
    try {
      const port = Number(new URL(server.url.replace(/^uwsgi:/, "http:")).port);
      assert.equal(await rawSend(port, GET("/")).reply, "");
      await waitForLog(server, /connection from 127\.0\.0\.1 refused \(not in socket-allow-from\)/);
    } finally {
      await server.stop();
    }
  });
}

for (const rt of RUNTIMES) {
  describe(`uwsgi protocol for a Node listener on ${rt}`, () => {
    let server: Server;
    let port: number;
    before(async () => {
      server = await startTsgw(rt, ["test/fixtures/node-info.mjs", "--socket", "127.0.0.1:0", "--socket-timeout", "1"]);
      port = Number(new URL(server.url.replace(/^uwsgi:/, "http:")).port);
    });
    after(() => server.stop());

    const body = (reply: string) => JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4));

    test("req and res are what an HTTP client would have produced; the peer is REMOTE_ADDR", async () => {
      const r = await rawSend(port, GET("/created?q=1", { HTTP_X_CUSTOM: "yes", HTTPS: "on" })).reply;
      assert.match(r, /^HTTP\/1\.1 201 Created\r\n/);
      assert.equal(r.match(/^set-cookie: /gim)?.length, 2);
      const info = body(r);
      assert.equal(info.method, "GET");
      assert.equal(info.url, "/created?q=1");
      assert.equal(info.headers["x-custom"], "yes");
      assert.equal(info.headers.host, "t.test");
      assert.equal(info.remoteAddress, "10.9.8.7");
      assert.equal(info.remotePort, 4242);
      assert.equal(info.encrypted, true);
    });

    test("a body arriving in pieces after the vars is read whole", async () => {
      const payload = "x".repeat(100_000);
      const head = encodeRequest({ REQUEST_METHOD: "POST", REQUEST_URI: "/up", CONTENT_LENGTH: String(payload.length), CONTENT_TYPE: "text/plain" });
      const r = await rawSend(port, head, payload.slice(0, 10), payload.slice(10)).reply;
      assert.equal(body(r).bodySize, payload.length);
    });

    test("a streamed response reaches the peer as it is written, unchunked, and the connection closes", async () => {
      const { sock, reply } = rawSend(port, GET("/stream"));
      // the head and the first write may come in separate reads: gather until the first write is there
      const first = await new Promise<string>((resolve) => {
        let seen = "";
        const onData = (d: Buffer) => {
          seen += d;
          if (seen.includes("first;")) resolve(seen), sock.off("data", onData);
        };
        sock.on("data", onData);
      });
      assert.doesNotMatch(first, /transfer-encoding: chunked/i);
      await rawSend(port, GET("/release")).reply;
      assert.match(await reply, /first;second;$/);
    });

    test("a body the listener never reads: the answer arrives and the connection closes", async () => {
      const head = encodeRequest({ REQUEST_METHOD: "POST", REQUEST_URI: "/release", CONTENT_LENGTH: "100000", HTTP_HOST: "t.test" });
      assert.match(await rawSend(port, head, "x".repeat(10)).reply, /\r\n\r\nreleased$/);
      assert.equal(body(await rawSend(port, GET("/ok")).reply).url, "/ok");
    });

    test("a peer that goes away mid-body or mid-response costs only its own request", async () => {
      const head = encodeRequest({ REQUEST_METHOD: "POST", REQUEST_URI: "/up", CONTENT_LENGTH: "100000", HTTP_HOST: "t.test" });
      const cut = rawSend(port, head, "x".repeat(1000));
      await new Promise((r) => setTimeout(r, 50));
      cut.sock.resetAndDestroy();
      // the listener writes again after its peer is gone (EPIPE / ECONNRESET)
      const { sock } = rawSend(port, GET("/stream"));
      await new Promise<void>((resolve) => sock.once("data", () => resolve()));
      sock.resetAndDestroy();
      await new Promise((r) => setTimeout(r, 50));
      assert.match(await rawSend(port, GET("/release")).reply, /released$/);
      // peers that reset right after sending their request: the answer meets a closed connection
      for (let i = 0; i < 100; i++) {
        const quick = rawSend(port, GET("/ok"));
        quick.sock.once("connect", () => setImmediate(() => quick.sock.resetAndDestroy()));
      }
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(body(await rawSend(port, GET("/ok")).reply).url, "/ok");
    });

    test("vars that would smuggle a header are refused; the worker keeps serving", async () => {
      const r = await rawSend(port, GET("/", { HTTP_X_EVIL: "a\r\nx-injected: 1" })).reply;
      assert.equal(r, "");
      await waitForLog(server, /uwsgi: unusable request: invalid header "x-evil"/);
      assert.equal(body(await rawSend(port, GET("/ok")).reply).url, "/ok");
    });
  });
}
