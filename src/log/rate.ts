/** `report`, at most once per `ms`: a fault that repeats with every connection (EMFILE) gets one line and a count. */
export function rateLimited(report: (message: string) => void, ms: number): (message: string) => void {
  let last = 0;
  let quiet = 0;
  return (message) => {
    const now = Date.now();
    if (now - last < ms) return void quiet++;
    report(quiet ? `${message} (and ${quiet} more in the last ${Math.round((now - last) / 1000)}s)` : message);
    last = now;
    quiet = 0;
  };
}
