/**
 * HTTPS on every runtime, with certificates made by openssl in the test:
 * --certfile/--keyfile on -b listeners, uWSGI's --https beside a plain one,
 * a renewed certificate served after a reload, what a bad client costs, and
 * the one-line errors for bad certificates, keys and passwords.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { connect as http2Connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { once } from "node:events";
import WebSocket from "ws";
import { engineOf, FIXTURES, oneLine, rawSend, RUNTIMES, runTsgw, type Server, systemTool, tempDir, waitForLog, withTsgw } from "../helpers/tsgw.ts";

const { path: OPENSSL, skip: SKIP } = systemTool(["/usr/bin/openssl", "/bin/openssl"], "openssl", "TLS tests");

const dir = tempDir();
const file = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync(OPENSSL!, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

/** A self-signed certificate for 127.0.0.1 and localhost, and its key; returns the certificate's serial. */
function makeCert(name: string, days = "2"): string {
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    file(`${name}.key`),
    "-out",
    file(`${name}.pem`),
    "-days",
    days,
    "-subj",
    "/CN=localhost",
    "-addext",
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
  );
  return openssl("x509", "-in", file(`${name}.pem`), "-noout", "-serial").trim().replace(/^serial=/, "");
}

interface Got {
  status: number;
  body: string;
}

/** GET over HTTPS, trusting only `ca`; `client`: present that certificate (NAME.pem, NAME.key). */
function get(port: number, path: string, ca: string, client?: string): Promise<Got> {
  const mine = client ? { cert: execFileSync("cat", [file(`${client}.pem`)]), key: execFileSync("cat", [file(`${client}.key`)]) } : {};
  return new Promise((resolve, reject) => {
    httpsGet({ host: "127.0.0.1", port, path, ca: execFileSync("cat", [ca]), agent: false, ...mine }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d)).on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

/** GET over HTTP/2 (node:http2's client), trusting only `ca`. */
async function get2(port: number, path: string, ca: string): Promise<Got> {
  const session = http2Connect(`https://127.0.0.1:${port}`, { ca: execFileSync("cat", [ca]) });
  try {
    const stream = session.request({ ":path": path });
    const [headers] = await once(stream, "response");
    let body = "";
    for await (const d of stream) body += d;
    return { status: Number(headers[":status"]), body };
  } finally {
    session.close();
  }
}

/** What `openssl s_client` sees: the protocol, the certificate's serial, the cipher and ALPN's choice. */
function handshake(port: number, ...extra: string[]): { protocol: string; serial: string; cipher: string; alpn: string } {
  // (s_client exits non-zero when the handshake fails, as a cipher nobody shares makes it: its output still says so)
  const out = spawnSync(OPENSSL!, ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost", ...extra], {
    encoding: "utf8",
    input: "",
    timeout: 20_000,
    stdio: ["pipe", "pipe", "ignore"],
  }).stdout;
  const pem = /-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/.exec(out)?.[0];
  const serial = pem ? execFileSync(OPENSSL!, ["x509", "-noout", "-serial"], { encoding: "utf8", input: pem }).trim().replace(/^serial=/, "") : "";
  return {
    serial,
    protocol: /New, (TLSv[\d.]+)/.exec(out)?.[1] ?? out,
    cipher: /Cipher is (\S+)/.exec(out)?.[1] ?? "",
    alpn: /ALPN protocol: (\S+)/.exec(out)?.[1] ?? "none",
  };
}

/** serve `app` over HTTPS with certificate a on a free port */
const httpsArgs = (app: string, ...extra: string[]) => [app, "-b", "127.0.0.1:0", "--certfile", file("a.pem"), "--keyfile", file("a.key"), ...extra];

const portOf = (server: Server, scheme: string) => Number(new RegExp(`Listening at: ${scheme}://127\\.0\\.0\\.1:(\\d+)`).exec(server.logs())![1]);

describe("TLS", { skip: SKIP }, () => {
  let serial = "";
  let renewed = "";
  before(() => {
    serial = makeCert("a");
    renewed = makeCert("b");
    openssl("pkey", "-in", file("a.key"), "-aes256", "-passout", "pass:s3cret", "-out", file("a-enc.key"));
    // mutual TLS: a CA, a client certificate it signed, and a stranger's self-signed one
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", file("ca.key"), "-out", file("ca.pem"), "-days", "2", "-subj", "/CN=test ca");
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", file("client.key"), "-out", file("client.csr"), "-subj", "/CN=client one/O=Acme");
    writeFileSync(file("client.ext"), "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
    openssl(
      "x509",
      "-req",
      "-in",
      file("client.csr"),
      "-CA",
      file("ca.pem"),
      "-CAkey",
      file("ca.key"),
      "-set_serial",
      "0x1234",
      "-days",
      "2",
      "-out",
      file("client.pem"),
      "-extfile",
      file("client.ext"),
    );
    makeCert("stranger");
    writeFileSync(file("junk.pem"), "not a certificate\n");
    // expired: signed by `openssl ca`, the one that takes a start and an end date
    writeFileSync(
      file("ca.cnf"),
      // (with an extension, so it is X.509 v3: Deno's rustls refuses a v1 certificate)
      "[ca]\ndefault_ca = x\n[x]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = p\nx509_extensions = ext\n[p]\ncommonName = supplied\n[ext]\nbasicConstraints = CA:FALSE\n",
    );
    writeFileSync(file("index.txt"), "");
    writeFileSync(file("serial"), "01\n");
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", file("old.key"), "-out", file("old.csr"), "-subj", "/CN=localhost");
    execFileSync(OPENSSL!, [
      "ca",
      "-batch",
      "-config",
      "ca.cnf",
      "-selfsign",
      "-keyfile",
      "old.key",
      "-in",
      "old.csr",
      "-out",
      "old.pem",
      "-startdate",
      "20200101000000Z",
      "-enddate",
      "20200102000000Z",
    ], { cwd: dir, stdio: "ignore" });
  });

  for (const rt of RUNTIMES) {
    // four at a time: each case starts a master, and masters that probe free ports at the same moment can be given
    // the same one (with SO_REUSEPORT, Bun's and Deno's workers would then share it); fewer at once, fewer such draws
    describe(`on ${rt}`, { concurrency: 4 }, () => {
      for (const [kind, app] of [["fetch app", "test/fixtures/fetch"], ["Node listener", "test/fixtures/node-info.mjs"]] as const) {
        test(`${kind}: --certfile/--keyfile serve HTTPS on -b (TLS 1.2+, the request URL says https), and a plain HTTP client or garbage only ends its own connection`, async () => {
          await withTsgw(rt, [app, "-b", "127.0.0.1:0", "-w", "2", "--certfile", file("a.pem"), "--keyfile", file("a.key")], async (server) => {
            const port = portOf(server, "https");
            const hello = await get(port, kind === "fetch app" ? "/info" : "/", file("a.pem"));
            assert.equal(hello.status, 200);
            if (kind === "fetch app") assert.equal(JSON.parse(hello.body).url, `https://127.0.0.1:${port}/info`);
            const seen = handshake(port);
            assert.equal(seen.serial, serial);
            assert.match(seen.protocol, /^TLSv1\.[23]$/);
            // plain HTTP and garbage on the TLS port: that connection closes, the server serves on
            const plain = await rawSend(port, "GET / HTTP/1.1\r\nhost: x\r\n\r\n").reply;
            assert.doesNotMatch(plain, /^HTTP\/1\.1 200/);
            await rawSend(port, Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3])).reply;
            assert.equal((await get(port, "/", file("a.pem"))).status, 200);
          });
        });
      }

      test("--https ADDR,CERT,KEY beside a plain -b listener; an encrypted key with its password from TSGW_KEYFILE_PASSWORD", async () => {
        await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--https", `127.0.0.1:0,${file("a.pem")},${file("a-enc.key")}`], async (server) => {
          assert.match(server.logs(), /Listening at: http:\/\/127\.0\.0\.1:\d+/);
          const port = portOf(server, "https");
          assert.equal((await get(port, "/", file("a.pem"))).body, "hello world");
        }, { env: { TSGW_KEYFILE_PASSWORD: "s3cret" }, listeners: 2 });
      });

      test("wss://: crossws hooks and Express + ws over TLS, also on a listener that offers h2 (WebSockets come over HTTP/1.1)", async () => {
        for (const [app, from, h2] of [["crossws.mjs", "crossws", false], ["express-ws.cjs", "express", false], ["crossws.mjs", "crossws", true]] as const) {
          const protocols = h2 ? ["--http-protocols", "h2,h1"] : [];
          await withTsgw(rt, [app, "-b", "127.0.0.1:0", "--certfile", file("a.pem"), "--keyfile", file("a.key"), ...protocols], async (server) => {
            const ws = new WebSocket(`wss://127.0.0.1:${portOf(server, "https")}/ws`, { ca: execFileSync("cat", [file("a.pem")]) });
            await once(ws, "open");
            ws.send("over tls");
            assert.equal(String((await once(ws, "message"))[0]), `echo over tls from ${from}`);
            ws.close();
            await once(ws, "close");
          }, { cwd: join(FIXTURES, "ws") });
        }
      });

      test("an expired certificate: a warning naming it, and it is served (as nginx does)", async () => {
        await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--certfile", file("old.pem"), "--keyfile", file("old.key")], async (server) => {
          assert.match(server.logs(), /\[WARNING\] .*old\.pem: the certificate expired on 2020-01-02; serving it anyway/);
          assert.equal(handshake(portOf(server, "https")).serial, "01");
        });
      });

      test("a renewed certificate (new files, then a reload) is served by the new generation", async () => {
        const live = tempDir();
        copyFileSync(file("a.pem"), join(live, "cert.pem"));
        copyFileSync(file("a.key"), join(live, "key.pem"));
        await withTsgw(
          rt,
          ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2", "--certfile", join(live, "cert.pem"), "--keyfile", join(live, "key.pem")],
          async (server) => {
            const port = portOf(server, "https");
            assert.equal(handshake(port).serial, serial);
            copyFileSync(file("b.pem"), join(live, "cert.pem"));
            copyFileSync(file("b.key"), join(live, "key.pem"));
            server.child.kill("SIGHUP");
            await waitForLog(server, /Worker exiting[^]*Worker exiting/, 20_000);
            assert.equal(handshake(port).serial, renewed);
            assert.equal((await get(port, "/", file("b.pem"))).status, 200);
          },
        );
      });

      for (const [kind, app] of [["fetch app", "tls/fetch.mjs"], ["Node listener", "tls/node.mjs"]] as const) {
        test(`${kind}: mutual TLS with --ca-certs and --cert-reqs required: a certificate the CA signed is served, its subject in the app and the access log; none or a stranger's is refused`, async () => {
          const args = httpsArgs(app, "-w", "2", "--ca-certs", file("ca.pem"), "--cert-reqs", "2");
          const format = "%(r)s %(s)s dn=%({ssl_client_s_dn}e)s verify=%({ssl_client_verify}e)s";
          await withTsgw(rt, [...args, "--access-log", "-", "--access-log-format", format], async (server) => {
            const port = portOf(server, "https");
            const got = await get(port, "/mine", file("a.pem"), "client");
            assert.equal(got.status, 200);
            const seen = JSON.parse(got.body);
            // Bun.serve verifies client certificates but shows them to no app, nor does Bun's node:https (README, TLS)
            const shown = engineOf(rt) !== "bun";
            const subject = kind === "fetch app" ? seen.tls?.clientSubject : seen.subject;
            assert.equal(subject ?? null, shown ? "O=Acme,CN=client one" : null);
            if (shown && kind === "fetch app") assert.equal(seen.tls.clientSerial, "1234");
            await waitForLog(server, shown ? /GET \/mine HTTP\/1\.1 200 dn=O=Acme,CN=client one verify=SUCCESS/ : /GET \/mine HTTP\/1\.1 200 dn=- verify=-/);
            await assert.rejects(get(port, "/none", file("a.pem")));
            await assert.rejects(get(port, "/stranger", file("a.pem"), "stranger"));
            assert.equal((await get(port, "/again", file("a.pem"), "client")).status, 200);
            assert.doesNotMatch(server.logs(), /\/none|\/stranger/);
          }, { cwd: FIXTURES });
        });

        test(`${kind}: --cert-reqs optional: the app is told whether a certificate was sent and verified (refused on Bun, which cannot tell it)`, async () => {
          const args = httpsArgs(app, "--ca-certs", file("ca.pem"), "--cert-reqs", "optional");
          if (engineOf(rt) === "bun") {
            const r = await runTsgw(rt, args, { cwd: FIXTURES });
            assert.equal(r.code, 1);
            assert.match(oneLine(r.stderr), /Bun's servers cannot tell the app whether a client certificate was verified: use --cert-reqs required/);
            return;
          }
          await withTsgw(rt, [...args, "--access-log", "-", "--access-log-format", "%(U)s %({ssl_client_verify}e)s"], async (server) => {
            const port = portOf(server, "https");
            const read = async (client?: string) => JSON.parse((await get(port, `/${client ?? "none"}`, file("a.pem"), client)).body);
            const [mine, none, stranger] = [await read("client"), await read(), await read("stranger")];
            if (kind === "fetch app") {
              assert.deepEqual([mine.tls.clientVerified, mine.tls.clientSubject], [true, "O=Acme,CN=client one"]);
              assert.deepEqual([none.tls.clientVerified, none.tls.clientSubject], [false, null]);
              assert.deepEqual([stranger.tls.clientVerified, stranger.tls.clientSubject, stranger.tls.clientVerifyError], [
                false,
                "CN=localhost",
                "DEPTH_ZERO_SELF_SIGNED_CERT",
              ]);
            } else {
              assert.deepEqual([mine.authorized, mine.subject, none.subject, stranger.authorized], [true, "O=Acme,CN=client one", null, false]);
            }
            await waitForLog(server, /\/client SUCCESS[^]*\/none NONE[^]*\/stranger FAILED:DEPTH_ZERO_SELF_SIGNED_CERT|\/none NONE/);
            await waitForLog(server, /\/stranger FAILED:DEPTH_ZERO_SELF_SIGNED_CERT/);
          }, { cwd: FIXTURES });
        });

        test(`${kind}: --http-protocols h2,h1: HTTP/2 by ALPN (node:http2's client), HTTP/1.1 kept, %(H)s says which`, async () => {
          const args = [app, "-b", "127.0.0.1:0", "-w", "2", "--certfile", file("a.pem"), "--keyfile", file("a.key"), "--http-protocols", "h2,h1"];
          await withTsgw(rt, [...args, "--access-log", "-", "--access-log-format", "%(U)s %(H)s"], async (server) => {
            const port = portOf(server, "https");
            assert.equal(handshake(port, "-alpn", "h2,http/1.1").alpn, "h2");
            assert.equal(handshake(port, "-alpn", "http/1.1").alpn, "http/1.1");
            const two = await get2(port, "/two?x=1", file("a.pem"));
            assert.equal(two.status, 200);
            const seen = JSON.parse(two.body);
            if (kind === "fetch app") {
              assert.equal(seen.url, `https://127.0.0.1:${port}/two?x=1`);
              assert.deepEqual(seen.pseudo, []);
              // an app's connection: close is HTTP/1's: over HTTP/2 it is left out, with no warning from node:http2
              assert.deepEqual(await get2(port, "/closing", file("a.pem")), { status: 200, body: "bye" });
            } else {
              assert.deepEqual([seen.httpVersion, seen.url, seen.alpn], ["2.0", "/two?x=1", "h2"]);
            }
            assert.equal((await get(port, "/one", file("a.pem"))).status, 200);
            // Bun.serve and Deno.serve do not tell which protocol a request came over: their lines say HTTP/1.1 (README, TLS)
            const native = kind === "fetch app" && engineOf(rt) !== "node";
            await waitForLog(server, native ? /\/two HTTP\/1\.1/ : /\/two HTTP\/2\.0/);
            await waitForLog(server, /\/one HTTP\/1\.1/);
            assert.doesNotMatch(server.logs(), /UnsupportedWarning/);
          }, { cwd: FIXTURES });
        });
      }

      test("HTTP/1.1 only by default (Deno.serve offers h2 whatever it is told), and --ciphers is the cipher list (Deno: refused, rustls takes none)", async () => {
        await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--certfile", file("a.pem"), "--keyfile", file("a.key")], async (server) => {
          assert.equal(handshake(portOf(server, "https"), "-alpn", "h2").alpn, engineOf(rt) === "deno" ? "h2" : "none");
        });
        const ciphers = ["--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"];
        if (engineOf(rt) === "deno") {
          const r = await runTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--certfile", file("a.pem"), "--keyfile", file("a.key"), ...ciphers]);
          assert.equal(r.code, 1);
          assert.match(oneLine(r.stderr), /Deno's TLS \(rustls\) takes no OpenSSL cipher list/);
          return;
        }
        await withTsgw(
          rt,
          ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--certfile", file("a.pem"), "--keyfile", file("a.key"), ...ciphers],
          async (server) => {
            const port = portOf(server, "https");
            assert.equal(handshake(port, "-tls1_2").cipher, "ECDHE-RSA-AES128-GCM-SHA256");
            assert.equal(handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384").cipher, "(NONE)");
          },
        );
      });

      test("--https ADDR,CERT,KEY,CIPHERS,!CA: uWSGI's cipher and required-CA fields on that listener alone", async () => {
        const ciphers = engineOf(rt) === "deno" ? "" : "ECDHE-RSA-AES128-GCM-SHA256";
        const https = `127.0.0.1:0,${file("a.pem")},${file("a.key")},${ciphers},!${file("ca.pem")}`;
        await withTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--https", https], async (server) => {
          const port = portOf(server, "https");
          assert.equal((await get(port, "/", file("a.pem"), "client")).status, 200);
          await assert.rejects(get(port, "/", file("a.pem")));
          if (ciphers) assert.equal(handshake(port, "-tls1_2", "-cert", file("client.pem"), "-key", file("client.key")).cipher, ciphers);
        }, { listeners: 2 });
      });

      test("a stalled TLS handshake holds only its own connection (closed after header-timeout by node:https, Bun's idle timeout; Deno.serve keeps it)", async () => {
        await withTsgw(
          rt,
          ["test/fixtures/fetch", "-b", "127.0.0.1:0", "--certfile", file("a.pem"), "--keyfile", file("a.key"), "--header-timeout", "2"],
          async (server) => {
            const port = portOf(server, "https");
            const stalled = [Buffer.alloc(0), Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])].map((bytes) => {
              const sock = netConnect(port, "127.0.0.1", () => bytes.length && sock.write(bytes));
              sock.on("error", () => {});
              return sock;
            });
            assert.equal((await get(port, "/", file("a.pem"))).status, 200);
            if (engineOf(rt) === "deno") {
              // Deno.serve has no handshake timeout (README, TLS): the worker serves on beside them
              await new Promise((r) => setTimeout(r, 3000));
              assert.equal((await get(port, "/", file("a.pem"))).status, 200);
              for (const sock of stalled) sock.destroy();
              return;
            }
            await Promise.all(stalled.map((sock) => (sock.closed ? undefined : once(sock, "close"))));
            assert.equal((await get(port, "/", file("a.pem"))).status, 200);
          },
        );
      });

      test("a renewed certificate under load: every request answered across the swap and the reload, the new serial served", async () => {
        const live = tempDir();
        copyFileSync(file("a.pem"), join(live, "cert.pem"));
        copyFileSync(file("a.key"), join(live, "key.pem"));
        const args = ["test/fixtures/fetch", "-b", "127.0.0.1:0", "-w", "2", "--certfile", join(live, "cert.pem"), "--keyfile", join(live, "key.pem")];
        await withTsgw(rt, args, async (server) => {
          const port = portOf(server, "https");
          // a new connection (a full handshake) per request, four at a time, until the new generation serves
          let done = false;
          let served = 0;
          const failures: string[] = [];
          const ca = Buffer.concat([execFileSync("cat", [file("a.pem")]), execFileSync("cat", [file("b.pem")])]);
          const one = () =>
            new Promise<void>((resolve) => {
              httpsGet({ host: "127.0.0.1", port, path: "/", ca, agent: false }, (res) => {
                res.resume().on("end", () => (res.statusCode === 200 ? served++ : failures.push(`status ${res.statusCode}`), resolve()));
              }).on("error", (err) => (failures.push(err.message), resolve()));
            });
          const loop = async () => {
            while (!done) await one();
          };
          const loops = [loop(), loop(), loop(), loop()];
          await new Promise((r) => setTimeout(r, 500));
          copyFileSync(file("b.pem"), join(live, "cert.pem"));
          copyFileSync(file("b.key"), join(live, "key.pem"));
          server.child.kill("SIGHUP");
          await waitForLog(server, /Worker exiting[^]*Worker exiting/, 20_000);
          await new Promise((r) => setTimeout(r, 500));
          done = true;
          await Promise.all(loops);
          if (engineOf(rt) === "deno") {
            // Deno.serve's shutdown drops the handshakes it is in the middle of (README, TLS): a few connections
            // close before any request was sent on them, which a client may safely retry
            assert.ok(failures.every((f) => /socket hang up|ECONNRESET/.test(f)), failures.join("; "));
            assert.ok(failures.length <= (served + failures.length) * 0.05, `${failures.length} failed of ${served + failures.length}`);
          } else {
            assert.deepEqual(failures, [], `${failures.length} failed of ${served + failures.length}`);
          }
          assert.ok(served > 10, `only ${served} requests`);
          assert.equal(handshake(port).serial, renewed);
        });
      });

      test("bad certificates, keys and values: one line naming the file, exit 1, no stack trace", async () => {
        const cases: [string[], RegExp, Record<string, string>?][] = [
          [["--certfile", file("missing.pem"), "--keyfile", file("a.key")], /cannot read the TLS certificate .*missing\.pem: ENOENT/],
          [["--certfile", file("junk.pem"), "--keyfile", file("a.key")], /junk\.pem holds no PEM certificate/],
          [["--certfile", file("a.pem"), "--keyfile", file("b.key")], /the key .*b\.key does not match the certificate .*a\.pem/],
          [["--certfile", file("a.pem"), "--keyfile", file("a-enc.key")], /the key .*a-enc\.key is encrypted: give its password/],
          [["--certfile", file("a.pem"), "--keyfile", file("a-enc.key"), "--keyfile-password", "wrong"], /wrong password for the key .*a-enc\.key/],
          [["--certfile", file("a.pem")], /certfile needs keyfile/],
          [["--https", "127.0.0.1:0,onlycert.pem"], /bad https value "127\.0\.0\.1:0,onlycert\.pem": expected ADDR,CERT,KEY\[,CIPHERS\[,CA\]\]/],
          [["--certfile", file("a.pem"), "--keyfile", file("a.key"), "--cert-reqs", "required"], /cert-reqs required needs ca-certs/],
          [
            ["--certfile", file("a.pem"), "--keyfile", file("a.key"), "--cert-reqs", "2", "--ca-certs", file("junk.pem")],
            /junk\.pem holds no PEM certificate \(the CA certificates/,
          ],
          [["--certfile", file("a.pem"), "--keyfile", file("a.key"), "--cert-reqs", "sometimes"], /cert-reqs/],
          [["--certfile", file("a.pem"), "--keyfile", file("a.key"), "--http-protocols", "h3"], /http-protocols: unknown protocol "h3"/],
        ];
        for (const [args, expected] of cases) {
          const r = await runTsgw(rt, ["test/fixtures/fetch", "-b", "127.0.0.1:0", ...args]);
          assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
          assert.match(oneLine(r.stderr), expected);
        }
      });
    });
  }
});
