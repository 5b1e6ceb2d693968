/** The uwsgi protocol spoken directly (as nginx would), and hostile input that must never cost a worker. */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { encodeRequest } from "../../src/protocol/uwsgi.ts";
import { RUNTIMES, rawSend, startTsgw, waitForLog, type Server } from "../helpers/tsgw.ts";

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
        Array.from({ length: 1000 }, () => new Promise<void>((resolve) => {
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
