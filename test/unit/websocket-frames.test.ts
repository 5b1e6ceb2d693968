import assert from "node:assert/strict";
import { test } from "node:test";
import { MessageCounter } from "../../src/protocol/websocket-frames.ts";

const frame = (first: number, payload: number, masked: boolean) => {
  const len = payload < 126
    ? [payload]
    : payload < 65536
    ? [126, payload >> 8, payload & 255]
    : [127, 0, 0, 0, 0, (payload >>> 24) & 255, (payload >> 16) & 255, (payload >> 8) & 255, payload & 255];
  len[0] = len[0]! | (masked ? 0x80 : 0);
  return Buffer.concat([Buffer.from([first, ...len]), Buffer.alloc(masked ? 4 : 0, 9), Buffer.alloc(payload, 0x81)]);
};

test("MessageCounter counts whole messages in a stream cut anywhere: fragments once, control frames never, all three length forms", () => {
  const stream = Buffer.concat([
    frame(0x81, 5, true), // text
    frame(0x02, 200, true), // binary, not final
    frame(0x89, 0, true), // a ping between the fragments
    frame(0x80, 70_000, true), // its final continuation
    frame(0x82, 3, false), // a server's unmasked binary
    frame(0x88, 2, false), // close
  ]);
  for (const cut of [1, 2, 3, 7, 100, stream.length]) {
    const counter = new MessageCounter();
    let messages = 0;
    for (let i = 0; i < stream.length; i += cut) messages += counter.feed(stream.subarray(i, i + cut));
    assert.equal(messages, 3, `pieces of ${cut}`);
  }
});
