/**
 * Where log lines go: "-" (stderr for the error log, stdout for the access
 * log) or a file opened for appending. Every process (master and workers)
 * opens the file itself; O_APPEND keeps their lines whole. Files are
 * reopened on USR1, so logrotate can rename a file and have new lines go to
 * a fresh one (no copytruncate needed).
 *
 * A log that cannot be written (a full disk, a closed pipe) never stops
 * serving: its lines are dropped and counted, the error log says so once,
 * and again, with the count, when the log can be written again.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { describeError, TsgwError } from "../errors.ts";

export interface LogTarget {
  readonly path: string;
  /** unbuffered targets write at once: a line written is a line kept, even if the process exits next */
  write(text: string): void;
  /** write out what a buffered target holds */
  flush(): void;
  reopen(): void;
}

const FLUSH_BYTES = 64 * 1024;

const opened = new Set<LogTarget>();

const atExits: (() => void)[] = [];

/**
 * `write` runs at every way out of a worker: graceful stop, reload, recycle,
 * fast stop (the process's exit), and a serving thread's end (`exiting`:
 * Bun runs no exit handlers in a thread).
 */
export function atExit(write: () => void): void {
  if (atExits.length === 0) process.on("exit", exiting);
  atExits.push(write);
}

/** what is buffered for the logs, written out now: this process or thread is leaving */
export function exiting(): void {
  for (const write of atExits.splice(0)) write();
}

/** Where trouble writing a log is told (the error log, once a logger exists). */
let tellTrouble: (message: string) => void = () => {};

export function onLogTrouble(tell: (message: string) => void): void {
  tellTrouble = tell;
}

const NEWLINE = 10;

const lineCount = (bytes: Uint8Array) => {
  let n = 0;
  for (let i = bytes.indexOf(NEWLINE); i >= 0; i = bytes.indexOf(NEWLINE, i + 1)) n++;
  return n || 1;
};

function openAppend(path: string): number {
  try {
    return openSync(path, "a");
  } catch (err) {
    throw new TsgwError(`cannot open log file ${path}: ${describeError(err)}`);
  }
}

/**
 * Write all of `bytes` now; a non-blocking pipe that is full gets the rest
 * through its stream instead (a copy: the caller reuses its buffer).
 */
function writeAll(fd: number, bytes: Uint8Array, stdio = false): void {
  let buf = bytes;
  try {
    while (buf.length > 0) buf = buf.subarray(writeSync(fd, buf));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EAGAIN" || !stdio) throw err;
    (fd === 1 ? process.stdout : process.stderr).write(Buffer.from(buf));
  }
}

/**
 * `fd` for "-": 1 (stdout) or 2 (stderr). `buffered` (the access log): lines
 * gather in memory and are written at least every second, at 64 KB, before
 * a reopen and when the process exits, so the hot path never waits on a disk.
 */
export function openLogTarget(path: string, fd: 1 | 2, buffered = false): LogTarget {
  let file = path === "-" ? fd : openAppend(path);
  const name = path === "-" ? (fd === 1 ? "stdout" : "stderr") : path;
  let dropped = 0;
  let failing = false;
  const put = (bytes: Uint8Array) => {
    try {
      writeAll(file, bytes, path === "-");
    } catch (err) {
      dropped += lineCount(bytes);
      if (!failing) {
        failing = true; // first, so that telling it through this same log does not come back here
        tellTrouble(`cannot write to log ${name}: ${describeError(err)}; its lines are dropped until it can be written again`);
      }
      return;
    }
    if (failing) {
      failing = false;
      const count = dropped;
      dropped = 0;
      tellTrouble(`log ${name} can be written again; ${count} line${count === 1 ? " was" : "s were"} dropped`);
    }
  };
  // lines are encoded into one buffer as they come: no string is kept, joined or encoded again at a flush
  const pending = buffered ? Buffer.allocUnsafe(FLUSH_BYTES) : undefined;
  let used = 0;
  const flush = () => {
    if (used === 0) return;
    const bytes = pending!.subarray(0, used);
    used = 0;
    put(bytes);
  };
  const target: LogTarget = {
    path,
    write: pending
      ? (text) => {
        // a UTF-8 character is at most 3 bytes per UTF-16 unit
        if (used + text.length * 3 > FLUSH_BYTES) {
          flush();
          if (text.length * 3 > FLUSH_BYTES) return put(Buffer.from(text));
        }
        used += pending.write(text, used);
      }
      : (text) => put(Buffer.from(text)),
    flush,
    reopen() {
      flush(); // lines logged before the signal belong to the old file
      if (path === "-") return;
      const next = openAppend(path);
      const old = file;
      file = next;
      closeSync(old);
    },
  };
  if (buffered) {
    setInterval(flush, 1000).unref();
    atExit(flush);
  }
  opened.add(target);
  return target;
}

/** USR1: reopen every log file this process (or thread) writes; one that cannot be reopened keeps its old file, and `tell` says why. */
export function reopenLogFiles(tell: (message: string) => void): void {
  for (const t of opened) {
    try {
      t.reopen();
    } catch (err) {
      tell(`cannot reopen a log file: ${describeError(err)}`);
    }
  }
}
