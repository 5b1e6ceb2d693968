/** Module loading shared by the shims (a master's too: TS configs). */
import { pathToFileURL } from "node:url";
import { dynamicImport } from "../dynamic-import.ts";

/** TypeScript or JSX: what Node cannot import by itself */
export function needsTransform(file: string): boolean {
  return /\.(c|m)?tsx?$|\.jsx$/.test(file);
}

/** import() from a file path, for runtimes that load TypeScript natively. */
export async function importFile(file: string): Promise<Record<string, unknown>> {
  return await dynamicImport(pathToFileURL(file).href);
}
