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
import { engineOf, FIXTURES, rawSend, RUNTIMES, type Server, waitForLog, withTsgw } from "../helpers/tsgw.ts";

const WS = join(FIXTURES, "ws");
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
  describe(`WebSockets on ${rt}`, () => {
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

    for (const [app, echo] of [["express-ws.cjs", "from express"], ["crossws.mjs", "from crossws"]] as const) {
      test(`a reload (HUP) with WebSockets open (${app}): each gets close 1001 before --graceful-timeout ends, and reconnects to the new generation`, async () => {
        await withTsgw(rt, [app, ...LOCAL, "-w", "1", "--graceful-timeout", "3"], async (server) => {
          const sockets = await Promise.all(Array.from({ length: 10 }, () => open(server)));
          await Promise.all(sockets.map((ws) => roundTrip(ws, "before")));
          const codes = Promise.all(sockets.map((ws) => once(ws, "close").then(([code]) => code as number)));
          server.child.kill("SIGHUP");
          assert.deepEqual(await codes, Array(10).fill(1001));
          const again = await open(server);
          assert.equal(String((await roundTrip(again, "after")).data), `echo after ${echo}`);
          await closeCleanly(again);
        }, { cwd: WS });
      });
    }

    for (const [kind, app] of [["fetch app", "test/fixtures/fetch"], ["Node listener", "test/fixtures/express.cjs"]] as const) {
      test(`${kind} without WebSocket handling: a handshake gets 426 and a warning, never the GET route's 200; Upgrade: h2c is an ordinary request`, async () => {
        await withTsgw(rt, [app, ...LOCAL], async (server) => {
          assert.equal(await connect(server, "/"), 426);
          await waitForLog(server, /a WebSocket upgrade for \/ found no WebSocket handler: answered 426/);
          const h2c = await rawSend(
            server.port,
            "GET / HTTP/1.1\r\nhost: x\r\nconnection: Upgrade, HTTP2-Settings, close\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
          ).reply;
          assert.match(h2c, /^HTTP\/1\.1 200/);
        });
      });
    }
  });
}
