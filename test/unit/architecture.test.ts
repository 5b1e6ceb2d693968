/**
 * The import rules of docs/architecture.md, checked on the sources: which
 * part may import which, and the nevers (the master never loads the app nor
 * a runtime's servers, the uwsgi codec and the worker messages are pure, config runs nothing, only
 * src/runtime/* asks which runtime it is on).
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, test } from "node:test";
import { ROOT } from "../helpers/tsgw.ts";

const SRC = join(ROOT, "src");

function sources(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** The part a file belongs to: its folder under src/, or its own name for the files at the top. */
function partOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes("/") ? rel.slice(0, rel.indexOf("/")) : rel.replace(/\.ts$/, "");
}

interface Edge {
  from: string;
  to: string;
  /** import("...") rather than a static import */
  dynamic: boolean;
  typeOnly: boolean;
}

function importsOf(file: string): Edge[] {
  const text = readFileSync(file, "utf8");
  const edges: Edge[] = [];
  for (const m of text.matchAll(/^import (type )?[^;]*?from "(\.[^"]+)"/gms)) {
    edges.push({ from: file, to: resolve(dirname(file), m[2]!), dynamic: false, typeOnly: Boolean(m[1]) });
  }
  for (const m of text.matchAll(/import\("(\.[^"]+)"\)/g)) edges.push({ from: file, to: resolve(dirname(file), m[1]!), dynamic: true, typeOnly: false });
  return edges;
}

/** What each part may import (besides itself), as docs/architecture.md draws it. */
const ALLOWED: Record<string, string[]> = {
  errors: [],
  version: [],
  "dynamic-import": [],
  protocol: [],
  app: ["dynamic-import", "errors"],
  log: ["errors"],
  config: ["errors", "log", "app/contract", "protocol"],
  hooks: ["config", "errors", "log"],
  runtime: ["app", "config/address", "dynamic-import", "errors", "log", "protocol"],
  worker: ["app", "config", "dynamic-import", "errors", "hooks", "log", "protocol", "runtime"],
  master: ["config", "dynamic-import", "errors", "hooks", "log", "protocol", "runtime/socket-files", "runtime/types", "version", "worker/user"],
  cli: ["app/spec", "config", "errors", "log", "master", "protocol", "runtime", "version", "worker"],
  index: ["app/contract", "config", "version"],
};

/** The target of an edge as the rules name it: a part, or part/file. */
function allowedBy(rule: string, target: string): boolean {
  const rel = relative(SRC, target).replace(/\.ts$/, "");
  return rel === rule || rel.startsWith(`${rule}/`);
}

/** Source text without comments and string literals: what the code says, not what it tells. */
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:])\/\/.*$/gm, "$1")
    .replace(/`(?:\\.|[^`\\])*`|"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'/g, '""');
}

describe("architecture (docs/architecture.md)", () => {
  const files = sources();
  const edges = files.flatMap(importsOf);

  test("every part imports only what docs/architecture.md allows", () => {
    const wrong: string[] = [];
    for (const e of edges) {
      if (!e.to.startsWith(SRC)) continue; // demo/, the bundled demo app
      const from = partOf(e.from);
      const to = partOf(e.to);
      if (from === to) continue;
      const rules = ALLOWED[from];
      assert.ok(rules, `${relative(ROOT, e.from)}: no rules for part "${from}" (add it to docs/architecture.md and this test)`);
      if (!rules.some((r) => allowedBy(r, e.to))) wrong.push(`${relative(ROOT, e.from)} -> ${relative(ROOT, e.to)}`);
    }
    assert.deepEqual(wrong, []);
  });

  test("the master never loads the app: no import of src/app from the master, and the CLI reaches app loading only when it serves alone", () => {
    for (const e of edges) {
      const from = partOf(e.from);
      if (from === "master") assert.ok(!allowedBy("app", e.to) || e.typeOnly, `${relative(ROOT, e.from)} imports ${relative(ROOT, e.to)}`);
      if (from === "cli" && (allowedBy("worker", e.to) || allowedBy("app", e.to))) {
        assert.ok(e.dynamic, `${relative(ROOT, e.from)} imports ${relative(ROOT, e.to)} statically`);
      }
    }
  });

  test("a master loads no runtime's servers: what the CLI, the master and the runtimes' cores import statically never reaches them", () => {
    const reached = new Set<string>();
    const visit = (file: string): void => {
      if (reached.has(file)) return;
      reached.add(file);
      for (const e of edges) if (e.from === file && !e.dynamic && !e.typeOnly) visit(e.to);
    };
    for (const file of ["cli.ts", "master/arbiter.ts", "runtime/node.ts", "runtime/bun.ts", "runtime/deno.ts"]) visit(join(SRC, file));
    const serving = [...reached].map((f) => relative(SRC, f)).filter((f) =>
      /^runtime\/(\w+-servers|node-server|native-server|file-body|crossws)\.ts$|^(app|worker\/(?!user\.ts))/.test(f)
    );
    assert.deepEqual(serving, []);
  });

  test("the uwsgi codec and the worker messages are pure: no I/O module", () => {
    for (const file of ["protocol/uwsgi.ts", "protocol/worker.ts"]) {
      const text = readFileSync(join(SRC, file), "utf8");
      assert.doesNotMatch(text, /from "node:(fs|net|http|child_process|cluster|dgram|tls)"/, file);
    }
  });

  test("only src/runtime/* asks which runtime it is on", () => {
    for (const file of files) {
      if (partOf(file) === "runtime") continue;
      const text = code(readFileSync(file, "utf8"));
      assert.doesNotMatch(text, /\b(Bun|Deno)\s*\.|typeof (Bun|Deno)\b|versions\s*\.\s*(bun|deno)\b|\bin globalThis\b/, relative(ROOT, file));
    }
  });

  test("config runs nothing: no server, process or app module is imported by it", () => {
    for (const e of edges) {
      if (partOf(e.from) === "config") {
        assert.ok(!["runtime", "worker", "master"].includes(partOf(e.to)), `${relative(ROOT, e.from)} -> ${relative(ROOT, e.to)}`);
      }
    }
  });
});
