/**
 * The benchmark script works (not how fast anything is: timings do not
 * belong in tests): scripts/bench --smoke on node writes its report.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, systemTool, tempDir } from "../helpers/tsgw.ts";

const { skip: SKIP } = systemTool(["/usr/bin/wrk", "/usr/local/bin/wrk"], "wrk", "benchmark smoke test");

test("scripts/bench --smoke runs every kind of scenario and writes the report and chart", { skip: SKIP, timeout: 300_000 }, () => {
  const out = tempDir();
  const r = spawnSync(join(ROOT, "scripts", "bench"), ["--smoke", "--out", out], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, TSGW_RUNTIMES: "node" },
    timeout: 280_000,
  });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const md = readFileSync(join(out, "benchmarks.md"), "utf8");
  for (const group of ["tsgw vs bare runtime", "access log", "metrics", "https"]) assert.match(md, new RegExp(`\\| ${group} \\| node \\|`));
  assert.match(md, /\| node \| fetch app, 1 process, hello \| @hono\/node-server \|/);
  assert.match(md, /\| node \| fetch app, 1 process, json \|/);
  assert.match(md, /\| node \| fetch app, 1 process, 64k \|/);
  assert.match(md, /## Reloads under load\n[\s\S]*\| node \| \d+ \| 2 \|/);
  assert.match(md, /## Cold start\n[\s\S]*\| node \| \d+ ms \|/);
  if (existsSync("/usr/sbin/nginx")) assert.match(md, /\| behind nginx \| node \| tsgw, 1 worker, unix \| proxy_pass \|/);
  assert.doesNotMatch(md, /\| 0 \| tsgw \| 0 \|/, "a scenario measured nothing");
  assert.match(readFileSync(join(out, "benchmarks.svg"), "utf8"), /^<svg [\s\S]*<rect /);
});
