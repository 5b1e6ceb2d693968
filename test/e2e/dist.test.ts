/** The entry points a user types from a checkout: npx (the package bin) and deno task. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT } from "../helpers/tsgw.ts";

const PATH = `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`;

test("npx tsgw runs the package's bin on Node", () => {
  const r = spawnSync("npx", ["--no-install", "tsgw", "--version"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH }, timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tsgw \d+\.\d+\.\d+ \(node /);
});

test("deno task serve runs src/cli.ts on Deno", () => {
  const r = spawnSync("deno", ["task", "-q", "serve", "--version"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH, NO_COLOR: "1" }, timeout: 30000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tsgw \d+\.\d+\.\d+ \(deno /);
});
