/** Files as response bodies through node:fs, shared by the shims' servers and static files (never loaded by a master). */
import { closeSync, createReadStream, openSync, readSync } from "node:fs";
import { Readable } from "node:stream";

/** files (or ranges) up to this size are read at once and sent in one write (a stream costs more than the read); larger ones stream */
export const SMALL = 64 * 1024;

/** Up to SMALL bytes of a file, read at once. */
export function readSmall(path: string, start: number, end: number): Uint8Array {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.allocUnsafe(end - start + 1);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, start + got);
      if (n === 0) break;
      got += n;
    }
    return got === buf.length ? buf : buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Part of a file through node:fs: read at once when small, else a web stream read ahead in 64 KB chunks. */
export function nodeFileBody(path: string, start: number, end: number): BodyInit {
  if (end - start + 1 <= SMALL) return readSmall(path, start, end) as Uint8Array<ArrayBuffer>;
  return Readable.toWeb(createReadStream(path, { start, end, highWaterMark: SMALL })) as ReadableStream<Uint8Array>;
}
