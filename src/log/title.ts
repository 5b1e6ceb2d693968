/**
 * Process titles, as ps and top show them: `tsgw: master [NAME]`, `tsgw:
 * worker [NAME]` (Gunicorn's shape), so an operator tells the master from its
 * workers and one app's tsgw from another's. Node writes the title over its
 * command line (as long as that was), Deno sets it whole, Bun leaves its
 * command line as it was. NAME is --name, else the app spec.
 */
export function setProcessTitle(role: "master" | "worker", config: { procName: string | null; app: string | null }): void {
  try {
    process.title = `tsgw: ${role} [${config.procName ?? config.app}]`;
  } catch {
    // a runtime that refuses it keeps its command line
  }
}
