/**
 * HTTPS on every runtime, with certificates made by openssl in the test:
 * --certfile/--keyfile on -b listeners, uWSGI's --https beside a plain one,
 * a renewed certificate served after a reload, what a bad client costs, and
 * the one-line errors for bad certificates, keys and passwords.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, writeFileSync } from "node:fs";
import { get as httpsGet } from "node:https";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { once } from "node:events";
import WebSocket from "ws";
import { FIXTURES, oneLine, rawSend, RUNTIMES, runTsgw, type Server, tempDir, waitForLog, withTsgw } from "../helpers/tsgw.ts";

const OPENSSL = ["/usr/bin/openssl", "/bin/openssl"].find((p) => existsSync(p));
const SKIP = OPENSSL ? undefined : "openssl is not installed (apt-get install -y openssl)";
if (SKIP) console.log(`# TLS tests skipped: ${SKIP}`);

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

/** GET over HTTPS, trusting only `ca`. */
function get(port: number, path: string, ca: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    httpsGet({ host: "127.0.0.1", port, path, ca: execFileSync("cat", [ca]), agent: false }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d)).on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).on("error", reject);
  });
}

/** What `openssl s_client` sees: the protocol and the certificate's serial. */
function handshake(port: number): { protocol: string; serial: string } {
  const out = execFileSync(OPENSSL!, ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", "localhost"], {
    encoding: "utf8",
    input: "",
    timeout: 20_000,
    stdio: ["pipe", "pipe", "ignore"],
  });
  const pem = /-----BEGIN CERTIFICATE-----[^]*?-----END CERTIFICATE-----/.exec(out)?.[0] ?? "";
  const serial = execFileSync(OPENSSL!, ["x509", "-noout", "-serial"], { encoding: "utf8", input: pem }).trim().replace(/^serial=/, "");
  return { serial, protocol: /New, (TLSv[\d.]+)/.exec(out)?.[1] ?? out };
}

const portOf = (server: Server, scheme: string) => Number(new RegExp(`Listening at: ${scheme}://127\\.0\\.0\\.1:(\\d+)`).exec(server.logs())![1]);

describe("TLS", { skip: SKIP }, () => {
  let serial = "";
  let renewed = "";
  before(() => {
    serial = makeCert("a");
    renewed = makeCert("b");
    openssl("pkey", "-in", file("a.key"), "-aes256", "-passout", "pass:s3cret", "-out", file("a-enc.key"));
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
    describe(`on ${rt}`, { concurrency: true }, () => {
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

      test("wss://: crossws hooks and Express + ws over TLS", async () => {
        for (const [app, from] of [["crossws.mjs", "crossws"], ["express-ws.cjs", "express"]] as const) {
          await withTsgw(rt, [app, "-b", "127.0.0.1:0", "--certfile", file("a.pem"), "--keyfile", file("a.key")], async (server) => {
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

      test("bad certificates, keys and values: one line naming the file, exit 1, no stack trace", async () => {
        const cases: [string[], RegExp, Record<string, string>?][] = [
          [["--certfile", file("missing.pem"), "--keyfile", file("a.key")], /cannot read the TLS certificate .*missing\.pem: ENOENT/],
          [["--certfile", file("junk.pem"), "--keyfile", file("a.key")], /junk\.pem holds no PEM certificate/],
          [["--certfile", file("a.pem"), "--keyfile", file("b.key")], /the key .*b\.key does not match the certificate .*a\.pem/],
          [["--certfile", file("a.pem"), "--keyfile", file("a-enc.key")], /the key .*a-enc\.key is encrypted: give its password/],
          [["--certfile", file("a.pem"), "--keyfile", file("a-enc.key"), "--keyfile-password", "wrong"], /wrong password for the key .*a-enc\.key/],
          [["--certfile", file("a.pem")], /certfile needs keyfile/],
          [["--https", "127.0.0.1:0,onlycert.pem"], /bad https value "127\.0\.0\.1:0,onlycert\.pem": expected ADDR,CERT,KEY/],
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
