/** Module loading shared by the shims. */
import { pathToFileURL } from "node:url";

export function isTypeScript(file: string): boolean {
  return /\.(c|m)?tsx?$/.test(file);
}

/** import() from a file path, for runtimes that load TypeScript natively. */
export async function importFile(file: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}
