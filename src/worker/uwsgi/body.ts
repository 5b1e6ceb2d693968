/** A uwsgi request's body: how long it is, feeding it in with backpressure and a stall clock, and closing after the answer. */
import { Readable } from "node:stream";
import type { RequestParts } from "../../protocol/uwsgi.ts";
import type { StreamSocket } from "../../runtime/types.ts";

/** Body bytes to read after the vars: none for GET and HEAD, whatever CONTENT_LENGTH says */
export function bodyLength({ method, contentLength }: RequestParts): number {
  return method === "GET" || method === "HEAD" ? 0 : contentLength;
}

/**
 * A uwsgi request's body: the bytes that came with the vars, then the
 * socket's, up to CONTENT_LENGTH, with backpressure; an error when the peer
 * closes before all of it came.
 */
export function bodyOf(source: StreamSocket, first: Uint8Array, length: number, whole: () => void, stall: BodyStall): Readable {
  return feedBody(new Readable(), source, first, length, whole, stall);
}

/** How long a body may stall, and what to do when it does. */
export interface BodyStall {
  ms: number;
  onStall: () => void;
}

/**
 * Push the body into `body`, a Readable whose reads resume `source` (what
 * node:http's parser does for its sockets); `whole` runs before its end.
 * While the app waits for body bytes (the source flowing), the peer may be
 * silent for at most `stall.ms`; while the app is not reading (the source
 * paused for backpressure) no clock runs.
 */
export function feedBody<R extends Readable>(body: R, source: StreamSocket, first: Uint8Array, length: number, whole: () => void, stall: BodyStall): R {
  let left = length;
  const watch = (on: boolean) => stall.ms > 0 && source.setTimeout(on ? stall.ms : 0);
  // reading resumes the source, and the stall clock with it
  body._read = () => {
    if (left > 0) watch(true);
    source.resume();
  };
  if (left === 0) {
    whole();
    body.push(null);
    return body;
  }
  const cut = () => left > 0 && body.destroy(new Error(`the peer closed with ${left} body bytes unsent`));
  const take = (bytes: Uint8Array): void => {
    const piece = bytes.length > left ? bytes.subarray(0, left) : bytes;
    left -= piece.length;
    const more = body.push(piece);
    if (left === 0) {
      source.off("data", take);
      watch(false);
      whole();
      body.push(null);
    } else if (!more) {
      source.pause();
      watch(false);
    }
  };
  if (first.length) take(first);
  if (left > 0) {
    source.on("data", take);
    source.once("end", cut);
    source.once("close", cut);
    if (stall.ms > 0) {
      source.on("timeout", () => left > 0 && stall.onStall());
      watch(true);
    }
  }
  return body;
}

/**
 * The response is out: close the connection. When all the peer sent was
 * read, at once (no half-close round trip); otherwise the unread rest is
 * drained to nowhere and the connection half-closed, so nginx never sees a
 * reset.
 */
export function closeAfterResponse(socket: StreamSocket, allRead: boolean): void {
  if (allRead && socket.endAndClose) socket.endAndClose();
  else {
    socket.removeAllListeners("data");
    socket.resume();
    socket.end();
  }
}
