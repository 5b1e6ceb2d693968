/**
 * Errors meant for the operator: printed as one line (no stack) and mapped to
 * Gunicorn's exit codes so init scripts can tell failures apart.
 */
export const EXIT = {
  ok: 0,
  usage: 1, // bad flag, config key, value, pidfile; cannot bind
  workerBoot: 3,
  appLoad: 4,
} as const;

export class TsgwError extends Error {
  constructor(message: string, readonly exitCode: number = EXIT.usage) {
    super(message);
    this.name = "TsgwError";
  }
}

/** A configuration problem; `where` is "file:line", "command line", ... */
export class ConfigError extends TsgwError {
  constructor(message: string, where?: string) {
    super(where ? `${where}: ${message}` : message, EXIT.usage);
    this.name = "ConfigError";
  }
}

export class AppLoadError extends TsgwError {
  constructor(message: string) {
    super(message, EXIT.appLoad);
    this.name = "AppLoadError";
  }
}

/** The shortest readable description of something thrown by user code. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name === "Error" ? "" : err.name + ": "}${err.message}`;
  return String(err);
}
