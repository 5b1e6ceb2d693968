/**
 * A real nginx in front of tsgw, on every runtime: `uwsgi_pass` to tsgw's
 * uwsgi socket and `proxy_pass` to its HTTP unix socket, with the same
 * requests through both. Skips only when nginx is not installed, saying so.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import WebSocket from "ws";
import { request as httpRequest } from "node:http";
import { ask, engineOf, freePort, type RuntimeName, RUNTIMES, type Server, startTsgw, systemTool, tempDir, waitForLog } from "../helpers/tsgw.ts";

/** GET a streamed response: resolves `first` once `marker` has arrived, `all` at the end. */
function streamed(port: number, path: string, marker: string): { first: Promise<void>; all: Promise<string> } {
  let seen!: () => void;
  const first = new Promise<void>((r) => (seen = r));
  const all = new Promise<string>((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let text = "";
      res.on("data", (d) => {
        text += d;
        if (text.includes(marker)) seen();
      });
      res.on("end", () => resolve(text));
    })
      .on("error", reject)
      .end();
  });
  return { first, all };
}

const { path: NGINX, skip: SKIP } = systemTool(["/usr/sbin/nginx", "/usr/bin/nginx"], "nginx", "nginx tests");
const { path: CHROMIUM, skip: CHROMIUM_SKIP } = systemTool(["/usr/bin/chromium", "/usr/bin/chromium-browser"], "chromium", "browser test");

/** How nginx reaches tsgw: the four setups an operator may choose. */
const FRONTS = ["uwsgi_pass unix", "uwsgi_pass tcp", "proxy_pass --http-socket", "proxy_pass -b unix"] as const;
type Front = (typeof FRONTS)[number];

interface Nginx {
  ports: Record<Front, number>;
  stop(): Promise<void>;
}

async function startNginx(dir: string, upstreams: Record<Front, string>, http = ""): Promise<Nginx> {
  const ports = {} as Record<Front, number>;
  for (const f of FRONTS) ports[f] = await freePort();
  const params = existsSync("/etc/nginx/uwsgi_params") ? "include /etc/nginx/uwsgi_params;" : "";
  const servers = FRONTS.map((f) => {
    // proxy_pass as nginx's docs set it up for WebSockets: HTTP/1.1 and the Upgrade/Connection headers passed on
    const pass = f.startsWith("uwsgi")
      ? `${params} uwsgi_pass ${upstreams[f]};`
      : `proxy_pass http://${
        upstreams[f]
      }; proxy_set_header Host $host; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade;`;
    return `  server { listen 127.0.0.1:${ports[f]}; location / { ${pass} } }`;
  });
  writeFileSync(
    join(dir, "nginx.conf"),
    `${process.getuid?.() === 0 ? "user root root;" : ""}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; uwsgi_temp_path ${dir}/uwsgi;
  fastcgi_temp_path ${dir}/fastcgi; scgi_temp_path ${dir}/scgi;
  client_max_body_size 20m;
  # streamed responses pass through as they are written (the fastest setup for streaming apps)
  uwsgi_buffering off; proxy_buffering off;
  map $http_upgrade $connection_upgrade { default upgrade; "" close; }
  ${http}
${servers.join("\n")}
}
`,
  );
  const child: ChildProcess = spawn(NGINX!, ["-p", dir, "-c", join(dir, "nginx.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${err}`);
    try {
      await ask({ port: ports["proxy_pass --http-socket"] }, { path: "/" });
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    ports,
    async stop() {
      child.kill("SIGQUIT");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    },
  };
}

/**
 * tsgw serving `app` on a uwsgi unix socket, a uwsgi TCP port, an HTTP unix
 * socket (--http-socket) and a `-b unix:` bind, nginx in front of each (set
 * up by the enclosing describe's hooks). Two workers; one on Bun, which
 * cannot share a unix socket between workers.
 */
function behindNginx(
  rt: RuntimeName,
  app: string,
  extra: () => string[] = () => [],
  nginxHttp = "",
): { readonly dir: string; port(front: Front): number; logs(): string } {
  let server: Server | undefined;
  let nginx: Nginx | undefined;
  let dir = "";
  before(async () => {
    dir = tempDir();
    const sock = (name: string) => join(dir, name);
    const workers = engineOf(rt) === "bun" ? "1" : "2";
    server = await startTsgw(
      rt,
      [
        app,
        ...extra(),
        "-w",
        workers,
        "--socket",
        sock("uwsgi.sock"),
        "--socket",
        "127.0.0.1:0",
        "--http-socket",
        sock("http.sock"),
        "-b",
        `unix:${sock("bind.sock")}`,
      ],
      { listeners: 4 },
    );
    const uwsgiPort = /Listening at: uwsgi:\/\/127\.0\.0\.1:(\d+)/.exec(server.logs())![1];
    nginx = await startNginx(dir, {
      "uwsgi_pass unix": `unix:${sock("uwsgi.sock")}`,
      "uwsgi_pass tcp": `127.0.0.1:${uwsgiPort}`,
      "proxy_pass --http-socket": `unix:${sock("http.sock")}`,
      "proxy_pass -b unix": `unix:${sock("bind.sock")}`,
    }, nginxHttp);
  });
  after(async () => {
    await nginx?.stop();
    await server?.stop();
  });
  return {
    get dir() {
      return dir;
    },
    port: (front) => nginx!.ports[front],
    logs: () => server!.logs(),
  };
}

for (const rt of RUNTIMES) {
  describe(`nginx in front, on ${rt}`, { skip: SKIP }, () => {
    const front = behindNginx(rt, "test/fixtures/fetch");

    for (const via of FRONTS) {
      const port = () => front.port(via);

      test(`${via}: method, path, query, headers and the client address arrive as over HTTP`, async () => {
        const r = await ask({ port: port() }, { path: "/info?x=1&y=%20z", headers: { "x-custom": "yes", cookie: "a=1" } });
        assert.equal(r.status, 200, r.text);
        const info = JSON.parse(r.text);
        assert.equal(info.method, "GET");
        const url = new URL(info.url);
        assert.equal(url.pathname + url.search, "/info?x=1&y=%20z");
        assert.equal(info.headers["x-custom"], "yes");
        assert.equal(info.headers.cookie, "a=1");
        if (via.startsWith("uwsgi")) assert.equal(info.remoteAddr.hostname, "127.0.0.1");
      });

      test(`${via}: a 10 MB upload arrives intact`, async () => {
        const big = Buffer.alloc(10 * 1024 * 1024);
        for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
        const r = await ask({ port: port() }, { method: "POST", path: "/sha1", body: big, headers: { "content-type": "application/octet-stream" } });
        assert.equal(r.status, 200);
        assert.equal(r.text, createHash("sha1").update(big).digest("hex"));
      });

      test(`${via}: status and several set-cookie headers`, async () => {
        const r = await ask({ port: port() }, { path: "/cookies" });
        assert.equal(r.status, 201);
        assert.deepEqual(r.headers["set-cookie"], ["a=1; Path=/", "b=2; Path=/"]);
      });

      test(`${via}: a streamed response reaches the client as it is written (buffering off)`, async () => {
        const file = join(tempDir(), "release");
        const { first, all } = streamed(port(), `/stream-until?file=${encodeURIComponent(file)}`, "first;");
        await first; // before the app was told to finish
        writeFileSync(file, "");
        assert.equal(await all, "first;second;");
      });

      test(`${via}: an app error is a 500, and the worker keeps serving`, async () => {
        assert.equal((await ask({ port: port() }, { path: "/throw" })).status, 500);
        assert.equal((await ask({ port: port() }, { path: "/" })).text, "hello world");
      });
    }

    test("nginx logged no upstream errors", () => {
      const log = existsSync(join(front.dir, "nginx-error.log")) ? readFileSync(join(front.dir, "nginx-error.log"), "utf8") : "";
      assert.doesNotMatch(log, /upstream prematurely closed|\[error\]/, log);
    });
  });
}

for (const rt of RUNTIMES) {
  for (const [app, from] of [["crossws.mjs", "crossws"], ["express-ws.cjs", "express"]] as const) {
    // the fronts at once: each test is mostly a quiet spell
    describe(`WebSockets behind nginx (${app}), on ${rt}`, { skip: SKIP, concurrency: true }, () => {
      // read timeouts shorter than a quiet spell: only tsgw's pings (every second) keep the tunnels open;
      // Bun.serve's timers tick every 4 s, so its pings may come that much later (README, WebSockets)
      const readTimeout = engineOf(rt) === "bun" ? 9 : 3;
      const front = behindNginx(
        rt,
        `test/fixtures/ws/${app}`,
        () => ["--websocket-ping", "1", "--access-log", "-"],
        `proxy_read_timeout ${readTimeout}s; uwsgi_read_timeout ${readTimeout}s;`,
      );
      for (const via of FRONTS) {
        test(`${via}: an echo through the tunnel, and another after a quiet spell longer than nginx's read timeout`, async () => {
          const ws = new WebSocket(`ws://127.0.0.1:${front.port(via)}/ws`);
          const closed = once(ws, "close");
          const echo = (text: string) =>
            new Promise<string | number>((resolve, reject) => {
              ws.once("message", (d) => resolve(String(d)));
              ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
              ws.once("error", reject);
              if (ws.readyState === WebSocket.OPEN) ws.send(text);
              else ws.once("open", () => ws.send(text));
            });
          assert.equal(await echo("through nginx"), `echo through nginx from ${from}`);
          const quiet = await Promise.race([closed.then(() => "closed by nginx"), new Promise((r) => setTimeout(r, readTimeout * 1000 + 1500, "open"))]);
          // On Bun, `ws` over node:http is Bun's own, pinged by Bun every 120 s, not tsgw (README, WebSockets)
          const bunOwn = engineOf(rt) === "bun" && app === "express-ws.cjs" && via.startsWith("proxy");
          assert.equal(quiet, bunOwn ? "closed by nginx" : "open");
          if (!bunOwn) assert.equal(await echo("after a while"), `echo after a while from ${from}`);
          ws.terminate();
        });
      }
      if (app === "crossws.mjs") {
        test(
          "a real browser (headless Chromium) loads a page through nginx whose script opens a WebSocket and reports the echo",
          { skip: CHROMIUM_SKIP },
          async () => {
            for (const via of ["proxy_pass --http-socket", "uwsgi_pass unix"] as const) {
              const browser = spawn(CHROMIUM!, [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                `--user-data-dir=${tempDir()}`,
                `http://127.0.0.1:${front.port(via)}/page?via=${via.split(" ")[0]}`,
              ], {
                stdio: "ignore",
              });
              try {
                // the page's script reports what the WebSocket echoed; the access log has it
                await waitForLog(
                  front,
                  new RegExp(`"GET /report\\?echo%20from%20the%20browser%20from%20crossws HTTP/1\\.[01]" 204 [^\\n]*/page\\?via=${via.split(" ")[0]}`),
                  30_000,
                );
              } finally {
                browser.kill("SIGKILL");
              }
            }
          },
        );
      }
    });
  }

  for (const app of ["test/fixtures/echo-path.mjs", "test/fixtures/listen/node-res.mjs"]) {
    describe(`nginx in front of --static-map (${app}), on ${rt}`, { skip: SKIP }, () => {
      const root = tempDir();
      const big = Buffer.alloc(200_000, 7);
      writeFileSync(join(root, "big.bin"), big);
      const front = behindNginx(rt, app, () => ["--static-map", `/files=${root}`]);
      for (const via of FRONTS) {
        test(`${via}: a file whole, a range, HEAD, and 304 on its ETag`, async () => {
          const port = { port: front.port(via) };
          const whole = await ask(port, { path: "/files/big.bin" });
          assert.equal(whole.status, 200);
          assert.equal(whole.body.length, big.length);
          const part = await ask(port, { path: "/files/big.bin", headers: { range: "bytes=100-199" } });
          assert.equal(part.status, 206);
          assert.equal(part.headers["content-range"], `bytes 100-199/${big.length}`);
          assert.equal(part.body.length, 100);
          const head = await ask(port, { method: "HEAD", path: "/files/big.bin" });
          assert.equal(head.headers["content-length"], String(big.length));
          const again = await ask(port, { path: "/files/big.bin", headers: { "if-none-match": whole.headers.etag! } });
          assert.equal(again.status, 304);
        });
      }
    });
  }
}

for (const rt of RUNTIMES) {
  describe(`nginx in front of a Node listener, on ${rt}`, { skip: SKIP }, () => {
    const front = behindNginx(rt, "test/fixtures/node-info.mjs");

    for (const via of FRONTS) {
      const port = () => front.port(via);

      test(`${via}: req, res, cookies, a 1 MB body and a streamed response`, async () => {
        const r = await ask({ port: port() }, { path: "/created?x=1", headers: { "x-custom": "yes" } });
        assert.equal(r.status, 201);
        assert.deepEqual(r.headers["set-cookie"], ["a=1; Path=/", "b=2; Path=/"]);
        const info = JSON.parse(r.text);
        assert.equal(info.url, "/created?x=1");
        assert.equal(info.headers["x-custom"], "yes");
        if (via.startsWith("uwsgi")) assert.equal(info.remoteAddress, "127.0.0.1");
        const up = await ask({ port: port() }, { method: "POST", path: "/up", body: Buffer.alloc(1024 * 1024, 7) });
        assert.equal(JSON.parse(up.text).bodySize, 1024 * 1024);
        const file = join(tempDir(), "release");
        const { first, all } = streamed(port(), `/stream-until?file=${encodeURIComponent(file)}`, "first;");
        await first;
        writeFileSync(file, "");
        assert.equal(await all, "first;second;");
      });
    }
  });
}

/** Peak and current resident memory of a process, in MB (Linux). */
function memoryOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { peak: kb("VmHWM"), now: kb("VmRSS") };
}

/** GET a large answer through nginx: its size and sha1, read as it arrives. */
function download(port: number, path: string): Promise<{ status: number; size: number; sha1: string }> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      const hash = createHash("sha1");
      let size = 0;
      res.on("data", (d: Buffer) => {
        size += d.length;
        hash.update(d);
      });
      res.on("end", () => resolve({ status: res.statusCode!, size, sha1: hash.digest("hex") }));
      res.on("error", reject);
    })
      .on("error", reject)
      .setTimeout(60_000, function (this: { destroy(e: Error): void }) {
        this.destroy(new Error(`${path} timed out`));
      })
      .end();
  });
}

for (const rt of RUNTIMES) {
  // 100 MB: Deno collects the chunks it sent lazily (about 60 MB at peak, whatever the size), an answer held whole costs all of it
  describe(`nginx in front of a Node listener writing 100 MB with backpressure, on ${rt}`, { skip: SKIP }, () => {
    const front = behindNginx(rt, "test/fixtures/faults-node.mjs");
    const MB = 100;
    let file = "";
    let expected = "";
    before(() => {
      file = join(tempDir(), "big.bin");
      const big = Buffer.alloc(MB * 1024 * 1024);
      for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i);
      writeFileSync(file, big);
      expected = createHash("sha1").update(big).digest("hex");
    });

    for (const via of ["uwsgi_pass unix", "uwsgi_pass tcp"] as const) {
      test(`${via}: a piped file (express.static's way) and a write loop that waits for "drain" arrive whole, worker memory bounded`, async (t) => {
        const port = front.port(via);
        const pid = Number((await ask({ port }, { path: "/pid" })).text);
        const before = memoryOf(pid).now;
        const piped = await download(port, `/file?path=${encodeURIComponent(file)}`);
        assert.equal(piped.status, 200);
        assert.equal(piped.size, MB * 1024 * 1024);
        assert.equal(piped.sha1, expected);
        const looped = await download(port, `/drain?mb=${MB}`);
        assert.equal(looped.size, MB * 1024 * 1024);
        // an answer held whole in the worker would add 50 MB; streamed with backpressure it adds a few buffers
        const grew = memoryOf(pid).peak - before;
        t.diagnostic(`worker peak memory grew by ${grew.toFixed(1)} MB`);
        assert.ok(grew < MB * 0.9, `worker memory grew by ${grew.toFixed(1)} MB while sending ${MB} MB`);
      });
    }
  });
}
