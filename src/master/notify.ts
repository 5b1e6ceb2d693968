/**
 * systemd's notify protocol (Type=notify): READY=1 once the first
 * generation serves, RELOADING=1 and READY=1 around a reload, STOPPING=1,
 * STATUS= lines a person can read, WATCHDOG=1 at half of WATCHDOG_USEC
 * while the master's loop runs. Sent through systemd's own systemd-notify,
 * since NOTIFY_SOCKET is a unix datagram socket and node:dgram speaks only
 * UDP; it handles path and abstract (@) sockets alike. systemd accepts its
 * messages with NotifyAccess=all (docs/systemd.md), or as the main PID's
 * when tsgw runs as root (systemd-notify then sends with its parent's
 * credentials).
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

const TOOL = ["/usr/bin/systemd-notify", "/bin/systemd-notify", "/usr/local/bin/systemd-notify"].find(existsSync);

export class SystemdNotifier {
  private queue: Promise<void> = Promise.resolve();
  private watchdog?: NodeJS.Timeout;

  private constructor(private readonly onProblem: (m: string) => void) {}

  /** A notifier when systemd asked for one (NOTIFY_SOCKET), else undefined; a missing systemd-notify is said once. */
  static fromEnv(env: Record<string, string | undefined>, onProblem: (m: string) => void): SystemdNotifier | undefined {
    if (!env.NOTIFY_SOCKET) return undefined;
    if (!TOOL) {
      onProblem(
        "NOTIFY_SOCKET is set but systemd-notify is not installed: systemd will not hear that tsgw is ready (install systemd's tools, or use Type=simple)",
      );
      return undefined;
    }
    return new SystemdNotifier(onProblem);
  }

  /** send these assignments, in order after the ones before */
  private send(...fields: string[]): Promise<void> {
    return this.sendFor(process.pid, fields);
  }

  /** `pid`: the main process systemd is to watch (MAINPID=) */
  private sendFor(pid: number, fields: string[]): Promise<void> {
    this.queue = this.queue.then(() =>
      new Promise<void>((resolve) => {
        const child = spawn(TOOL!, [`--pid=${pid}`, ...fields], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        child.stderr.on("data", (d) => (err += d));
        child.on("error", (e) => (this.onProblem(`systemd-notify: ${e.message}`), resolve()));
        child.on("close", (code) => (code ? this.onProblem(`systemd-notify ${fields[0]} failed: ${err.trim() || `exit ${code}`}`) : undefined, resolve()));
      })
    );
    return this.queue;
  }

  ready(status: string): Promise<void> {
    return this.send("READY=1", `STATUS=${status}`);
  }

  /** a reload begins: MONOTONIC_USEC is CLOCK_MONOTONIC, which process.hrtime reads */
  reloading(): Promise<void> {
    return this.send("RELOADING=1", `MONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`, "STATUS=reloading");
  }

  stopping(): Promise<void> {
    return this.send("STOPPING=1", "STATUS=stopping");
  }

  /** another master serves in this one's place (USR2): systemd is to watch it, and this one feeds the watchdog no more */
  handOver(pid: number): Promise<void> {
    clearInterval(this.watchdog);
    return this.sendFor(pid, [`STATUS=upgraded: master ${pid} serves`]);
  }

  status(text: string): Promise<void> {
    return this.send(`STATUS=${text}`);
  }

  /**
   * WATCHDOG=1 at half of WATCHDOG_USEC (for this process: WATCHDOG_PID),
   * each time `healthy()` says the master's loop is turning.
   */
  startWatchdog(env: Record<string, string | undefined>, healthy: () => boolean): void {
    const usec = Number(env.WATCHDOG_USEC);
    if (!(usec > 0) || (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid)) return;
    this.watchdog = setInterval(() => healthy() && void this.send("WATCHDOG=1"), Math.max(100, usec / 2000));
    this.watchdog.unref();
  }

  close(): Promise<void> {
    clearInterval(this.watchdog);
    return this.queue;
  }
}
