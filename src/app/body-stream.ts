/**
 * Body streams between a node stream and the web: a request body pulled from
 * node, and a response body's chunks made bytes.
 */
import type { BodySource } from "./bridge.ts";

/**
 * A request body as a web ReadableStream, pulled from a node stream (an
 * IncomingMessage, or a uwsgi request's body) with backpressure: the source
 * pauses while the app is not reading.
 */
export function bodyStream(source: BodySource): ReadableStream<Uint8Array> {
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

/**
 * A chunk as bytes. Bun's server takes string chunks (Elysia's generator
 * routes, `controller.enqueue("text")`) as UTF-8, so tsgw does too; anything
 * else that is not bytes cannot be sent, and the response fails (a 500 if
 * nothing went out yet, else a cut connection).
 */
export function chunkBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`a response body chunk must be bytes or a string, got ${chunk === null ? "null" : typeof chunk}`);
}

/**
 * A response body stream whose string chunks become UTF-8 bytes, for a server
 * that takes bytes only (Deno.serve sends an empty 200 for a string chunk).
 * A chunk that is neither fails the stream, which cuts the response.
 */
export function bytesOnly(body: ReadableStream, onError: (message: string) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await reader.read();
      if (next.done) return controller.close();
      try {
        controller.enqueue(chunkBytes(next.value));
      } catch (err) {
        onError(`response body cut: ${(err as Error).message}`);
        reader.cancel(err).catch(() => {});
        controller.error(err);
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
