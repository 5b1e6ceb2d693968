/**
 * Process titles, as ps and top show them: `tsgw: master [NAME]`, `tsgw:
 * worker [NAME]` (Gunicorn's shape), so an operator tells the master from its
 * workers and one app's tsgw from another's. Node writes the title over its
 * command line (as long as that was), Deno sets it whole, Bun leaves its
 * command line as it was.
 */
export function setProcessTitle(role: "master" | "worker", name: string): void {
  try {
    process.title = `tsgw: ${role} [${name}]`;
  } catch {
    // a runtime that refuses it keeps its command line
  }
}
