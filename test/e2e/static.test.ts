/** --static-map: files before the app, on every runtime, for fetch apps and Node listeners, over HTTP and uwsgi. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { before, describe, test } from "node:test";
import { ask, rawSend, RUNTIMES, type Server, tempDir, withTsgw } from "../helpers/tsgw.ts";

const BIG = Buffer.from(Buffer.alloc(300_000, 0).map((_, i) => (i * 7919) % 251));
const sha = (b: Buffer) => createHash("sha1").update(b).digest("hex");

/** A static folder with what each case needs, and a secret beside it. */
function staticTree(): string {
  const dir = tempDir();
  const root = join(dir, "public");
  mkdirSync(join(root, "sub"), { recursive: true });
  writeFileSync(join(root, "site.css"), "body { color: red }\n");
  writeFileSync(join(root, "big.bin"), BIG);
  writeFileSync(join(root, "empty.txt"), "");
  writeFileSync(join(root, "page.html"), "<h1>plain</h1>\n");
  writeFileSync(join(root, "page.html.gz"), gzipSync("<h1>plain</h1>\n"));
  writeFileSync(join(root, "app.js"), "console.log(1)\n");
  writeFileSync(join(root, "app.js.br"), "pretend-brotli");
  writeFileSync(join(root, "app.js.gz"), gzipSync("console.log(1)\n"));
  writeFileSync(join(root, ".env"), "SECRET=1\n");
  writeFileSync(join(dir, "secret.txt"), "outside the root\n");
  symlinkSync(join(dir, "secret.txt"), join(root, "leak.txt"));
  symlinkSync(join(root, "site.css"), join(root, "alias.css"));
  return root;
}

for (const rt of RUNTIMES) {
  for (const [kind, app] of [["fetch app", "test/fixtures/echo-path.mjs"], ["Node listener", "test/fixtures/listen/node-res.mjs"]] as const) {
    describe(`--static-map on ${rt}, ${kind}`, () => {
      let root: string;
      before(() => {
        root = staticTree();
      });
      const serve = (fn: (server: Server) => Promise<void>) => withTsgw(rt, [app, "-b", "127.0.0.1:0", "--static-map", `/static=${root}`], fn);
      const fromApp = (text: string, path: string) => assert.match(text, new RegExp(`^(app GET|nodeRes) ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`));

      test("a file: type, length, ETag, Last-Modified, accept-ranges; HEAD has the headers and no body", async () => {
        await serve(async (server) => {
          const r = await ask(server, { path: "/static/site.css" });
          assert.equal(r.status, 200);
          assert.equal(r.text, "body { color: red }\n");
          assert.equal(r.headers["content-type"], "text/css; charset=utf-8");
          assert.equal(r.headers["content-length"], "20");
          assert.match(r.headers.etag!, /^"[0-9a-f]+-[0-9a-f]+"$/);
          assert.equal(r.headers["last-modified"], new Date(Math.floor(statSync(join(root, "site.css")).mtimeMs / 1000) * 1000).toUTCString());
          assert.equal(r.headers["accept-ranges"], "bytes");
          const head = await ask(server, { method: "HEAD", path: "/static/site.css" });
          assert.equal(head.status, 200);
          assert.equal(head.headers["content-length"], "20");
          assert.equal(head.body.length, 0);
          const big = await ask(server, { path: "/static/big.bin" });
          assert.equal(big.headers["content-type"], "application/octet-stream");
          assert.equal(sha(big.body), sha(BIG));
          const empty = await ask(server, { path: "/static/empty.txt" });
          assert.equal(empty.status, 200);
          assert.equal(empty.headers["content-length"], "0");
        });
      });

      test("conditional requests: If-None-Match and If-Modified-Since answer 304", async () => {
        await serve(async (server) => {
          const first = await ask(server, { path: "/static/site.css" });
          const inm = await ask(server, { path: "/static/site.css", headers: { "if-none-match": `"nope", ${first.headers.etag}` } });
          assert.equal(inm.status, 304);
          assert.equal(inm.body.length, 0);
          assert.equal(inm.headers.etag, first.headers.etag);
          const ims = await ask(server, { path: "/static/site.css", headers: { "if-modified-since": first.headers["last-modified"]! } });
          assert.equal(ims.status, 304);
          const old = await ask(server, { path: "/static/site.css", headers: { "if-modified-since": new Date(0).toUTCString() } });
          assert.equal(old.status, 200);
          const other = await ask(server, { path: "/static/site.css", headers: { "if-none-match": '"other"' } });
          assert.equal(other.status, 200);
        });
      });

      test("ranges: 206 with content-range, a suffix range, 416 past the end, If-Range", async () => {
        await serve(async (server) => {
          const r = await ask(server, { path: "/static/big.bin", headers: { range: "bytes=1000-1999" } });
          assert.equal(r.status, 206);
          assert.equal(r.headers["content-range"], `bytes 1000-1999/${BIG.length}`);
          assert.equal(r.headers["content-length"], "1000");
          assert.equal(sha(r.body), sha(BIG.subarray(1000, 2000)));
          const tail = await ask(server, { path: "/static/big.bin", headers: { range: "bytes=-10" } });
          assert.equal(tail.status, 206);
          assert.deepEqual(tail.body, BIG.subarray(BIG.length - 10));
          const open = await ask(server, { path: "/static/big.bin", headers: { range: `bytes=${BIG.length - 3}-` } });
          assert.deepEqual(open.body, BIG.subarray(BIG.length - 3));
          const past = await ask(server, { path: "/static/big.bin", headers: { range: `bytes=${BIG.length}-` } });
          assert.equal(past.status, 416);
          assert.equal(past.headers["content-range"], `bytes */${BIG.length}`);
          const etag = r.headers.etag!;
          const fresh = await ask(server, { path: "/static/big.bin", headers: { range: "bytes=0-9", "if-range": etag } });
          assert.equal(fresh.status, 206);
          const stale = await ask(server, { path: "/static/big.bin", headers: { range: "bytes=0-9", "if-range": '"stale"' } });
          assert.equal(stale.status, 200);
          assert.equal(stale.body.length, BIG.length);
        });
      });

      test("precompressed siblings: .br, then .gz, when accepted; Vary either way", async () => {
        await serve(async (server) => {
          const br = await ask(server, { path: "/static/app.js", headers: { "accept-encoding": "gzip, br" } });
          assert.equal(br.headers["content-encoding"], "br");
          assert.equal(br.text, "pretend-brotli");
          assert.equal(br.headers["content-type"], "text/javascript; charset=utf-8");
          assert.equal(br.headers.vary, "accept-encoding");
          const gz = await ask(server, { path: "/static/page.html", headers: { "accept-encoding": "gzip" } });
          assert.equal(gz.headers["content-encoding"], "gzip");
          assert.equal(gz.headers["content-type"], "text/html; charset=utf-8");
          const refused = await ask(server, { path: "/static/app.js", headers: { "accept-encoding": "br;q=0, gzip" } });
          assert.equal(refused.headers["content-encoding"], "gzip");
          const plain = await ask(server, { path: "/static/app.js" });
          assert.equal(plain.headers["content-encoding"], undefined);
          assert.equal(plain.text, "console.log(1)\n");
          assert.equal(plain.headers.vary, "accept-encoding");
        });
      });

      test("refused with 404: climbing out (encoded ..), a symlink leading out, dot files; a symlink inside is served", async () => {
        await serve(async (server) => {
          for (const path of ["/static/leak.txt", "/static/.env", "/static/%00x", "/static/..%2fsecret.txt"]) {
            const r = await ask(server, { path });
            assert.equal(r.status, 404, path);
            assert.equal(r.text, "Not Found", path);
          }
          // a URL parser may resolve an encoded dot segment first (Bun's does: the request is then for /secret.txt, the app's):
          // either way nothing from outside the root is sent
          for (const path of ["/static/%2e%2e/secret.txt", "/static/sub/%2e%2e/%2e%2e/secret.txt"]) {
            const r = await ask(server, { path });
            assert.ok((r.status === 404 && r.text === "Not Found") || /^(app GET|nodeRes) \/secret\.txt$/.test(r.text), `${path}: ${r.status} ${r.text}`);
          }
          const raw = await rawSend(server.port, "GET /static/../secret.txt HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").reply;
          assert.doesNotMatch(raw, /outside the root/);
          assert.equal((await ask(server, { path: "/static/alias.css" })).text, "body { color: red }\n");
        });
      });

      test("the app answers a missing file, a folder (no listings), other methods, and paths outside the prefix", async () => {
        await serve(async (server) => {
          fromApp((await ask(server, { path: "/static/missing.css" })).text, "/static/missing.css");
          fromApp((await ask(server, { path: "/static/sub" })).text, "/static/sub");
          fromApp((await ask(server, { path: "/staticky" })).text, "/staticky");
          fromApp((await ask(server, { path: "/other" })).text, "/other");
          const post = await ask(server, { method: "POST", path: "/static/site.css", body: "x" });
          assert.match(post.text, /^(app POST|nodeRes) \/static\/site\.css$/);
        });
      });
    });
  }
}
