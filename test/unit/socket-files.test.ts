/** The start lock two masters share (holdWhileStarting), over real abstract unix sockets. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Address } from "../../src/config/address.ts";
import { holdNameNet, holdWhileStarting } from "../../src/runtime/socket-files.ts";

const linux = process.platform === "linux";
const tcp = (port: number): Address => ({ kind: "tcp", host: "127.0.0.1", port });
// a port nothing binds: only the lock's name is made of it
const PORT = 40_000 + (process.pid % 20_000);

test("a second master waits for the first to have bound, then goes on; other ports and port 0 do not wait", {
  skip: !linux && "abstract socket names are Linux's",
}, async () => {
  const first = await holdWhileStarting(
    [tcp(PORT), { kind: "unix", path: `/tmp/x/${"y".repeat(200)}.sock` }],
    holdNameNet,
    1000,
    () => assert.fail("nothing held yet"),
  );
  const said: string[] = [];
  let through = false;
  const second = holdWhileStarting([tcp(0), tcp(PORT)], holdNameNet, 5000, (m) => said.push(m)).then((release) => {
    through = true;
    return release;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(through, false, "waits while the first holds the port");
  assert.deepEqual(said, [`another tsgw master is starting on port ${PORT}: waiting for it to bind first`]);
  (await holdWhileStarting([tcp(PORT + 1)], holdNameNet, 1000, () => assert.fail("another port is free")))();
  first();
  (await second)();
});

test(
  "a master that waits too long gets one line naming the port, and holds nothing after",
  { skip: !linux && "abstract socket names are Linux's" },
  async () => {
    const first = await holdWhileStarting([tcp(PORT + 2), tcp(PORT + 3)], holdNameNet, 1000, () => {});
    await assert.rejects(holdWhileStarting([tcp(PORT + 3)], holdNameNet, 200, () => {}), {
      message: `another tsgw master has been starting on port ${PORT + 3} for 1s; try again once it serves`,
    });
    first();
    (await holdWhileStarting([tcp(PORT + 2), tcp(PORT + 3)], holdNameNet, 200, () => {}))();
  },
);
