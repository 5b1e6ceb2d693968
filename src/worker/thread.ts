/**
 * A serving thread (--threads): it loads the app and serves the worker's
 * ports as a worker process would, and reports to its process's main thread
 * (thread-pool.ts) instead of the master. Signals, the lifeline to the
 * master, resident memory and dropping root are the process's: the main
 * thread has them.
 */
import { createLogger } from "../log/logger.ts";
import { exiting, reopenLogFiles } from "../log/files.ts";
import type { ThreadCommand, ThreadMessage } from "../protocol/worker.ts";
import { threadChannel } from "../runtime/threads.ts";
import type { Runtime } from "../runtime/types.ts";
import { beatInterval, bootFailure, retireOnce, serveHere, workerConfig } from "./main.ts";
import { gracefulStop, type Stop } from "./serve.ts";
import type { ThreadData } from "./thread-pool.ts";

export async function runThread(runtime: Runtime, data: ThreadData): Promise<void> {
  const id = data.thread;
  let stop: Stop | undefined;
  let log = createLogger("info");
  const post = threadChannel((m) => {
    const command = m as ThreadCommand;
    if (command.tsgw === "reopen") reopenLogFiles((m) => log.error(m));
    // a stop before it serves: the main thread terminates it
    else if (command.tsgw === "stop") void stop?.(command.graceful, "told by the worker's main thread");
  }) as (m: ThreadMessage) => void;
  try {
    const resolved = await workerConfig(runtime, data.argv, data.setup, data.cwd);
    const { config } = resolved;
    log = createLogger(config.logLevel, config.errorLog);
    const retire = retireOnce(post, id);
    const serving = await serveHere(runtime, resolved, data.setup, data.appCwd, log, retire, id);
    post({ tsgw: "ready", id, urls: serving.urls });
    setInterval(() => post({ tsgw: "beat", id, rss: 0, ...serving.figures() }), beatInterval(config.timeout)).unref();
    stop = gracefulStop(serving.servers, log, {
      gracefulTimeout: config.gracefulTimeout,
      app: serving.app,
      exit: () => {
        exiting();
        post({ tsgw: "stopped", id, ...serving.figures() });
      },
    });
  } catch (err) {
    post({ tsgw: "boot-error", id, ...bootFailure(err) });
  }
}
