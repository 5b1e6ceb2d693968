/**
 * A request body as a web ReadableStream, pulled from a node stream (an
 * IncomingMessage, or a uwsgi request's body) with backpressure: the source
 * pauses while the app is not reading.
 */
import type { Readable } from "node:stream";

export function bodyStream(source: Readable): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        source.on("data", (chunk: Buffer) => {
          controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          if ((controller.desiredSize ?? 0) <= 0) source.pause();
        });
        source.once("end", () => controller.close());
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
