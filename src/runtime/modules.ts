/** File kinds, shared by the shims. */
export function isTypeScript(file: string): boolean {
  return /\.(c|m)?tsx?$/.test(file);
}
