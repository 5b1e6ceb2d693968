/**
 * WebSockets, with the `ws` package as the client, on every runtime: the
 * portable APIs (crossws hooks; ws, @hono/node-ws and Hono's helpers on a
 * node:http server), each runtime's own (Bun's server.upgrade, Deno's
 * upgradeWebSocket, Elysia's .ws on Bun), and handshakes nothing takes.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { join } from "node:path";
import { describe, test } from "node:test";
import WebSocket from "ws";
import { io as ioClient } from "socket.io-client";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { BIN, engineOf, FIXTURES, rawSend, RUNTIMES, type Server, startTsgw, tempDir, waitForLog, withTsgw } from "../helpers/tsgw.ts";
import { closeCode, type Frame, rawWebSocket } from "../helpers/websocket.ts";
import { encodeRequest } from "../../src/protocol/uwsgi.ts";

const WS = join(FIXTURES, "ws");
const PYTHON = "/usr/bin/python3"; // Debian's, where python3-websockets is
/** a client in the runtime's own WebSocket (the URL is its last argument) */
const SCRIPT = `const url = (globalThis.Deno ? Deno.args : process.argv.slice(-1)).at(-1);
const ws = new WebSocket(url);
ws.onopen = () => ws.send("hi");
ws.onmessage = (e) => { console.log(e.data); ws.close(); };
ws.onerror = () => { console.log("failed"); };`;
const LOCAL = ["-b", "127.0.0.1:0"];

/** An open client socket to the server, or the refusal's status. */
function connect(server: Server, path: string, protocols?: string[]): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}`, protocols);
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once("error", reject);
  });
}

async function open(server: Server, path = "/ws"): Promise<WebSocket> {
  const ws = await connect(server, path);
  assert.ok(ws instanceof WebSocket, `the handshake for ${path} was refused with ${ws}`);
  return ws;
}

/** Send one message and take the next one back. */
async function roundTrip(ws: WebSocket, data: string | Buffer): Promise<{ data: Buffer; binary: boolean }> {
  const reply = once(ws, "message") as Promise<[Buffer, boolean]>;
  ws.send(data);
  const [got, binary] = await reply;
  return { data: got, binary };
}

async function closeCleanly(ws: WebSocket): Promise<number> {
  const closed = once(ws, "close") as Promise<[number, Buffer]>;
  ws.close(4001, "bye");
  const [code] = await closed;
  return code;
}

for (const rt of RUNTIMES) {
  const engine = engineOf(rt);
  // the cases at once, each with its own server: most of their time is waiting (pings, graceful stops)
  describe(`WebSockets on ${rt}`, { concurrency: 6 }, () => {
    test("crossws hooks: echo, an upgrade hook's refusal (401), 100 sockets at once, a clean close", async () => {
      await withTsgw(rt, ["crossws.mjs", ...LOCAL, "-w", "1"], async (server) => {
        const ws = await open(server);
        assert.equal(String((await roundTrip(ws, "hi")).data), "echo hi from crossws");
        assert.equal(await connect(server, "/ws?token=bad"), 401);
        const many = await Promise.all(Array.from({ length: 100 }, () => open(server)));
        const replies = await Promise.all(many.map((s, i) => roundTrip(s, `n${i}`)));
        replies.forEach((r, i) => assert.equal(String(r.data), `echo n${i} from crossws`));
        await Promise.all(many.map(closeCleanly));
        assert.equal(await closeCleanly(ws), 4001);
      }, { cwd: WS });
    });

    test("crossws hooks, the protocol's details: a fragmented message, a subprotocol chosen by the upgrade hook, permessage-deflate offered, a close from the server, 1000 sockets on one worker", async () => {
      await withTsgw(rt, ["crossws.mjs", ...LOCAL, "-w", "1"], async (server) => {
        const ws = await open(server);
        const whole = once(ws, "message");
        ws.send("frag", { fin: false });
        ws.send("mented", { fin: true });
        assert.equal(String((await whole)[0]), "echo fragmented from crossws");
        // (one offered: Deno.upgradeWebSocket splits the offer on ", " only, and the ws client joins with ",")
        const chat = await connect(server, "/ws", ["chat"]);
        assert.ok(chat instanceof WebSocket);
        assert.equal(chat.protocol, "chat");
        const deflate = await new Promise<WebSocket>((resolve, reject) => {
          const c = new WebSocket(`ws://127.0.0.1:${server.port}/ws?deflate`, { perMessageDeflate: true });
          c.once("open", () => resolve(c)).once("error", reject);
        });
        const compressible = "z".repeat(10_000);
        assert.equal(String((await roundTrip(deflate, compressible)).data), `echo ${compressible} from crossws`);
        // crossws negotiates it per request on ws (Node's adapter); Bun.serve and Deno.upgradeWebSocket leave it off
        assert.equal(deflate.extensions, engine === "node" ? "permessage-deflate" : "");
        const closed = once(chat, "close") as Promise<[number, Buffer]>;
        chat.send("close me");
        const [code, reason] = await closed;
        assert.deepEqual([code, String(reason)], [4003, "server says bye"]);
        const many = await Promise.all(Array.from({ length: 1000 }, () => open(server)));
        const replies = await Promise.all(many.map((s, i) => roundTrip(s, `m${i}`)));
        replies.forEach((r, i) => assert.equal(String(r.data), `echo m${i} from crossws`));
        await Promise.all([ws, deflate, ...many].map(closeCleanly));
      }, { cwd: WS });
    });

    test("ws attached to a self-listening Express server: text, a 1 MB binary message, ping/pong, close code and reason", async () => {
      await withTsgw(rt, ["express-ws.cjs", ...LOCAL, "-w", "2"], async (server) => {
        const ws = await open(server);
        assert.equal(String((await roundTrip(ws, "hi")).data), "echo hi from express");
        const big = Buffer.alloc(1024 * 1024, 7);
        const echoed = await roundTrip(ws, big);
        assert.ok(echoed.binary);
        assert.ok(echoed.data.equals(big));
        const pong = once(ws, "pong");
        ws.ping("are you there");
        assert.equal(String((await pong)[0]), "are you there");
        const closed = once(ws, "close") as Promise<[number, Buffer]>;
        ws.close(4002, "done here");
        const [code, reason] = await closed;
        assert.equal(code, 4002);
        assert.equal(String(reason), "done here");
      }, { cwd: WS });
    });

    test("an exported Node listener with an onServer(server) export attaching ws", async () => {
      await withTsgw(rt, ["hook.mjs", ...LOCAL], async (server) => {
        const ws = await open(server);
        assert.equal(String((await roundTrip(ws, "hi")).data), "echo hi from hook");
        await closeCleanly(ws);
      }, { cwd: WS });
    });

    test("Hono's upgradeWebSocket from the runtime's own helper (hono/bun, hono/deno, @hono/node-ws's injectWebSocket)", async () => {
      await withTsgw(rt, ["hono.mjs", ...LOCAL], async (server) => {
        const ws = await open(server);
        assert.equal(String((await roundTrip(ws, "hi")).data), `echo hi from hono on ${engine}`);
        await closeCleanly(ws);
        assert.doesNotMatch(server.logs(), /found no WebSocket handler|returned undefined/);
      }, { cwd: WS });
    });

    test("the runtime's own API: Bun's server.upgrade() and publish(), Elysia's .ws(); Deno.upgradeWebSocket()", async (t) => {
      if (engine === "bun") {
        await withTsgw(rt, ["bun-native.ts", ...LOCAL], async (server) => {
          const [a, b] = [await open(server), await open(server)];
          assert.equal(String((await roundTrip(a, "hi")).data), "echo hi from bun");
          const toRoom = once(b, "message");
          a.send("broadcast");
          assert.equal(String((await toRoom)[0]), "to the room");
          assert.doesNotMatch(server.logs(), /returned undefined|found no WebSocket handler/);
          await Promise.all([a, b].map(closeCleanly)); // an open socket would hold the graceful stop (README, WebSockets)
        }, { cwd: WS });
        await withTsgw(rt, ["elysia.ts", ...LOCAL], async (server) => {
          const ws = await open(server);
          assert.equal(String((await roundTrip(ws, "hi")).data), "echo hi from elysia");
          await closeCleanly(ws);
        }, { cwd: WS });
      } else if (engine === "deno") {
        await withTsgw(rt, ["deno-native.ts", ...LOCAL], async (server) => {
          const ws = await open(server);
          assert.equal(String((await roundTrip(ws, "hi")).data), "echo hi from deno");
          await closeCleanly(ws);
        }, { cwd: WS });
      } else t.diagnostic("Node has no WebSocket server API of its own: the portable ones above are Node's");
    });

    test("limits: a message over --websocket-max-size closes that socket with 1009; hostile frames close only their own connection", async () => {
      await withTsgw(rt, ["crossws.mjs", ...LOCAL, "-w", "1", "--websocket-max-size", "64"], async (server) => {
        const bystander = await open(server);
        const still = async (n: string) => assert.equal(String((await roundTrip(bystander, n)).data), `echo ${n} from crossws`);
        const fits = await open(server);
        assert.equal((await roundTrip(fits, "x".repeat(60 * 1024))).data.length, 60 * 1024 + "echo  from crossws".length);
        const closed = once(fits, "close") as Promise<[number, Buffer]>;
        fits.send("x".repeat(70 * 1024));
        // Deno.upgradeWebSocket has no size option: its own limit (64 MiB) holds, and the message is echoed
        if (engine === "deno") assert.equal((await once(fits, "message"))[0].length, 70 * 1024 + 18);
        else assert.equal((await closed)[0], 1009);
        fits.terminate();
        await still("after 1009");
        // what each server answers (README, WebSockets): ws and Bun close with the RFC's code; Deno closes without a
        // close frame, and takes an unmasked client frame as if it were masked
        const hostile: [string, Buffer, number | "echoed"][] = [
          ["an unmasked client frame", Buffer.from([0x81, 0x02, 0x68, 0x69]), engine === "deno" ? "echoed" : 1002],
          ["a reserved opcode", Buffer.from([0x83, 0x80, 1, 2, 3, 4]), 1002],
          ["invalid UTF-8 in a text frame", Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe]), 1007],
          ["a 2^63-1 length", Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]), 1009],
        ];
        for (const [what, bytes, expected] of hostile) {
          const raw = await rawWebSocket(server.port);
          raw.sock.write(bytes);
          if (expected === "echoed") assert.ok(await raw.next((f) => String(f.payload) === "echo hi from crossws"), what);
          else {
            await raw.closed;
            const close = raw.frames.find((f) => f.opcode === 8);
            assert.equal(engine === "deno" ? close : closeCode(close), engine === "deno" ? undefined : expected, what);
          }
          raw.sock.destroy();
          await still(`after ${what}`);
        }
        await closeCleanly(bystander);
      }, { cwd: WS });
    });

    for (const [app, owner] of [["crossws.mjs", "tsgw's"], ["express-ws.cjs", "the app's own ws"]] as const) {
      test(`--websocket-ping: a quiet socket (${owner}) gets pings${app === "crossws.mjs" ? "; a peer that never answers is closed" : ""}`, async () => {
        await withTsgw(rt, [app, ...LOCAL, "-w", "1", "--websocket-ping", "1"], async (server) => {
          const raw = await rawWebSocket(server.port);
          const bunWs = engine === "bun" && app === "express-ws.cjs";
          const ping = await raw.next((f: Frame) => f.opcode === 9, bunWs ? 2500 : 12_000);
          // On Bun, `ws` is Bun's own implementation, served by Bun.serve inside node:http: Bun pings (every 120 s), not tsgw
          if (bunWs) assert.equal(ping, undefined);
          else assert.ok(ping, "no ping within 12 s");
          if (app === "crossws.mjs") {
            // never answered: closed within a few intervals (Bun's timer ticks every 4 s)
            const ended = await Promise.race([raw.closed.then(() => "closed"), new Promise((r) => setTimeout(r, 20_000, "still open"))]);
            assert.equal(ended, "closed");
          }
          raw.sock.destroy();
          // a client that answers (ws does, by itself) stays open across many intervals
          const ws = await open(server);
          await new Promise((r) => setTimeout(r, 2500));
          assert.equal(ws.readyState, WebSocket.OPEN);
          await closeCleanly(ws);
        }, { cwd: WS });
      });
    }

    for (const app of ["crossws.mjs", "express-ws.cjs"]) {
      test(`${app}: open WebSockets and their messages per worker in --stats, an access-log line with 101 at each upgrade, sockets outliving --timeout`, async () => {
        const stats = join(tempDir(), "stats.sock");
        // On Bun, `ws` is Bun's own implementation inside node:http: its sockets are neither counted nor logged (README)
        const seen = engine === "bun" && app === "express-ws.cjs" ? 0 : 3;
        await withTsgw(rt, [app, ...LOCAL, "-w", "2", "--stats", stats, "--access-log", "-", "--timeout", "6"], async (server) => {
          const sockets = await Promise.all([1, 2, 3].map(() => open(server)));
          const counts = async () => {
            const doc = JSON.parse(
              // uWSGI's way: connect and read (an HTTP client that is slow to send its request gets this too)
              await new Promise<string>((resolve, reject) => {
                let body = "";
                createConnection(stats).on("data", (d) => (body += d)).on("end", () => resolve(body)).on("error", reject);
              }),
            ) as { workers: { webSockets: { open: number; opened: number; messagesIn: number; messagesOut: number } }[] };
            const sum = (k: "open" | "opened" | "messagesIn" | "messagesOut") => doc.workers.reduce((n, w) => n + w.webSockets[k], 0);
            return [sum("open"), sum("opened"), sum("messagesIn"), sum("messagesOut")];
          };
          for (let i = 0; i < 30 && (await counts())[0] !== seen; i++) await new Promise((r) => setTimeout(r, 200));
          assert.deepEqual(await counts(), [seen, seen, 0, 0]);
          // (access log lines are written at least every second)
          if (seen) await waitForLog(server, /(?:"GET \/ws HTTP\/1\.1" 101 [^]*){3}/);
          // open longer than --timeout, quiet: no worker is killed for it (a boot on a busy machine needs the 6 s)
          await new Promise((r) => setTimeout(r, 7000));
          for (const ws of sockets) assert.equal(String((await roundTrip(ws, "late")).data), `echo late from ${app === "crossws.mjs" ? "crossws" : "express"}`);
          await Promise.all(sockets.map(closeCleanly));
          for (let i = 0; i < 30 && (await counts())[0] !== 0; i++) await new Promise((r) => setTimeout(r, 200));
          // one message each way per socket ("late" and its echo)
          assert.deepEqual(await counts(), [0, seen, seen, seen]);
          assert.doesNotMatch(server.logs(), /timed out|killed/);
        }, { cwd: WS });
      });
    }

    for (const [app, echo] of [["express-ws.cjs", "from express"], ["crossws.mjs", "from crossws"]] as const) {
      test(`a reload (HUP) with WebSockets open (${app}): each gets close 1001 before --graceful-timeout ends, and reconnects to the new generation`, async () => {
        await withTsgw(rt, [app, ...LOCAL, "-w", "1", "--graceful-timeout", "3"], async (server) => {
          const sockets = await Promise.all(Array.from({ length: 100 }, () => open(server)));
          await Promise.all(sockets.map((ws) => roundTrip(ws, "before")));
          const codes = Promise.all(sockets.map((ws) => once(ws, "close").then(([code]) => code as number)));
          server.child.kill("SIGHUP");
          assert.deepEqual(await codes, Array(100).fill(1001));
          const again = await Promise.all(sockets.map(() => open(server)));
          for (const ws of again) assert.equal(String((await roundTrip(ws, "after")).data), `echo after ${echo}`);
          await Promise.all(again.map(closeCleanly));
        }, { cwd: WS });
      });
    }

    test("over uwsgi: crossws hooks and a Node listener's ws answer 101 on the connection (nginx tunnels it); the runtime's own WebSocket APIs get 501 naming proxy_pass", async () => {
      const handshake = encodeRequest({
        REQUEST_METHOD: "GET",
        REQUEST_URI: "/ws",
        HTTP_HOST: "t.test",
        HTTP_UPGRADE: "websocket",
        HTTP_CONNECTION: "Upgrade",
        HTTP_SEC_WEBSOCKET_KEY: "dGhlIHNhbXBsZSBub25jZQ==",
        HTTP_SEC_WEBSOCKET_VERSION: "13",
        REMOTE_ADDR: "10.1.2.3",
      });
      const native = engine === "bun" ? "bun-native.ts" : engine === "deno" ? "deno-native.ts" : "../../fixtures/fetch";
      for (const app of ["crossws.mjs", "express-ws.cjs", native]) {
        await withTsgw(rt, [app, "--socket", "127.0.0.1:0"], async (server) => {
          const port = Number(new URL(server.url.replace(/^uwsgi:/, "http:")).port);
          // a tunnel stays open: what comes within a moment is the answer's head
          const reply = await new Promise<string>((resolve) => {
            let text = "";
            const sock = createConnection(port, "127.0.0.1", () => sock.write(handshake));
            const done = () => (sock.destroy(), resolve(text));
            sock.on("data", (d) => (text += d)).on("close", done).on("error", done);
            setTimeout(done, 1500);
          });
          if (app === native) {
            assert.match(reply, /^HTTP\/1\.1 501 /, app);
            assert.match(reply, /proxy_pass to an --http-socket listener/);
          } else assert.match(reply, /^HTTP\/1\.1 101 Switching Protocols\r\n/, app);
        }, { cwd: WS });
      }
    });

    for (const app of ["socketio.cjs", "socketio-hook.mjs"]) {
      test(`Socket.IO (${app === "socketio.cjs" ? "its own http.Server, listening" : "through the onServer hook"}), websocket transport, -w 2: every client gets its acknowledgement`, async () => {
        await withTsgw(rt, [app, ...LOCAL, "-w", "2"], async (server) => {
          const clients = Array.from({ length: 8 }, () => ioClient(`http://127.0.0.1:${server.port}`, { transports: ["websocket"], reconnection: false }));
          const acks = await Promise.all(clients.map((c, i) => c.timeout(10_000).emitWithAck("echo", `n${i}`) as Promise<string>));
          acks.forEach((a, i) => assert.match(a, new RegExp(`^echo n${i} from socket\\.io in \\d+$`)));
          for (const c of clients) c.disconnect();
        }, { cwd: WS });
      });
    }

    test("other clients: Python's websockets, Bun's and Deno's built-in WebSocket", async (t) => {
      const clients: [string, string[]][] = [
        [
          "python3-websockets",
          [
            PYTHON,
            "-c",
            "import asyncio, sys, websockets\nasync def main():\n  async with websockets.connect(sys.argv[1]) as ws:\n    await ws.send('hi')\n    print(await ws.recv())\nasyncio.run(main())",
          ],
        ],
        ["bun", [join(BIN, "bun"), "-e", SCRIPT]],
        ["deno", [join(BIN, "deno"), "eval", SCRIPT]],
      ];
      await withTsgw(rt, ["crossws.mjs", ...LOCAL], async (server) => {
        for (const [name, argv] of clients) {
          if (!existsSync(argv[0]!)) {
            t.diagnostic(`${name}: ${argv[0]} is not installed (apt-get install -y python3-websockets; .ci/run installs it)`);
            continue;
          }
          const url = `ws://127.0.0.1:${server.port}/ws`;
          const out = execFileSync(argv[0]!, [...argv.slice(1), url], { encoding: "utf8", timeout: 20_000, env: { ...process.env, NO_COLOR: "1" } });
          assert.equal(out.trim(), "echo hi from crossws", name);
        }
      }, { cwd: WS });
    });

    test("TERM with WebSockets open: each gets close 1001 before --graceful-timeout ends, and the master exits 0", async () => {
      const server = await startTsgw(rt, ["express-ws.cjs", ...LOCAL, "-w", "1", "--graceful-timeout", "3"], { cwd: WS });
      try {
        const sockets = await Promise.all(Array.from({ length: 20 }, () => open(server)));
        const codes = Promise.all(sockets.map((ws) => once(ws, "close").then(([code]) => code as number)));
        assert.equal(await server.stop("SIGTERM"), 0);
        assert.deepEqual(await codes, Array(20).fill(1001));
      } finally {
        await server.stop();
      }
    });

    for (const [kind, app] of [["fetch app", "test/fixtures/fetch"], ["Node listener", "test/fixtures/express.cjs"]] as const) {
      test(`${kind} without WebSocket handling: a handshake gets 426, a warning and an access-log line, never the GET route's 200; Upgrade: h2c, or a POST asking for a WebSocket, is an ordinary request`, async () => {
        await withTsgw(rt, [app, ...LOCAL, "--access-log", "-", "--access-log-format", "%(m)s %(U)s %(s)s"], async (server) => {
          assert.equal(await connect(server, "/"), 426);
          await waitForLog(server, /a WebSocket upgrade for \/ found no WebSocket handler: answered 426/);
          await waitForLog(server, /^GET \/ 426$/m);
          const h2c = await rawSend(
            server.port,
            "GET / HTTP/1.1\r\nhost: x\r\nconnection: Upgrade, HTTP2-Settings, close\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
          ).reply;
          assert.match(h2c, /^HTTP\/1\.1 200/);
          // a handshake is a GET (RFC 6455): a POST with the same headers gets what a POST gets
          const post = (headers: string) => rawSend(server.port, `POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\n${headers}\r\n`).reply;
          const plain = (await post("connection: close\r\n")).split("\r\n")[0];
          const asking = "connection: Upgrade, close\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
          // Deno.serve answers a non-GET that asks to upgrade with 400 itself, before any app (a bare Deno.serve does too)
          const expected = engine === "deno" && kind === "fetch app" ? "HTTP/1.1 400 Bad Request" : plain;
          assert.equal((await post(asking)).split("\r\n")[0], expected);
          assert.doesNotMatch(plain!, /426/);
        });
      });
    }
  });
}
