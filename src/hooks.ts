/**
 * Server hooks from the TS config (Gunicorn's server hooks). A hook may be
 * async; one that throws is logged and the server carries on.
 */
import type { HookName } from "./config/settings.ts";
import type { Config } from "./config/types.ts";
import { describeError } from "./errors.ts";
import type { Logger } from "./log/logger.ts";

/** What hooks receive as `server`. */
export interface ServerInfo {
  pid: number;
  generation: number;
  workers: number;
  config: Config;
}

/** What hooks receive as `worker`. */
export interface WorkerInfo {
  id: number;
  pid: number;
  generation: number;
  /** with --threads: which of the worker's serving threads (postWorkerInit runs in each, as each loads the app) */
  thread?: number;
}

export async function runHook(config: Config, name: HookName, log: Logger, ...args: unknown[]): Promise<void> {
  const hook = config[name];
  if (!hook) return;
  try {
    await hook(...args);
  } catch (err) {
    log.error(`${name} hook failed: ${describeError(err)}`);
  }
}
