/** App specs and interface detection. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { detectInterface } from "../../src/app/detect.ts";
import { parseAppSpec } from "../../src/app/spec.ts";

describe("app specs", () => {
  test("PATH[:NAME] and NAME()", () => {
    assert.deepEqual(parseAppSpec("demo:app"), { text: "demo:app", path: "demo", name: "app", factory: false });
    assert.deepEqual(parseAppSpec("src/server.ts"), { text: "src/server.ts", path: "src/server.ts", name: undefined, factory: false });
    assert.deepEqual(parseAppSpec("app:create()"), { text: "app:create()", path: "app", name: "create", factory: true });
    assert.deepEqual(parseAppSpec("./a/b.mjs:$x"), { text: "./a/b.mjs:$x", path: "./a/b.mjs", name: "$x", factory: false });
  });

  test("callable (uWSGI) fills in a missing NAME", () => {
    assert.deepEqual(parseAppSpec("demo", "application"), { text: "demo", path: "demo", name: "application", factory: false });
    assert.deepEqual(parseAppSpec("demo:app", "other"), { text: "demo:app", path: "demo", name: "app", factory: false });
  });

  test("bad specs", () => {
    assert.match(parseAppSpec("") as string, /empty/);
    assert.match(parseAppSpec(":app") as string, /names no module/);
    assert.match(parseAppSpec("demo:a-b") as string, /must be an export name/);
  });
});

describe("interface detection (auto)", () => {
  const kind = (v: unknown) => {
    const d = detectInterface(v, "auto");
    return typeof d === "string" ? d : d.kind;
  };

  test("fetch shapes", () => {
    assert.equal(kind((req: Request) => new Response(req.url)), "fetch");
    assert.equal(kind(() => new Response("x")), "fetch");
    assert.equal(kind((_req: Request, info: unknown) => new Response(String(info))), "fetch");
    assert.equal(kind({ fetch: () => new Response("x") }), "fetch");
    assert.equal(
      kind(
        new (class {
          fetch() {
            return new Response("x");
          }
        })(),
      ),
      "fetch",
    );
  });

  test("node shapes", () => {
    assert.equal(kind((req: unknown, res: unknown) => [req, res]), "node");
    assert.equal(
      kind(function (request: unknown, response: unknown) {
        return [request, response];
      }),
      "node",
    );
    assert.equal(kind((a: unknown, b: unknown, next: unknown) => [a, b, next]), "node");
    const express = Object.assign((req: unknown, res: unknown, next?: unknown) => [req, res, next], { use() {}, handle() {}, listen() {} });
    assert.equal(kind(express), "node");
    assert.equal(kind({ callback: () => (req: unknown, res: unknown) => [req, res] }), "node");
  });

  test("the reason is given, and --interface overrides", () => {
    const d = detectInterface((req: unknown, ctx: unknown) => [req, ctx], "auto");
    assert.ok(typeof d !== "string" && d.kind === "fetch" && /--interface node/.test(d.reason));
    const forced = detectInterface((req: unknown, ctx: unknown) => [req, ctx], "node");
    assert.ok(typeof forced !== "string" && forced.kind === "node");
  });

  test("unusable values say what they are", () => {
    assert.match(kind(42) as string, /a number \(42\) is not an app/);
    assert.match(kind({ a: 1 }) as string, /an object with keys a is not an app/);
    assert.match(kind({ callback: () => 5 }) as string, /callback\(\) returned a number/);
    assert.match(detectInterface(42, "fetch") as string, /cannot be a fetch handler/);
  });
});
