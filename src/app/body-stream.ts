/**
 * A request body as a web ReadableStream, pulled from a node stream (an
 * IncomingMessage, or a uwsgi socket) with backpressure: the source pauses
 * while the app is not reading.
 */
import type { Readable } from "node:stream";

export interface BodyLimits {
  /** bytes that arrived before the body was handed over (after a uwsgi vars block) */
  first?: Uint8Array;
  /** the body's exact length (CONTENT_LENGTH); the source ending earlier is an error */
  length?: number;
}

export function bodyStream(source: Readable, { first, length = Infinity }: BodyLimits = {}): ReadableStream<Uint8Array> {
  let left = length;
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const push = (bytes: Uint8Array) => {
          const piece = bytes.length > left ? bytes.subarray(0, left) : bytes;
          left -= piece.length;
          controller.enqueue(piece);
          if (left === 0) {
            source.off("data", onData);
            controller.close();
          } else if ((controller.desiredSize ?? 0) <= 0) source.pause();
        };
        const onData = (chunk: Buffer) => push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if (first?.length) push(first);
        if (left === 0) return;
        source.on("data", onData);
        source.once("end", () => {
          if (left === Infinity) controller.close();
          else if (left > 0) controller.error(new Error(`the peer closed with ${left} body bytes unsent`));
        });
        source.once("error", (err) => controller.error(err));
      },
      pull() {
        source.resume();
      },
      cancel() {
        source.destroy();
      },
    },
    { highWaterMark: 65536, size: (c) => c?.byteLength ?? 0 },
  );
}
