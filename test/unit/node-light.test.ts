/** The light Request/Response used on Node must behave like the real ones wherever an app can tell. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ServerResponse } from "node:http";
import { installLightGlobals } from "../../src/app/light/globals.ts";
import { LightResponse, streamedParts, writeKnownBody } from "../../src/app/light/response.ts";

/** What writeKnownBody hands to node:http, captured. */
function written(response: Response): { status: number; headers: Record<string, unknown>; body: unknown } | undefined {
  let out: { status: number; headers: Record<string, unknown>; body: unknown } | undefined;
  const res = {
    writeHead(status: number, _reason: unknown, headers: Record<string, unknown>) {
      out = { status, headers, body: undefined };
      return this;
    },
    end(body: unknown) {
      out!.body = body;
    },
  };
  return writeKnownBody(response, res as unknown as ServerResponse) ? out : undefined;
}

const NativeResponse = globalThis.Response;
installLightGlobals();

describe("LightResponse as the global Response", () => {
  test("instanceof holds for light and native responses alike", () => {
    assert.equal(globalThis.Response, LightResponse);
    assert.ok(new Response("x") instanceof Response);
    assert.ok(new Response("x") instanceof NativeResponse);
    assert.ok(new NativeResponse("x") instanceof Response);
  });

  test("status, ok, statusText, headers, default content-type", () => {
    const r = new Response("hi", { status: 201, statusText: "Made" });
    assert.equal(r.status, 201);
    assert.equal(r.ok, true);
    assert.equal(r.statusText, "Made");
    assert.equal(r.headers.get("content-type"), "text/plain;charset=UTF-8");
    assert.equal(new Response(new Uint8Array([1])).headers.get("content-type"), null);
    assert.equal(new Response(null, { status: 404 }).ok, false);
  });

  test("a bad status throws like the real constructor", () => {
    assert.throws(() => new Response("x", { status: 99 }), RangeError);
    assert.throws(() => new NativeResponse("x", { status: 99 }), RangeError);
  });

  test("body readers, clone and body stream work (the real Response is built on demand)", async () => {
    assert.equal(await new Response("text").text(), "text");
    assert.deepEqual(await new Response('{"a":1}').json(), { a: 1 });
    const r = new Response("twice");
    const c = r.clone();
    assert.equal(await r.text(), "twice");
    assert.equal(await c.text(), "twice");
    assert.ok(new Response("s").body instanceof ReadableStream);
    assert.equal(r.bodyUsed, true);
  });

  test("Response.json sets content-type and keeps other headers", async () => {
    const r = Response.json({ a: 1 }, { status: 202, headers: { "x-a": "1" } });
    assert.equal(r.status, 202);
    assert.equal(r.headers.get("content-type"), "application/json");
    assert.equal(r.headers.get("x-a"), "1");
    assert.deepEqual(await r.json(), { a: 1 });
  });

  test("known bodies are written in one go with content-length; streams and read bodies are not", async () => {
    assert.equal(written(new Response(new ReadableStream())), undefined);
    assert.deepEqual(written(new Response("direct", { status: 203, headers: { A: "b" } })), {
      status: 203,
      headers: { a: "b", "content-type": "text/plain;charset=UTF-8", "content-length": 6 },
      body: "direct",
    });
    assert.deepEqual(written(new Response(new Uint8Array([1, 2]), { headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"]] }))?.headers, {
      "set-cookie": ["a=1", "b=2"],
      "content-length": 2,
    });
    // no content-length on a 204 (RFC 9110 §8.6), nor a body, even one the app gave (Bun.serve drops it too)
    assert.equal(written(new Response(null, { status: 204 }))?.headers["content-length"], undefined);
    assert.deepEqual(written(new Response("a body", { status: 204 })), {
      status: 204,
      headers: { "content-type": "text/plain;charset=UTF-8" },
      body: undefined,
    });
    // the framing is node:http's: an app's transfer-encoding and keep-alive headers go, its connection: close stays
    assert.deepEqual(
      written(new Response("x", { headers: { "transfer-encoding": "chunked", "keep-alive": "timeout=99", connection: "keep-alive" } }))?.headers,
      {
        "content-type": "text/plain;charset=UTF-8",
        "content-length": 1,
      },
    );
    assert.equal(written(new Response("x", { headers: { connection: "close" } }))?.headers.connection, "close");
    const used = new Response("used");
    await used.text();
    assert.equal(written(used), undefined, "a consumed body is not written again");
    const touched = new Response("h");
    touched.headers.set("x", "1");
    assert.equal(written(touched)?.headers.x, "1");
    const cloned = new Response("c");
    cloned.clone();
    assert.equal(written(cloned)?.body, "c", "materialized but unread: still written directly");
  });

  test("a stream body is handed to the server as given, or read through the real Response once the app touched it", async () => {
    const chunks = (...parts: string[]) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          for (const p of parts) c.enqueue(new TextEncoder().encode(p));
          c.close();
        },
      });
    const source = chunks("a", "b");
    const plain = new Response(source, { status: 206, headers: [["x-a", "1"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]] });
    assert.ok(plain instanceof NativeResponse);
    const parts = streamedParts(plain);
    assert.equal(parts.body, source, "the app's own stream, no native Response in between");
    assert.deepEqual(parts.headers, { "x-a": "1", "set-cookie": ["a=1", "b=2"] });
    assert.equal(plain.status, 206);

    const read = new Response(chunks("x", "y"));
    assert.equal(read.bodyUsed, false);
    assert.equal(await read.text(), "xy");
    assert.equal(read.bodyUsed, true);
    assert.equal(streamedParts(read).body?.locked, true, "read by the app: the server sees the used real body");

    const touched = new Response(chunks("t"), { headers: { "x-b": "2" } });
    touched.headers.set("x-c", "3");
    const tparts = streamedParts(touched);
    assert.deepEqual(tparts.headers, { "x-b": "2", "x-c": "3" });
    assert.equal(await new Response(tparts.body).text(), "t");
    assert.throws(() => new Response(chunks(), { status: 99 }), RangeError);
    const locked = chunks("l");
    locked.getReader();
    assert.throws(() => new Response(locked), TypeError, "a locked stream is refused, as by the real constructor");
  });
  test("Response.redirect and Response.error still work", () => {
    assert.equal(Response.redirect("http://example.test/", 302).status, 302);
    assert.equal(Response.error().type, "error");
  });
});

describe("LightRequest bodies read whole", () => {
  test("json(), text(), arrayBuffer() read the IncomingMessage directly; a second read rejects as on a real Request", async () => {
    const { createServer, request } = await import("node:http");
    const { LightRequest } = await import("../../src/app/light/request.ts");
    const seen: unknown[] = [];
    const server = createServer(async (req, res) => {
      const light = new LightRequest(req, res) as unknown as Request;
      const kind = req.url!.slice(1);
      seen.push(light.bodyUsed);
      seen.push(kind === "json" ? await light.json() : kind === "text" ? await light.text() : new Uint8Array(await light.arrayBuffer()).length);
      seen.push(light.bodyUsed, await light.text().then(() => "read again", (e: Error) => e.name));
      res.end("ok");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const post = (path: string, body: string) =>
      new Promise<void>((resolve) => request({ port, path, method: "POST", host: "127.0.0.1" }, (r) => r.resume().on("end", resolve)).end(body));
    await post("/json", '{"a":[1,2]}');
    await post("/text", "\ufeffhé");
    await post("/bytes", "x".repeat(100_000));
    server.close();
    assert.deepEqual(seen, [false, { a: [1, 2] }, true, "TypeError", false, "hé", true, "TypeError", false, 100_000, true, "TypeError"]);
  });
});

describe("one request header, without the request's Headers", () => {
  test("requestHeader reads a light request's node headers (lower-case names, repeats joined) and builds no Headers; a native Request is asked its own", async () => {
    const { createServer, request } = await import("node:http");
    const { LightRequest } = await import("../../src/app/light/request.ts");
    const { requestHeader } = await import("../../src/app/request-header.ts");
    const RealHeaders = globalThis.Headers;
    let built = 0;
    globalThis.Headers = class extends RealHeaders {
      constructor(init?: HeadersInit) {
        super(init);
        built++;
      }
    };
    let seen: unknown[] = [];
    let port = 0;
    const server = createServer((req, res) => {
      const light = new LightRequest(req, res) as unknown as Request;
      const names = ["user-agent", "x-twice", "host", "upgrade", "missing"];
      seen = names.map((n) => requestHeader(light, n));
      seen.push(built, light.headers.get("x-twice"), built);
      res.end("ok");
    });
    try {
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      port = (server.address() as { port: number }).port;
      await new Promise<void>((resolve) =>
        request(
          { port, path: "/", host: "127.0.0.1", headers: { "User-Agent": "probe/1", "X-Twice": ["a", "b"], Upgrade: "websocket" } },
          (r) => r.resume().on("end", resolve),
        ).end()
      );
    } finally {
      server.close();
      globalThis.Headers = RealHeaders;
    }
    assert.deepEqual(seen, ["probe/1", "a, b", `127.0.0.1:${port}`, "websocket", null, 0, "a, b", 1]);
    const native = new (globalThis.Request as typeof Request)("http://x/", { headers: { "user-agent": "native/1" } });
    assert.equal(requestHeader(native, "user-agent"), "native/1");
  });
});
