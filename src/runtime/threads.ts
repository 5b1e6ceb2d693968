/**
 * Small helper threads (the worker's lifeline): code the main thread's loop
 * cannot block. Node has node:worker_threads; Bun and Deno have web Workers,
 * which cost less there (Bun: 7 MB vs 14 MB with `smol`) and, on Deno, are
 * the only kind a node:cluster worker can start (its node:worker_threads
 * threads try to join the cluster and die).
 */
import type { ThreadBody } from "./types.ts";

/** `body`'s source, called in the thread with its data, a way to post back, the live parent pid and a way to die. */
const call = (body: ThreadBody, data: string, post: string, ppid: string, die: string) => `(${body.toString()})(${data}, ${post}, ${ppid}, ${die});`;

export async function nodeThread(body: ThreadBody, data: unknown, onMessage: (m: unknown) => void): Promise<void> {
  const { Worker } = await import("node:worker_threads");
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
