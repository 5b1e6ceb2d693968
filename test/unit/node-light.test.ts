/** The light Request/Response used on Node must behave like the real ones wherever an app can tell. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LightResponse, installLightGlobals, rawResponse } from "../../src/app/node-light.ts";

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

  test("stream bodies go to a real Response; raw bodies are written directly until read", async () => {
    assert.equal(rawResponse(new Response(new ReadableStream())), undefined);
    const raw = rawResponse(new Response("direct", { headers: { a: "b" } }));
    assert.equal(raw?.body, "direct");
    const used = new Response("used");
    await used.text();
    assert.equal(rawResponse(used), undefined, "a consumed body is not written again");
    const headersTouched = new Response("h");
    headersTouched.headers.set("x", "1");
    assert.equal((rawResponse(headersTouched)?.headers as Headers).get("x"), "1");
  });

  test("Response.redirect and Response.error still work", () => {
    assert.equal(Response.redirect("http://example.test/", 302).status, 302);
    assert.equal(Response.error().type, "error");
  });
});
