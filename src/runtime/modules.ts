/** Module and file loading shared by the shims. */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { pathToFileURL } from "node:url";

/** TypeScript or JSX: what Node cannot import by itself */
export function needsTransform(file: string): boolean {
  return /\.(c|m)?tsx?$|\.jsx$/.test(file);
}

/** import() from a file path, for runtimes that load TypeScript natively. */
export async function importFile(file: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** Part of a file as a web stream, through node:fs (read ahead in 64 KB chunks). */
export function nodeFileBody(path: string, start: number, end: number): BodyInit {
  return Readable.toWeb(createReadStream(path, { start, end, highWaterMark: 64 * 1024 })) as ReadableStream<Uint8Array>;
}
