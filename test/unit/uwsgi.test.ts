/** The uwsgi codec: round trips, every malformed case, and random bytes that must never throw. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { encodeRequest, parseRequest, requestFromVars, responseHead, unsafeParts, varsOf } from "../../src/protocol/uwsgi.ts";

const NGINX_VARS = {
  QUERY_STRING: "a=1&b=2",
  REQUEST_METHOD: "POST",
  CONTENT_TYPE: "application/json",
  CONTENT_LENGTH: "7",
  REQUEST_URI: "/path/x?a=1&b=2",
  PATH_INFO: "/path/x",
  DOCUMENT_ROOT: "/usr/share/nginx/html",
  SERVER_PROTOCOL: "HTTP/1.1",
  REQUEST_SCHEME: "http",
  REMOTE_ADDR: "10.0.0.7",
  REMOTE_PORT: "51234",
  SERVER_PORT: "80",
  SERVER_NAME: "example.test",
  HTTP_HOST: "example.test",
  HTTP_X_FORWARDED_FOR: "1.2.3.4",
  HTTP_USER_AGENT: "curl/8",
};

describe("uwsgi codec", () => {
  test("round trip of what nginx sends", () => {
    const bytes = encodeRequest(NGINX_VARS);
    const r = parseRequest(bytes);
    assert.equal(r.kind, "packet");
    if (r.kind !== "packet") return;
    assert.deepEqual({ ...varsOf(r.packet.pairs) }, NGINX_VARS);
    assert.equal(r.packet.consumed, bytes.length);
    assert.equal(r.packet.modifier1, 0);
  });

  test("the body starts right after the vars", () => {
    const head = encodeRequest(NGINX_VARS);
    const body = new TextEncoder().encode('{"a":1}');
    const all = new Uint8Array([...head, ...body]);
    const r = parseRequest(all);
    assert.ok(r.kind === "packet");
    assert.equal(new TextDecoder().decode(all.subarray(r.packet.consumed)), '{"a":1}');
  });

  test("arriving in pieces: incomplete until the vars are whole", () => {
    const bytes = encodeRequest(NGINX_VARS);
    assert.deepEqual(parseRequest(bytes.subarray(0, 2)), { kind: "incomplete", need: 4 });
    assert.deepEqual(parseRequest(bytes.subarray(0, 10)), { kind: "incomplete", need: bytes.length });
    assert.equal(parseRequest(bytes).kind, "packet");
  });

  test("bytes beyond ASCII survive (latin1, one char per byte)", () => {
    const r = parseRequest(encodeRequest({ REQUEST_METHOD: "GET", HTTP_X_NAME: "caf\u00e9\u0080\u009f\u00ff" }));
    assert.ok(r.kind === "packet");
    assert.equal(varsOf(r.packet.pairs).HTTP_X_NAME, "caf\u00e9\u0080\u009f\u00ff");
  });

  const bad: [string, Uint8Array, RegExp][] = [
    ["non-zero modifier1", encodeRequest({ REQUEST_METHOD: "GET" }, 5), /unsupported modifier1 5/],
    ["vars block above buffer-size", new Uint8Array([0, 0x10, 0x27, 0]), /10000 bytes exceeds buffer-size 4096/],
    ["key length past the block", new Uint8Array([0, 4, 0, 0, 50, 0, 65, 66]), /key length points past/],
    ["value length past the block", new Uint8Array([0, 5, 0, 0, 1, 0, 65, 9, 0]), /value length points past/],
    ["odd byte at the end", new Uint8Array([0, 1, 0, 0, 7]), /truncated key length/],
    ["missing REQUEST_METHOD", encodeRequest({ PATH_INFO: "/" }), /missing REQUEST_METHOD/],
    ["a method that is no token", encodeRequest({ REQUEST_METHOD: "GE T" }), /invalid REQUEST_METHOD/],
    ["non-numeric CONTENT_LENGTH", encodeRequest({ REQUEST_METHOD: "POST", CONTENT_LENGTH: "12abc" }), /invalid CONTENT_LENGTH "12abc"/],
    ["negative CONTENT_LENGTH", encodeRequest({ REQUEST_METHOD: "POST", CONTENT_LENGTH: "-1" }), /invalid CONTENT_LENGTH/],
  ];
  for (const [name, bytes, reason] of bad) {
    test(`malformed: ${name}`, () => {
      const r = parseRequest(bytes);
      assert.equal(r.kind, "error");
      assert.match((r as { reason: string }).reason, reason);
    });
  }

  test("buffer-size is configurable", () => {
    const bytes = encodeRequest({ REQUEST_METHOD: "GET", HTTP_COOKIE: "x".repeat(5000) });
    assert.equal(parseRequest(bytes).kind, "error");
    assert.equal(parseRequest(bytes, 65535).kind, "packet");
  });

  test("random bytes never throw (bounded fuzzing)", () => {
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
    const kinds = new Set<string>();
    for (let i = 0; i < 20000; i++) {
      const len = rand() % 64;
      const buf = new Uint8Array(len);
      for (let j = 0; j < len; j++) buf[j] = rand();
      if (i % 3 === 0 && len > 0) buf[0] = 0; // reach past the modifier1 check often
      if (i % 5 === 0 && len > 3) buf[2] = 0;
      kinds.add(parseRequest(buf).kind);
      const valid = encodeRequest({ REQUEST_METHOD: "GET", HTTP_A: String(i) });
      for (let k = 0; k < 3; k++) valid[4 + (rand() % (valid.length - 4))] = rand(); // corrupt a valid packet
      kinds.add(parseRequest(valid).kind);
    }
    assert.ok(kinds.has("error") && kinds.has("incomplete"));
  });
});

describe("vars to request", () => {
  test("the same request an HTTP client would have made", () => {
    const r = requestFromVars(NGINX_VARS);
    assert.equal(r.method, "POST");
    assert.equal(r.url, "http://example.test/path/x?a=1&b=2");
    assert.deepEqual(r.headers, [
      ["content-type", "application/json"],
      ["content-length", "7"],
      ["host", "example.test"],
      ["x-forwarded-for", "1.2.3.4"],
      ["user-agent", "curl/8"],
    ]);
    assert.equal(r.contentLength, 7);
    assert.deepEqual(r.remote, { hostname: "10.0.0.7", port: 51234 });
  });

  test("HTTPS, PATH_INFO + QUERY_STRING and SERVER_NAME:SERVER_PORT when the rest is missing", () => {
    const r = requestFromVars({ REQUEST_METHOD: "GET", HTTPS: "on", PATH_INFO: "/p", QUERY_STRING: "q=1", SERVER_NAME: "s.test", SERVER_PORT: "8443" });
    assert.equal(r.url, "https://s.test:8443/p?q=1");
    assert.equal(requestFromVars({ REQUEST_METHOD: "GET", HTTPS: "on", SERVER_NAME: "s.test", SERVER_PORT: "443" }).url, "https://s.test/");
  });

  test("a response head", () => {
    assert.equal(
      responseHead(404, "", [["content-length", "0"], ["set-cookie", "a=1"], ["set-cookie", "b=2"]]),
      "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n\r\n",
    );
  });
});

test("nginx's HTTP_CONTENT_LENGTH/TYPE do not double the CGI ones", () => {
  const parts = requestFromVars({
    REQUEST_METHOD: "POST",
    CONTENT_LENGTH: "5",
    HTTP_CONTENT_LENGTH: "5",
    CONTENT_TYPE: "text/plain",
    HTTP_CONTENT_TYPE: "text/plain",
    HTTP_HOST: "h",
  });
  assert.deepEqual(parts.headers.filter(([k]) => k.startsWith("content-")), [["content-length", "5"], ["content-type", "text/plain"]].sort());
  assert.equal(unsafeParts(parts), undefined);
  assert.match(unsafeParts({ ...parts, headers: [["x", "a\r\nb: c"]] }) ?? "", /invalid header "x"/);
});
