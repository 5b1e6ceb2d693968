/**
 * Fault injection on every runtime target: clients that abort or stall, app
 * streams that misbehave, a full disk, exhausted file descriptors, a master
 * killed hard, a second instance, racing starts. Each fault may end at most
 * its own connection or request; the worker serves on or is replaced.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest } from "node:http";
import { gzipSync } from "node:zlib";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { isAlive } from "../../src/master/pidfile.ts";
import { encodeRequest } from "../../src/protocol/uwsgi.ts";
import {
  ask,
  commandFor,
  engineOf,
  freePort,
  oneLine,
  rawSend,
  RUNTIMES,
  runTsgw,
  type Server,
  startTsgw,
  tempDir,
  waitForLog,
  withTsgw,
  workerPids,
} from "../helpers/tsgw.ts";

const FAULTS = "test/fixtures/faults.ts";
const ROOTED = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitGone(pid: number, ms: number): Promise<boolean> {
  for (const start = Date.now(); Date.now() - start < ms; await sleep(50)) if (!isAlive(pid)) return true;
  return false;
}

/** GET `path` and leave after `bytes` bytes of the body (a client that aborts a download). */
function abortAfter(server: Server, path: string, bytes: number): Promise<void> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: "127.0.0.1", port: server.port, path, agent: false }, (res) => {
      let n = 0;
      res.on("data", (d: Buffer) => {
        n += d.length;
        if (n >= bytes) {
          res.destroy();
          resolve();
        }
      });
      res.on("end", () => resolve());
    });
    req.on("error", () => resolve());
    req.end();
  });
}

/** A response read raw: what the server sent before closing, and whether it closed without a complete response. */
async function rawGet(port: number, path: string): Promise<string> {
  const { reply } = rawSend(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  return reply;
}

/** One request over a uwsgi unix socket: all the server sent before closing. */
function uwsgiGet(path: string, uri: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(path, () => sock.write(encodeRequest({ REQUEST_METHOD: "GET", REQUEST_URI: uri, HTTP_HOST: "x" })));
    let got = "";
    sock.on("data", (d) => (got += d));
    sock.on("error", () => {});
    sock.on("close", () => resolve(got));
    sock.setTimeout(5000, () => sock.destroy());
  });
}

let bigFile = "";
before(() => {
  bigFile = join(tempDir(), "big.bin");
  writeFileSync(bigFile, Buffer.alloc(8 * 1024 * 1024, 7));
});

for (const rt of RUNTIMES) {
  const engine = engineOf(rt);

  describe(`faults on ${rt}`, () => {
    test("a client that aborts streamed downloads ends only its response; the worker serves on", async () => {
      const server = await startTsgw(rt, [FAULTS, "-b", "127.0.0.1:0"]);
      try {
        const pid = (await ask(server, { path: "/pid" })).text;
        for (let i = 0; i < 3; i++) {
          await abortAfter(server, `/naive-file?path=${encodeURIComponent(bigFile)}`, 100_000);
          await abortAfter(server, `/web-file?path=${encodeURIComponent(bigFile)}`, 100_000);
          await abortAfter(server, `/own-file?path=${encodeURIComponent(bigFile)}`, 100_000);
        }
        await sleep(300);
        assert.equal((await ask(server, { path: "/pid" })).text, pid, "the same worker serves");
        const whole = await ask(server, { path: `/web-file?path=${encodeURIComponent(bigFile)}` });
        assert.equal(whole.body.length, 8 * 1024 * 1024);
        // the runtime's own file stream reaches its server as it is (tsgw encodes string chunks only of streams that can hold them),
        // and a header the app sets after asking for the body is sent (the fixture asks for it within the set)
        const own = await ask(server, { path: `/own-file?path=${encodeURIComponent(bigFile)}` });
        assert.equal(own.body.length, 8 * 1024 * 1024);
        assert.equal(own.headers["x-same-stream"], "true");
        assert.doesNotMatch(server.logs(), /exited unexpectedly/);
        // an event stream the client leaves is cancelled (its timer stops)
        await abortAfter(server, "/ticker", 30);
        let state = "";
        for (let i = 0; i < 40 && state !== "cancelled"; i++) {
          await sleep(50);
          state = (await ask(server, { path: "/ticker-state" })).text;
        }
        assert.equal(state, "cancelled");
      } finally {
        await server.stop();
      }
    });

    test("stream bodies: string chunks go out as UTF-8; a chunk that is not bytes gets a well-formed failure and a log line", async () => {
      const sock = join(tempDir(), "uwsgi.sock");
      const server = await startTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", "--socket", sock], { listeners: 2 });
      try {
        // over uwsgi too (every runtime serves it through tsgw's own writer)
        assert.match(await uwsgiGet(sock, "/strings"), /^HTTP\/1\.1 200 [^]*\r\n\r\n(hello world|[0-9a-f]+\r\nhello [^]*world)/);
        assert.match(await uwsgiGet(sock, "/bad-chunk"), /^(HTTP\/1\.1 500 Internal Server Error\r\n|$)/);
        const r = await ask(server, { path: "/strings" });
        assert.equal(r.status, 200);
        assert.equal(r.text, "hello world");
        // either a clean 500 (nothing sent yet) or a connection closed before a complete response
        const bad = await rawGet(server.port, "/bad-chunk");
        if (bad.startsWith("HTTP/1.1 500")) assert.match(bad, /^HTTP\/1\.1 500 Internal Server Error\r\n/);
        else assert.ok(!/\r\n0\r\n\r\n$/.test(bad) && !/content-length: 0/i.test(bad), `a truncated body must not look complete:\n${bad}`);
        if (engine !== "bun") await waitForLog(server, /\[ERROR\].*(chunk|bytes)/); // Bun.serve reports it itself
        assert.equal((await ask(server, { path: "/" })).text, "ok");
        assert.doesNotMatch(server.logs(), /exited unexpectedly/);
      } finally {
        await server.stop();
      }
    });

    test("an error no request owns (thrown in a timer) is logged with its stack, plain, and the worker serves on", async () => {
      const dir = tempDir();
      const errorLog = join(dir, "error.log");
      const server = await startTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", "--error-log", errorLog], { logFile: errorLog });
      try {
        const pid = (await ask(server, { path: "/pid" })).text;
        assert.equal((await ask(server, { path: "/throw-later" })).text, "answered");
        await waitForLog({ logs: () => readFileSync(errorLog, "utf8") }, /uncaught exception in the app.*late failure 1/);
        const text = readFileSync(errorLog, "utf8");
        assert.match(text, /late failure 1\n\s+at /, "the stack is in the error log");
        assert.ok(!text.includes("\x1b["), "no colour codes");
        assert.equal((await ask(server, { path: "/pid" })).text, pid);
      } finally {
        await server.stop();
      }
    });

    test("a full disk for the access log: requests are served, lines dropped and counted, said once, recovered when space is back", async () => {
      const dir = tempDir();
      const disk = join(dir, "disk");
      mkdirSync(disk);
      // a small tmpfs where mounting works (root); /dev/full (always full) elsewhere
      const mounted = ROOTED && spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", disk]).status === 0;
      const accessLog = mounted ? join(disk, "access.log") : "/dev/full";
      const filler = join(disk, "filler");
      if (mounted) {
        writeFileSync(accessLog, "");
        spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=4k", "count=1000"], { stdio: "ignore" }); // fills it
      }
      const server = await startTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", "--access-log", accessLog]);
      try {
        const pid = (await ask(server, { path: "/pid" })).text;
        for (let i = 0; i < 50; i++) assert.equal((await ask(server, { path: "/" })).status, 200);
        await waitForLog(server, /cannot write to log .*: .*(ENOSPC|space|No space)/i, 4000);
        assert.equal(server.logs().match(/cannot write to log/g)!.length, 1, "said once");
        assert.equal((await ask(server, { path: "/pid" })).text, pid, "the worker was not replaced");
        if (mounted) {
          rmSync(filler);
          await ask(server, { path: "/" });
          await waitForLog(server, /log .*access\.log can be written again; \d+ lines were dropped/, 4000);
          await ask(server, { path: "/after" });
          await waitForLog({ logs: () => readFileSync(accessLog, "utf8") }, /GET \/after/, 4000);
        }
      } finally {
        await server.stop();
        if (mounted) spawnSync("umount", ["-l", disk]);
      }
    });

    test("out of file descriptors: connections are shed, and the worker serves again (or is replaced) once fds free up", async () => {
      const [cmd, ...pre] = commandFor(rt);
      const quoted = [cmd!, ...pre, FAULTS, "-b", "127.0.0.1:0"].map((a) => `'${a}'`).join(" ");
      const server = await startTsgw(["bash", "-c", `ulimit -n 160 && exec ${quoted}`], []);
      const held: ReturnType<typeof connect>[] = [];
      try {
        for (let i = 0; i < 250; i++) held.push(connect(server.port, "127.0.0.1").on("error", () => {}));
        // the operator is told (the heartbeat's own check, once a second; Deno's server gives up and says so)
        await waitForLog(server, /out of file descriptors \(EMFILE\)|stopped serving: .*(Too many open files|EMFILE)/, 5000);
        for (const s of held) s.destroy();
        await sleep(500);
        let ok = "";
        for (let i = 0; i < 40 && ok !== "ok"; i++) {
          ok = await ask(server, { path: "/" }).then((r) => r.text, () => "");
          if (ok !== "ok") await sleep(250);
        }
        assert.equal(ok, "ok", `serves again:\n${server.logs()}`);
        assert.doesNotMatch(server.logs(), /exited unexpectedly/, "no worker crashed");
      } finally {
        for (const s of held) s.destroy();
        await server.stop();
      }
    });

    test("a worker killed hard on a unix socket is replaced and serves; a replacement's boot error reaches the master's log", async () => {
      const dir = tempDir();
      const sock = join(dir, "app.sock");
      const marker = join(dir, "fail-now");
      await withTsgw(rt, [FAULTS, "-b", `unix:${sock}`], async (server) => {
        const first = Number((await ask({ port: 0, socketPath: sock }, { path: "/pid" })).text);
        process.kill(first, "SIGKILL");
        let second = "";
        for (let i = 0; i < 60 && !/^\d+$/.test(second); i++) {
          await sleep(100);
          second = await ask({ port: 0, socketPath: sock }, { path: "/pid" }).then((r) => r.text, () => "");
        }
        assert.match(second, /^\d+$/, `a replacement serves:\n${server.logs()}`);
        assert.notEqual(Number(second), first);
        writeFileSync(marker, "");
        process.kill(Number(second), "SIGKILL");
        await waitForLog(server, /exited unexpectedly with code \d+: .*the database is gone \(fault injected at import\)/, 8000);
      }, { env: { FAULTS_FAIL_IF: marker } });
    });

    test("kill -9 of the master: a worker stuck in a loop exits, and tsgw restarts cleanly on the same port, unix socket and pidfile", async () => {
      const dir = tempDir();
      const pidfile = join(dir, "app.pid");
      const sock = join(dir, "app.sock");
      const probe = await startTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", "--socket", sock, "--pid", pidfile], { listeners: 2 });
      const port = probe.port;
      const [worker] = workerPids(probe);
      const hang = ask(probe, { path: "/hang" }).catch(() => undefined);
      await sleep(300);
      probe.child.kill("SIGKILL");
      assert.ok(await waitGone(worker!, 8000), "the stuck worker exited");
      await hang;
      await withTsgw(rt, [FAULTS, "-b", `127.0.0.1:${port}`, "--socket", sock, "--pid", pidfile], async (again) => {
        assert.equal((await ask(again, { path: "/" })).text, "ok");
        assert.equal(readFileSync(pidfile, "utf8").trim(), String(again.child.pid));
      }, { listeners: 2 });
    });

    test("a worker holds none of its master's own sockets (its control socket), nor do the app's child processes hold the worker's listeners", async () => {
      const dir = tempDir();
      const sock = join(dir, "app.sock");
      await withTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", "--socket", sock], async (server) => {
        const master = server.child.pid!;
        const [worker] = workerPids(server);
        // the inodes of the unix sockets listening at these paths (Linux's /proc/net/unix: ... Inode Path)
        const inodeAt = (path: string) => readFileSync("/proc/net/unix", "utf8").split("\n").map((l) => l.trim().split(/\s+/)).find((f) => f[7] === path)?.[6];
        const socketsOf = (pid: number) =>
          readdirSync(`/proc/${pid}/fd`).map((fd) => {
            try {
              return readlinkSync(`/proc/${pid}/fd/${fd}`);
            } catch {
              return "";
            }
          }).filter((l) => l.startsWith("socket:"));
        const control = inodeAt(join(tmpdir(), `tsgw-${master}.ctl`));
        assert.ok(control, "the master's control socket is listening");
        assert.ok(socketsOf(master).includes(`socket:[${control}]`));
        assert.ok(!socketsOf(worker!).includes(`socket:[${control}]`), "the worker does not hold the control socket");
        // a child process the app starts holds no socket of the worker's (its listeners, connections, IPC channel)
        const fds = (await ask(server, { path: "/child-fds" })).text;
        // (0-2 are its stdio, socket pairs where the runtime makes them so)
        const inherited = [...fds.matchAll(/ (\d+) -> (socket:\S+)/g)].filter((m) => Number(m[1]) > 2).map((m) => m[2]);
        assert.deepEqual(inherited, [], "the app's child process inherited no socket");
      }, { listeners: 2 });
    });

    test("kill -9 of the master: a request in flight is finished, then the worker exits", async () => {
      const server = await startTsgw(rt, [FAULTS, "-b", "127.0.0.1:0"]);
      const [worker] = workerPids(server);
      const slow = ask(server, { path: "/slow?ms=1500" });
      await sleep(300);
      server.child.kill("SIGKILL");
      const r = await slow;
      assert.equal(r.status, 200);
      assert.match(r.text, /^slow done/);
      assert.ok(await waitGone(worker!, 5000), "the orphaned worker exited");
    });

    test("a port that something else serves is refused with one line, even where workers share ports with SO_REUSEPORT", async () => {
      await withTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", "-w", "2"], async (first) => {
        const second = await runTsgw(rt, [FAULTS, "-b", `127.0.0.1:${first.port}`]);
        assert.equal(second.code, 1);
        assert.match(oneLine(second.stderr), /^cannot listen on http:\/\/127\.0\.0\.1:\d+: address already in use$/);
        assert.doesNotMatch(second.stderr, /Booting worker/, "refused before any worker started");
        // the line names the listener as configured: a uwsgi socket is no http:// address
        const uwsgi = await runTsgw(rt, [FAULTS, "--socket", `127.0.0.1:${first.port}`]);
        assert.equal(uwsgi.code, 1);
        assert.match(oneLine(uwsgi.stderr), /^cannot listen on uwsgi:\/\/127\.0\.0\.1:\d+: address already in use$/);
      });
    });

    test("two starts at once with one pidfile: exactly one runs, the other exits 1 with one line", async () => {
      const dir = tempDir();
      const pidfile = join(dir, "app.pid");
      const start = () =>
        runTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", "--pid", pidfile], { timeoutMs: 8000 }).catch((e) => ({ code: -1, stderr: String(e), stdout: "" }));
      const a = start();
      const b = start();
      // the winner serves until killed (its runTsgw times out); the loser exits 1
      const settled = await Promise.race([a.then((r) => ["a", r] as const), b.then((r) => ["b", r] as const)]);
      const [, loser] = settled;
      assert.equal(loser.code, 1, loser.stderr);
      assert.match(oneLine(loser.stderr), /already running with pid \d+|taken by another tsgw/);
      const pid = Number(readFileSync(pidfile, "utf8"));
      assert.ok(isAlive(pid));
      process.kill(pid, "SIGTERM");
      await Promise.all([a, b]);
    });

    test("two masters started at once on one port or unix socket: one serves it, the other waits for it to bind, then exits 1 with one line", async () => {
      const dir = tempDir();
      // -w 2 on TCP: where workers share a port with SO_REUSEPORT (Bun, Deno), both masters' workers could join it
      for (const [bind, workers] of [[`127.0.0.1:${await freePort()}`, "2"], [`unix:${join(dir, "app.sock")}`, "1"]] as const) {
        const pidfiles = ["a", "b"].map((name) => join(dir, `${name}.pid`));
        const runs = pidfiles.map((pid) =>
          runTsgw(rt, ["test/fixtures/slow-boot.mjs", "-b", bind, "-w", workers, "--pid", pid], { timeoutMs: 20_000 })
            .catch((e) => ({ code: -1, stderr: String(e), stdout: "" }))
        );
        // the winner serves until stopped; the loser exits 1 once the winner's workers have bound
        const [loser, other] = await Promise.race(runs.map((run, i) => run.then((r) => [r, runs[1 - i]!] as const)));
        assert.equal(loser.code, 1, loser.stderr);
        assert.match(oneLine(loser.stderr), /^cannot listen on (http:\/\/127\.0\.0\.1:\d+: address already in use|unix:.*: another process is serving on it)$/);
        assert.doesNotMatch(loser.stderr, /Booting worker/, `${bind}: refused before any worker started`);
        const winner = pidfiles.map((f) => existsSync(f) ? Number(readFileSync(f, "utf8")) : 0).find((pid) => pid && isAlive(pid));
        assert.ok(winner, `${bind}: one master serves`);
        process.kill(winner, "SIGTERM");
        assert.equal((await other).code, 0);
      }
    });

    test("responses as apps return them: a fetched one goes out decoded and whole, a wrong content-length or the app's own framing never puts a kept-alive connection out of step", async () => {
      const gzipped = gzipSync("hello gzip ".repeat(20));
      const upstream = createHttpServer((req, res) => {
        if (req.url === "/gzip") return void res.writeHead(200, { "content-encoding": "gzip", "content-length": gzipped.length }).end(gzipped);
        if (req.url === "/chunked") return void res.end(res.write("hello ") && "chunked");
        res.writeHead(200, { "content-length": 5, "keep-alive": "timeout=99" }).end("plain");
      });
      await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
      const env = { UPSTREAM: String((upstream.address() as { port: number }).port) };
      const agent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
      try {
        await withTsgw(rt, ["test/fixtures/responses.mjs", "-b", "127.0.0.1:0"], async (server) => {
          const get = (path: string) => ask(server, { path, agent });
          // one connection throughout: each answer must end where its framing says, or the connection with it
          const proxied = await get("/gzip");
          assert.equal(proxied.text, "hello gzip ".repeat(20));
          // fetch() decoded the body; Bun.serve sends the upstream's content-encoding on with it (a bare Bun.serve does too)
          assert.equal(proxied.headers["content-encoding"], engine === "bun" ? "gzip" : undefined);
          assert.equal((await get("/chunked")).text, "hello chunked");
          assert.equal((await get("/plain")).text, "plain");
          // a stream longer than its content-length: cut at that length (node:http, Deno.serve), or sent chunked (Bun.serve)
          assert.equal((await get("/long")).text, engine === "bun" ? "hello there" : "hello");
          assert.equal((await get("/exact")).text, "hello there");
          // a stream shorter than its content-length: its connection is cut (node:http, Deno.serve), or sent chunked (Bun.serve)
          if (engine === "bun") assert.equal((await get("/short")).text, "hello there");
          else await assert.rejects(get("/short"));
          assert.equal((await get("/exact")).text, "hello there");
          if (engine === "node") {
            await waitForLog(server, /the app's response body is longer than its content-length \(5 bytes\): the rest was not sent/);
            await waitForLog(server, /the app's response body ended 89 bytes short of its content-length \(100 bytes\); connection closed/);
          }
          const framing = await get("/framing");
          assert.equal(framing.text, "hello");
          assert.ok(!(framing.headers["transfer-encoding"] && framing.headers["content-length"]), "never both transfer-encoding and content-length");
          // node:http frames and keeps alive by tsgw's settings (Bun.serve and Deno.serve send the app's keep-alive header on)
          if (engine === "node") assert.equal(framing.headers["keep-alive"], "timeout=5");
          const empty = await get("/no-content");
          // Deno's Response refuses a body for a 204 (the app's error, a 500); node:http and Bun.serve send none
          assert.deepEqual(
            [empty.status, empty.text, empty.headers["content-length"]],
            engine === "deno" ? [500, "Internal Server Error", "21"] : [204, "", undefined],
          );
          assert.equal((await get("/exact")).text, "hello there");
        }, { env });
      } finally {
        agent.destroy();
        upstream.close();
      }
    });

    test("a pidfile that cannot be written is reported before any worker serves, leaving no control socket", async () => {
      const r = await runTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", "--pid", "/nonexistent/dir/app.pid"]);
      assert.equal(r.code, 1);
      assert.match(oneLine(r.stderr), /^cannot write pidfile \/nonexistent\/dir\/app\.pid: /);
      assert.doesNotMatch(r.stderr, /Booting worker|Listening at/);
      const pid = /\[(\d+)\]/.exec(r.stderr)?.[1];
      if (pid) assert.ok(!existsSync(join(tmpdir(), `tsgw-${pid}.ctl`)), "control socket removed");
    });

    test("a unix socket path over the OS limit is one line, exit 1, nothing left behind", async () => {
      const dir = tempDir();
      const long = join(dir, "x".repeat(120) + ".sock");
      const r = await runTsgw(rt, [FAULTS, "-b", `unix:${long}`]);
      assert.equal(r.code, 1);
      assert.match(oneLine(r.stderr), /unix socket path .* is \d+ bytes long; the OS allows at most 107/);
      assert.ok(!existsSync(long));
      assert.deepEqual(execFileSync("ls", [dir], { encoding: "utf8" }).trim(), "");
    });

    test("a stale control socket (master killed hard) is removed at the next start", async () => {
      const stale = join(tmpdir(), "tsgw-999999999.ctl");
      writeFileSync(stale, "");
      const server = await startTsgw(rt, [FAULTS, "-b", "127.0.0.1:0"]);
      try {
        assert.ok(!existsSync(stale));
      } finally {
        await server.stop();
      }
    });

    test("timeouts: a stalled request body and an idle keep-alive connection are closed; a slow request head gets 408", async (t) => {
      const nodeHttp = engine === "node"; // fetch apps on Bun and Deno are served by Bun.serve / Deno.serve
      const dir = tempDir();
      const uwsgiSock = join(dir, "uwsgi.sock");
      const server = await startTsgw(rt, [
        FAULTS,
        "-b",
        "127.0.0.1:0",
        "--socket",
        uwsgiSock,
        "--body-timeout",
        "1",
        "--keep-alive",
        "1",
        "--header-timeout",
        "1",
      ], { listeners: 2 });
      try {
        // uwsgi, every runtime: vars for a POST of 100 bytes, then 10 of them and silence
        const sock = connect(uwsgiSock);
        sock.on("error", () => {});
        const closed = new Promise<number>((r) => sock.on("close", () => r(Date.now())));
        const t0 = Date.now();
        sock.write(encodeRequest({ REQUEST_METHOD: "POST", REQUEST_URI: "/count", CONTENT_LENGTH: "100", HTTP_HOST: "x" }));
        sock.write(Buffer.alloc(10));
        const at = await Promise.race([closed, sleep(6000).then(() => 0)]);
        assert.ok(at && at - t0 < 5000, "uwsgi: a stalled body closes its connection");
        await waitForLog(server, /request body stalled for 1s \(body-timeout\)/);
        // HTTP
        const stalled = rawSend(server.port, "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789");
        const slowHead = rawSend(server.port, "GET / HTTP/1.1\r\nHost: x\r\n");
        const idle = connect(server.port, "127.0.0.1");
        idle.on("error", () => {});
        idle.resume(); // read what comes, so the server's close is seen
        const idleClosed = new Promise<boolean>((resolve) => {
          idle.once("connect", () => idle.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
          idle.once("close", () => resolve(true));
          setTimeout(() => resolve(false), 4000);
        });
        const [body, head, idleGone] = await Promise.all([
          Promise.race([stalled.reply.then(() => true), sleep(4000).then(() => false)]),
          Promise.race([slowHead.reply, sleep(4000).then(() => "")]),
          idleClosed,
        ]);
        stalled.sock.destroy();
        slowHead.sock.destroy();
        idle.destroy();
        if (nodeHttp) {
          assert.ok(body, "HTTP: a stalled body closes its connection");
          assert.match(head, /^HTTP\/1\.1 408 Request Timeout\r\n/);
          assert.ok(idleGone, "HTTP: an idle keep-alive connection is closed");
        } else {
          t.todo(
            `${
              engine === "bun" ? "Bun.serve applies its own fixed 10 s idle limit" : "Deno.serve has no body, header or idle timeout"
            }: see README, runtime limits`,
          );
        }
        assert.equal((await ask(server, { path: "/" })).text, "ok");
      } finally {
        await server.stop();
      }
    });

    test("body-timeout on node:http (a Node listener, every runtime): a kept-alive connection's second body stalls and is cut; a body that trickles in is served", async () => {
      const server = await startTsgw(rt, ["test/fixtures/faults-node.mjs", "-b", "127.0.0.1:0", "--body-timeout", "1"]);
      try {
        const t0 = Date.now();
        const kept = rawSend(
          server.port,
          "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
          "POST /count HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
        );
        const reply = await Promise.race([kept.reply, sleep(6000).then(() => "(still open)")]);
        kept.sock.destroy();
        assert.match(reply, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n5$/, "the first request is answered, then the connection is closed");
        assert.ok(Date.now() - t0 < 5000);
        // 60 bytes, 10 every 400 ms: 2.4 s in all, longer than body-timeout, never silent for it
        const trickle = rawSend(server.port, "POST /count HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 60\r\n\r\n");
        for (let i = 0; i < 6; i++) {
          await sleep(400);
          trickle.sock.write("0123456789");
        }
        assert.match(await trickle.reply, /\r\n\r\n60$/);
        await waitForLog(server, /request body stalled for 1s \(body-timeout/);
      } finally {
        await server.stop();
      }
    });

    test(
      "--user: supplementary groups are the user's, never root's, and a root-only-group file cannot be read",
      { skip: ROOTED ? undefined : "needs root" },
      async () => {
        const dir = tempDir();
        chmodSync(dir, 0o755);
        const secret = join(dir, "secret");
        writeFileSync(secret, "root only");
        chownSync(secret, 0, 0);
        chmodSync(secret, 0o640);
        for (const args of [["--user", "nobody"], ["--user", "nobody", "--group", "nogroup"]]) {
          const server = await startTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", ...args]);
          try {
            const info = JSON.parse((await ask(server, { path: "/groups" })).text);
            assert.equal(info.uid, 65534);
            assert.equal(info.gid, 65534);
            assert.ok(!info.groups.includes(0), `root's group dropped: ${JSON.stringify(info.groups)}`);
            const r = await ask(server, { path: `/read?path=${encodeURIComponent(secret)}` });
            assert.equal(r.status, 403);
            assert.equal(r.text, "EACCES");
          } finally {
            await server.stop();
          }
        }
      },
    );

    test("USR1 under --user: rotated log files are reopened by the workers", { skip: ROOTED ? undefined : "needs root" }, async () => {
      const dir = tempDir();
      chmodSync(dir, 0o755);
      const accessLog = join(dir, "access.log");
      const errorLog = join(dir, "error.log");
      const server = await startTsgw(rt, [FAULTS, "-b", "127.0.0.1:0", "--user", "nobody", "--access-log", accessLog, "--error-log", errorLog], {
        logFile: errorLog,
      });
      try {
        await ask(server, { path: "/before" });
        renameSync(accessLog, `${accessLog}.1`);
        renameSync(errorLog, `${errorLog}.1`);
        server.child.kill("SIGUSR1");
        await waitForLog({ logs: () => (existsSync(errorLog) ? readFileSync(errorLog, "utf8") : "") }, /Reopened log files/);
        await sleep(300);
        await ask(server, { path: "/after" });
        await waitForLog({ logs: () => (existsSync(accessLog) ? readFileSync(accessLog, "utf8") : "") }, /GET \/after/, 4000);
        assert.doesNotMatch(readFileSync(errorLog, "utf8") + readFileSync(`${errorLog}.1`, "utf8"), /cannot reopen/);
        assert.match(readFileSync(`${accessLog}.1`, "utf8"), /GET \/before/);
      } finally {
        await server.stop();
      }
    });

    test("fetch app on a unix socket with an access log: one line per request, max-requests at its value", async () => {
      const dir = tempDir();
      const sock = join(dir, "app.sock");
      const accessLog = join(dir, "access.log");
      const server = await startTsgw(rt, [FAULTS, "-b", `unix:${sock}`, "--access-log", accessLog, "--max-requests", "5"]);
      try {
        const at = { port: 0, socketPath: sock };
        const first = (await ask(at, { path: "/pid" })).text;
        for (let i = 0; i < 3; i++) await ask(at, { path: `/n${i}` });
        assert.equal((await ask(at, { path: "/pid" })).text, first, "still the first worker after 5 requests");
        await waitForLog(server, /retires: served 5 requests/, 5000);
        await server.stop();
        const lines = readFileSync(accessLog, "utf8").trim().split("\n");
        assert.equal(lines.filter((l) => / \/n0 /.test(l)).length, 1, lines.join("\n"));
      } finally {
        await server.stop();
      }
    });
  });
}

/** The first line the server answers to `text` (a kept-alive connection need not close first), or "" after 3 s. */
function statusLine(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1", () => sock.write(text));
    let got = "";
    const done = () => {
      sock.destroy();
      resolve(got);
    };
    sock.on("data", (d) => {
      got += d;
      if (got.includes("\r\n")) done();
    });
    sock.on("error", done);
    sock.on("close", done);
    sock.setTimeout(3000, done);
  });
}

/**
 * What a client gets for each malformed request, by the server that parses
 * it; the README's table ("Malformed requests") says the same.
 */
const MALFORMED: [name: string, text: string, expect: Record<"node:http" | "Bun.serve" | "Deno.serve", string>][] = [
  ["garbage request line", "HELLO\r\n\r\n", { "node:http": "400", "Bun.serve": "400", "Deno.serve": "400" }],
  ["unknown HTTP version", "GET / HTTP/9.9\r\nHost: x\r\n\r\n", { "node:http": "400", "Bun.serve": "505", "Deno.serve": "400" }],
  ["header name with a space", "GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", { "node:http": "400", "Bun.serve": "400", "Deno.serve": "400" }],
  ["non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", { "node:http": "400", "Bun.serve": "400", "Deno.serve": "400" }],
  ["Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", {
    "node:http": "400",
    "Bun.serve": "400",
    "Deno.serve": "400",
  }],
  ["headers over 80 KB", `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(81920)}\r\n\r\n`, { "node:http": "431", "Bun.serve": "431", "Deno.serve": "400" }],
  ["bare LF line endings", "GET / HTTP/1.1\nHost: x\n\n", { "node:http": "400", "Bun.serve": "505", "Deno.serve": "200" }],
];

/**
 * A Host header no URL can be made of, sent to a fetch app that parses its
 * request's URL; what the app then sees, by the server that made the Request
 * (the README's "Malformed requests" says the same). `400`: refused, and no
 * error line; a path: the app served that path.
 */
const BAD_HOSTS: [host: string, expect: Record<"node:http" | "Bun.serve" | "Deno.serve", string>][] = [
  ["a b", { "node:http": "400", "Bun.serve": "/p", "Deno.serve": "400" }],
  ["[::1", { "node:http": "400", "Bun.serve": "400", "Deno.serve": "400" }],
  // the host's path would be the app's: Deno.serve makes its URL of it as it came
  ["a/b?c", { "node:http": "400", "Bun.serve": "/p", "Deno.serve": "/b" }],
  ["user@evil", { "node:http": "400", "Bun.serve": "/p", "Deno.serve": "/p" }],
  ["a%2Fb", { "node:http": "400", "Bun.serve": "400", "Deno.serve": "400" }],
  // an empty Host is a missing one: the URL says localhost (node:http), or the server's own address
  ["", { "node:http": "/p", "Bun.serve": "/p", "Deno.serve": "/p" }],
  ["[::1]:8080", { "node:http": "/p", "Bun.serve": "/p", "Deno.serve": "/p" }],
  ["xn--caf-dma.example", { "node:http": "/p", "Bun.serve": "/p", "Deno.serve": "/p" }],
];

for (const rt of RUNTIMES) {
  const parser = engineOf(rt) === "node" ? "node:http" : engineOf(rt) === "bun" ? "Bun.serve" : "Deno.serve";
  test(`a Host header no URL can be made of gets 400 from a fetch app, never a 500 or an error line (${rt})`, async () => {
    await withTsgw(rt, ["test/fixtures/echo-path.mjs", "-b", "127.0.0.1:0"], async (server) => {
      for (const [host, expect] of BAD_HOSTS) {
        const reply = await rawSend(server.port, `GET /p HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`).reply;
        const got = reply.startsWith("HTTP/1.1 400 ") ? "400" : /\r\n\r\napp GET (\S+)$/.exec(reply)?.[1] ?? reply.split("\r\n")[0];
        assert.equal(got, expect[parser], `Host: ${JSON.stringify(host)} on ${parser}`);
      }
      assert.equal((await ask(server, { path: "/ok" })).text, "app GET /ok");
      assert.doesNotMatch(server.logs(), /ERROR/);
    });
  });
}

for (const rt of RUNTIMES) {
  const engine = engineOf(rt);
  for (const [kind, app] of [["fetch app", FAULTS], ["Node listener", "test/fixtures/faults-node.mjs"]] as const) {
    test(`malformed requests get what the README says (${kind}, ${rt})`, async () => {
      const parser = kind === "Node listener" || engine === "node" ? "node:http" : engine === "bun" ? "Bun.serve" : "Deno.serve";
      await withTsgw(rt, [app, "-b", "127.0.0.1:0"], async (server) => {
        for (const [name, text, expect] of MALFORMED) {
          const got = await statusLine(server.port, text);
          assert.match(got, new RegExp(`^HTTP/1\\.1 ${expect[parser]} `), `${name} on ${parser}: got ${JSON.stringify(got.split("\r\n")[0])}`);
        }
        assert.equal((await ask(server, { path: "/" })).text, "ok");
      });
    });
  }
}
