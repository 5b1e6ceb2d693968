/**
 * Small helper threads (the worker's lifeline): code the main thread's loop
 * cannot block. Node has node:worker_threads; Bun and Deno have web Workers,
 * which cost less there (Bun: 7 MB vs 14 MB with `smol`) and, on Deno, are
 * the only kind a node:cluster worker can start (its node:worker_threads
 * threads try to join the cluster and die).
 */
import type { ServingThread, ServingThreadEvents, ThreadBody } from "./types.ts";
import { dynamicImport } from "../dynamic-import.ts";

/** `body`'s source, called in the thread with its data, a way to post back, the live parent pid and a way to die. */
const call = (body: ThreadBody, data: string, post: string, ppid: string, die: string) => `(${body.toString()})(${data}, ${post}, ${ppid}, ${die});`;

export async function nodeThread(body: ThreadBody, data: unknown, onMessage: (m: unknown) => void): Promise<void> {
  const { Worker } = await dynamicImport<typeof import("node:worker_threads")>("node:worker_threads");
  const code = `const { workerData, parentPort } = require("node:worker_threads");
${call(body, "workerData", "(m) => parentPort.postMessage(m)", "() => process.ppid", '() => process.kill(process.pid, "SIGKILL")')}`;
  const thread = new Worker(code, { eval: true, workerData: data, stdout: false, stderr: false });
  thread.on("message", onMessage);
  thread.on("error", () => {});
  thread.unref();
}

/** A web Worker from source text; `ppid` and `die` are expressions in the thread's runtime. */
export async function webThread(
  body: ThreadBody,
  data: unknown,
  onMessage: (m: unknown) => void,
  ppid: string,
  die: string,
  options: object = {},
): Promise<void> {
  const code = `self.onmessage = (e) => { self.onmessage = null; ${call(body, "e.data", "(m) => postMessage(m)", ppid, die)} };`;
  const thread = new Worker(`data:application/javascript,${encodeURIComponent(code)}`, { type: "module", ...options });
  thread.onmessage = (e: MessageEvent) => onMessage(e.data);
  thread.onerror = (e: Event) => e.preventDefault();
  (thread as { unref?: () => void }).unref?.();
  thread.postMessage(data);
}

/**
 * Serving threads (--threads): this program's own entry again, in a web
 * Worker, with the app loaded there and its own event loop. A small module
 * from source text puts the thread's data where `servingThreadData` finds
 * it, then imports the entry: a binary or bundle starts itself, a source
 * entry exports `main`. No runtime is asked which it is: Bun and Deno both
 * give workers the web API used here.
 */
const THREAD_DATA = Symbol.for("tsgw.serving-thread");

/** In a serving thread: what the process's main thread started it with; undefined anywhere else. */
export function servingThreadData(): unknown {
  return (globalThis as { [THREAD_DATA]?: unknown })[THREAD_DATA];
}

/** `entry`: the module the process started from, as a path or URL the thread can import. */
export function startServingThread(entry: string, data: unknown, events: ServingThreadEvents): ServingThread {
  const code = `self.onmessage = async (e) => {
  self.onmessage = null;
  globalThis[Symbol.for(${JSON.stringify(THREAD_DATA.description)})] = e.data;
  const m = await import(${JSON.stringify(entry)});
  if (typeof m.main === "function") await m.main([]);
};`;
  const thread = new Worker(`data:application/javascript,${encodeURIComponent(code)}`, { type: "module" });
  thread.onmessage = (e: MessageEvent) => events.onMessage(e.data);
  thread.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    events.onEnd(`it failed: ${e.message}`);
  };
  thread.addEventListener("close", () => events.onEnd("it ended"));
  thread.postMessage(data);
  return { post: (m) => thread.postMessage(m), terminate: () => thread.terminate() };
}

/** In a serving thread: its way to the main thread. */
export function threadChannel(onMessage: (message: unknown) => void): (message: unknown) => void {
  const scope = globalThis as unknown as { postMessage(m: unknown): void; addEventListener(t: string, l: (e: MessageEvent) => void): void };
  scope.addEventListener("message", (e) => onMessage(e.data));
  return (m) => scope.postMessage(m);
}
