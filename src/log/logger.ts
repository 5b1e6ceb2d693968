/**
 * Human-facing log lines of the CLI and the server, through consola, in
 * Gunicorn's shape so operators' tools read them:
 *   [2026-11-25 17:00:00 +0000] [1234] [INFO] Listening at: http://127.0.0.1:8000
 * Plain text, no colours or boxes: the same line on a terminal, in a log file
 * or under an init system.
 */
import { type ConsolaInstance, createConsola, type LogObject } from "consola/core";
import { onLogTrouble, openLogTarget } from "./files.ts";

export type LogLevelName = "debug" | "info" | "warning" | "error" | "critical";

const LEVELS: Record<LogLevelName, number> = { critical: 0, error: 0, warning: 1, info: 3, debug: 4 };
const LABELS: Record<string, string> = {
  fatal: "CRITICAL",
  error: "ERROR",
  warn: "WARNING",
  info: "INFO",
  success: "INFO",
  ready: "INFO",
  start: "INFO",
  log: "INFO",
  debug: "DEBUG",
  trace: "DEBUG",
  verbose: "DEBUG",
};

function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** tsgw logs whole sentences; node:util's format is not loaded for them (it costs every worker start) */
function text(arg: unknown): string {
  return typeof arg === "string" ? arg : arg instanceof Error ? (arg.stack ?? arg.message) : String(arg);
}

/** `errorLog`: a file, or "-" for stderr (the error-log setting). */
export function createLogger(level: LogLevelName = "info", errorLog = "-"): ConsolaInstance {
  const out = openLogTarget(errorLog, 2);
  const logger = createConsola({
    level: LEVELS[level],
    reporters: [
      {
        log(obj: LogObject) {
          out.write(`[${stamp(obj.date)}] [${process.pid}] [${LABELS[obj.type] ?? "INFO"}] ${obj.args.map(text).join(" ")}\n`);
        },
      },
    ],
  });
  onLogTrouble((m) => logger.error(m));
  return logger;
}

export type Logger = ConsolaInstance;
